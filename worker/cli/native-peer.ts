/**
 * The native peer of the WASM backend for benchmarks: the same ONNX graphs of a
 * package, fed tensors of the same shapes, on onnxruntime-node's CPU execution provider.
 * Only the benchmark uses this; the engine itself knows onnxruntime only through ort-backend.ts.
 */
import type { GraphFile } from '../engine/graph-file.js';
import type { Sd3Package } from '../engine/sd3/package.js';
import { conditioningSequenceLength, encoderSequenceLength } from '../engine/sd3/prompt-tokenizers.js';

type OrtNode = typeof import('onnxruntime-node');
type NodeSession = import('onnxruntime-node').InferenceSession;

export interface NativeTimings {
  sessionCreateMs: number;
  textEncodeMs: number;
  denoiseStepMs: number[];
  vaeDecodeMs: number;
}

let ortNode: OrtNode | undefined;

/** Loads onnxruntime-node (its native binary ships in node_modules/onnxruntime-node/bin). */
export async function loadNativeOrtAsync(): Promise<OrtNode> {
  if (!ortNode) {
    const module = (await import('onnxruntime-node')) as OrtNode & { default?: OrtNode };
    ortNode = module.default ?? module;
  }
  return ortNode;
}

type NodeSessionOptions = import('onnxruntime-node').InferenceSession.SessionOptions;

/** A session on the CPU EP with the settings every native measurement uses; `extra` adds options (e.g. profiling). */
export async function createNativeSessionAsync(
  graph: Pick<GraphFile, 'model' | 'externalData'>,
  threads: number,
  extra: Partial<NodeSessionOptions> & { profileFilePrefix?: string } = {},
): Promise<NodeSession> {
  const ort = await loadNativeOrtAsync();
  return ort.InferenceSession.create(graph.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    externalData: graph.externalData.map((file) => ({ path: file.path, data: file.data })),
    ...extra,
  } as NodeSessionOptions);
}

/**
 * One generation's worth of graph runs on the native CPU EP: text encoders (once per prompt row),
 * `steps` transformer calls at batch 2 with CFG, one VAE decode. Inputs are deterministic dummies
 * of the exact shapes the engine feeds; only the time matters here.
 */
export async function runNativePeerAsync(
  pkg: Sd3Package,
  size: { width: number; height: number },
  steps: number,
  cfg: boolean,
  threads: number,
): Promise<NativeTimings> {
  const ort = await loadNativeOrtAsync();
  const { Tensor } = ort;
  let mark = performance.now();
  const textSessions = [];
  for (const encoder of pkg.textEncoders) textSessions.push({ encoder, session: await createNativeSessionAsync(encoder.graph, threads) });
  const transformer = await createNativeSessionAsync(pkg.transformer.graph, threads);
  const vae = await createNativeSessionAsync(pkg.vaeDecoder.graph, threads);
  const sessionCreateMs = performance.now() - mark;

  const batch = cfg ? 2 : 1;
  mark = performance.now();
  for (const { encoder, session } of textSessions) {
    const length = encoderSequenceLength(pkg, encoder);
    for (let row = 0; row < batch; row++) {
      const ids = new BigInt64Array(length).fill(1n);
      await session.run({ input_ids: new Tensor('int64', ids, [1, length]) });
    }
  }
  const textEncodeMs = performance.now() - mark;

  const config = pkg.transformer.config;
  const { vaeScaleFactor } = pkg.geometry;
  const h = size.height / vaeScaleFactor;
  const w = size.width / vaeScaleFactor;
  const sequence = conditioningSequenceLength(pkg);
  const latents = new Float32Array(batch * config.in_channels * h * w).fill(0.1);
  const embeds = new Float32Array(batch * sequence * config.joint_attention_dim).fill(0.01);
  const pooled = new Float32Array(batch * config.pooled_projection_dim).fill(0.01);
  const denoiseStepMs: number[] = [];
  for (let i = 0; i < steps; i++) {
    mark = performance.now();
    await transformer.run({
      hidden_states: new Tensor('float32', latents, [batch, config.in_channels, h, w]),
      timestep: new Tensor('float32', new Float32Array(batch).fill(1000 - i), [batch]),
      encoder_hidden_states: new Tensor('float32', embeds, [batch, sequence, config.joint_attention_dim]),
      pooled_projections: new Tensor('float32', pooled, [batch, config.pooled_projection_dim]),
    });
    denoiseStepMs.push(performance.now() - mark);
  }
  mark = performance.now();
  const latent = new Float32Array(config.in_channels * h * w).fill(0.1);
  await vae.run({ latent_sample: new Tensor('float32', latent, [1, pkg.vaeDecoder.config.latent_channels, h, w]) });
  const vaeDecodeMs = performance.now() - mark;

  await Promise.all([transformer.release(), vae.release(), ...textSessions.map((t) => t.session.release())]);
  return { sessionCreateMs, textEncodeMs, denoiseStepMs, vaeDecodeMs };
}
