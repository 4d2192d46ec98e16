/**
 * A checked SD3 package plus its inference sessions on one backend. Sessions live as long as the
 * model (one creation per load), and are rebuilt only when the backend changes (a lost GPU device).
 *
 * What runs where:
 * - the transformer, the VAE decoder and the Euler/CFG step graphs (euler-step-graph.ts) on the
 *   runtime's backend; on WebGPU their outputs stay in GPU buffers, so the denoising loop never
 *   copies through the CPU between steps;
 * - small text encoders on WASM even when the rest runs on WebGPU (runtime option
 *   textEncoderBackend, 'auto'): a GPU run of a small graph pays a fixed cost per kernel that
 *   dwarfs its arithmetic (on an H200, the default model's 2.5 MB text encoder took 45–67 ms on
 *   WebGPU and 7 ms on WASM), while the big ones (CLIP-G, T5-XXL) need the GPU;
 * - the VAE encoder only once an image-to-image job asks for it;
 * - with graph capture on (WebGPU; runtime option graphCapture, 'auto' by default: small
 *   transformers only, see resolveGraphCapture), a second transformer session and step graph
 *   recorded for the last image size and replayed (captured-loop.ts).
 */
import type { Backend } from '../../../common/engine-types.js';
import { eulerStepModelAsync, type EulerStepMode } from '../euler-step-graph.js';
import type { GraphFile } from '../graph-file.js';
import type { RuntimeOptions } from '../model-family.js';
import { createSessionAsync, type BackendSession } from '../ort-backend.js';
import { releaseCapturedLoopAsync, type CapturedLoop } from './captured-loop.js';
import type { TextEncoderName } from './configs.js';
import { graphWeightBytes as graphBytes, profileOfPackage, type MemoryProfile } from './memory-plan.js';
import type { Sd3Package } from './package.js';
import { prepareTransformerAsync, resolveInt8MatMul, type PreparedTransformer } from './int8-matmul.js';

/**
 * Text encoders whose graph (weights included) is at most this many bytes run on WASM under
 * textEncoderBackend 'auto'. CLIP-L, the smallest real SD3 encoder, is ~490 MB in float32 and
 * about 20 GFLOP per prompt: seconds on one WASM thread, so it stays on the GPU.
 */
export const SMALL_TEXT_ENCODER_BYTES = 64 * 2 ** 20;

/**
 * Graph capture 'auto' captures the loop of transformers whose graph (weights included) is at most
 * this many bytes. A captured loop holds a second copy of the transformer's weights; for a small
 * model that costs little and removes what bounds its step (onnxruntime's CPU work per kernel: on an
 * H200 the default model's warm 512² image went from 1,002 to 213 ms), while a large model's step is
 * bound by the GPU's arithmetic and a second copy of gigabytes of weights may not fit.
 */
export const CAPTURE_AUTO_MAX_TRANSFORMER_BYTES = 512 * 2 ** 20;

export interface Sd3Runtime {
  pkg: Sd3Package;
  backend: Backend;
  options: Required<Pick<RuntimeOptions, 'cfgCalls' | 'previewIntervalMs'>> &
    Pick<RuntimeOptions, 'memoryBudgetBytes' | 'vaeTiling' | 'vaeTileLatentSize'> & {
      /** RuntimeOptions.graphCapture as decided for this package and backend (resolveGraphCapture). */
      graphCapture: 'on' | 'off';
    };
  /** What the memory plan needs to know about the package (sd3/memory-plan.ts). */
  memory: MemoryProfile;
  transformer: BackendSession;
  /** How the transformer's int8 weights multiply on this runtime (mode 'none': the package's weights are float). */
  int8MatMul: { mode: PreparedTransformer['int8MatMul']; rebuildMs: number; fallback?: string };
  vaeDecoder: BackendSession;
  /** Created by the first image-to-image job (vaeEncoderSessionAsync). */
  vaeEncoder?: BackendSession;
  /** Created at load without a memory budget; with one, when a prompt needs them (textEncoderSessionsAsync). */
  textEncoders: Map<TextEncoderName, BackendSession>;
  /** Where each text encoder runs, and why (for notes and benchmarks). */
  textEncoderPlacement: Map<TextEncoderName, { backend: Backend; reason: string }>;
  /** Euler/CFG step graphs by mode, on the runtime's backend. */
  stepSessions: Map<EulerStepMode, BackendSession>;
  /** Milliseconds spent creating all sessions. */
  sessionCreateMs: number;
  /** The captured denoising loop of the last image size that used one (captured-loop.ts). */
  capturedLoop?: CapturedLoop;
  /** Why graph capture is off for this runtime, once a captured replay failed its check. */
  captureFailure?: string;
  /** Images denoised by a captured loop so far (benchmarks and tests report it). */
  capturedImages: number;
}

function sessionAsync(
  graph: GraphFile,
  backend: Backend,
  extra: { outputsOnDevice?: boolean; graphCapture?: boolean } = {},
): Promise<BackendSession> {
  return createSessionAsync({ label: graph.path, model: graph.model, externalData: graph.externalData, backend, ...extra });
}

/** Where a text encoder runs under `choice`, and why. */
export function placeTextEncoder(
  graph: GraphFile,
  backend: Backend,
  choice: RuntimeOptions['textEncoderBackend'] = 'auto',
): { backend: Backend; reason: string } {
  if (choice === 'wasm') return { backend: 'wasm', reason: 'WASM was asked for the text encoders' };
  if (choice === 'transformer') return { backend, reason: "the transformer's backend was asked for" };
  if (backend === 'webgpu' && graphBytes(graph) <= SMALL_TEXT_ENCODER_BYTES) {
    return { backend: 'wasm', reason: `small (${(graphBytes(graph) / 2 ** 20).toFixed(1)} MiB): WASM beats WebGPU's per-kernel cost` };
  }
  return { backend, reason: 'same backend as the transformer' };
}

/** What RuntimeOptions.graphCapture means for `transformer` on `backend`: 'auto' decides by size and budget. */
export function resolveGraphCapture(
  choice: RuntimeOptions['graphCapture'] = 'auto',
  backend: Backend,
  transformer: GraphFile,
  memoryBudgetBytes?: number,
): 'on' | 'off' {
  if (backend !== 'webgpu' || choice === 'off') return 'off';
  if (choice === 'on') return 'on';
  // Under a memory budget the plan has no room for the second copy of the weights.
  return memoryBudgetBytes === undefined && graphBytes(transformer) <= CAPTURE_AUTO_MAX_TRANSFORMER_BYTES ? 'on' : 'off';
}

/** Creates every session of the package on `backend`; on failure releases what was created and rethrows. */
export async function createSd3RuntimeAsync(pkg: Sd3Package, backend: Backend, options: RuntimeOptions = {}): Promise<Sd3Runtime> {
  const started = performance.now();
  const created: BackendSession[] = [];
  const track = async (session: Promise<BackendSession>): Promise<BackendSession> => {
    const made = await session;
    created.push(made);
    return made;
  };
  try {
    const textEncoders = new Map<TextEncoderName, BackendSession>();
    const textEncoderPlacement = new Map<TextEncoderName, { backend: Backend; reason: string }>();
    for (const encoder of pkg.textEncoders) {
      const placement = placeTextEncoder(encoder.graph, backend, options.textEncoderBackend);
      textEncoderPlacement.set(encoder.name, placement);
      // Under a budget they wait for the first prompt, which knows whether they may stay.
      if (options.memoryBudgetBytes === undefined)
        textEncoders.set(encoder.name, await track(sessionAsync(encoder.graph, placement.backend)));
    }
    const prepared = await prepareTransformerAsync(pkg, resolveInt8MatMul(options.int8MatMul, backend));
    const transformer = await track(sessionAsync(prepared.graph, backend, { outputsOnDevice: true }));
    const vaeDecoder = await track(sessionAsync(pkg.vaeDecoder.graph, backend));
    const cfgCalls = options.cfgCalls ?? 'batch';
    const stepSessions = new Map<EulerStepMode, BackendSession>();
    for (const mode of ['plain', cfgCalls === 'split' ? 'cfg-split' : 'cfg-batch'] as const) {
      stepSessions.set(mode, await track(createStepSessionAsync(mode, backend)));
    }
    return {
      pkg,
      backend,
      options: {
        cfgCalls,
        previewIntervalMs: options.previewIntervalMs ?? 250,
        graphCapture: resolveGraphCapture(options.graphCapture, backend, pkg.transformer.graph, options.memoryBudgetBytes),
        memoryBudgetBytes: options.memoryBudgetBytes,
        vaeTiling: options.vaeTiling,
        vaeTileLatentSize: options.vaeTileLatentSize,
      },
      memory: profileOfPackage(pkg),
      transformer,
      int8MatMul: { mode: prepared.int8MatMul, rebuildMs: prepared.rebuildMs, fallback: prepared.fallback },
      vaeDecoder,
      textEncoders,
      textEncoderPlacement,
      stepSessions,
      sessionCreateMs: performance.now() - started,
      capturedImages: 0,
    };
  } catch (error) {
    await Promise.allSettled(created.map((session) => session.releaseAsync()));
    throw error;
  }
}

export async function createStepSessionAsync(mode: EulerStepMode, backend: Backend): Promise<BackendSession> {
  return createSessionAsync({
    label: `Euler step graph (${mode})`,
    model: await eulerStepModelAsync(mode),
    backend,
    outputsOnDevice: true,
  });
}

/** Creates the text-encoder sessions that are not loaded (released after an earlier prompt, or never created under a budget). */
export async function textEncoderSessionsAsync(runtime: Sd3Runtime): Promise<void> {
  for (const encoder of runtime.pkg.textEncoders) {
    if (runtime.textEncoders.has(encoder.name)) continue;
    const placement = runtime.textEncoderPlacement.get(encoder.name) ?? { backend: runtime.backend };
    runtime.textEncoders.set(encoder.name, await sessionAsync(encoder.graph, placement.backend));
  }
}

/** Releases the text-encoder sessions (the memory plan's 'release-text-encoders'); the next prompt creates them again. */
export async function releaseTextEncodersAsync(runtime: Sd3Runtime): Promise<void> {
  const sessions = [...runtime.textEncoders.values()];
  runtime.textEncoders.clear();
  await Promise.allSettled(sessions.map((session) => session.releaseAsync()));
}

/** The VAE encoder's session, created the first time image-to-image needs it. */
export async function vaeEncoderSessionAsync(runtime: Sd3Runtime): Promise<BackendSession | undefined> {
  if (!runtime.pkg.vaeEncoder) return undefined;
  runtime.vaeEncoder ??= await sessionAsync(runtime.pkg.vaeEncoder.graph, runtime.backend);
  return runtime.vaeEncoder;
}

export async function releaseSd3RuntimeAsync(runtime: Sd3Runtime): Promise<void> {
  const captured = runtime.capturedLoop;
  runtime.capturedLoop = undefined;
  if (captured) await releaseCapturedLoopAsync(captured);
  const sessions = [
    runtime.transformer,
    runtime.vaeDecoder,
    runtime.vaeEncoder,
    ...runtime.textEncoders.values(),
    ...runtime.stepSessions.values(),
  ];
  await Promise.allSettled(sessions.filter((s) => s !== undefined).map((session) => session.releaseAsync()));
}
