/**
 * Numbers for the TypeScript-built SD3 graphs on onnxruntime-web's WASM backend (Node, one
 * thread), printed, never asserted:
 *
 * 1. Per graph (tiny fixture transformer and VAE) and precision: nodes, weight bytes, build +
 *    serialise time, session creation, median run time, error against diffusers.
 * 2. The attention logits of the tiny transformers on the golden inputs (max |q·k|/√d per
 *    attention), the quantity that decides whether half-precision attention scores are safe.
 * 3. Alternatives for the VAE's hot ops at a VAE-like size: SiLU as Mul+Sigmoid vs one
 *    com.microsoft QuickGelu(alpha 1); GroupNorm as Reshape → InstanceNormalization → affine vs
 *    ONNX GroupNormalization-21.
 * 4. A Linear layer as MatMul + Add (layers.ts) vs Gemm on the checkpoint's [N, K] weight.
 *
 *   npx tsx scripts/sd3-graphs-bench.ts [--runs N]
 */
import type { Precision } from '../worker/engine/onnx/layers.js';
import { PRECISIONS } from '../worker/engine/onnx/layers.js';
import { DataType } from '../worker/engine/onnx/data-types.js';
import { GraphBuilder, type BuiltGraph } from '../worker/engine/onnx/graph-builder.js';
import { createSessionAsync, type BackendSession, type HostTensor } from '../worker/engine/ort-backend.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../worker/engine/onnx/serialize-graph.js';
import { buildSd3TransformerGraph, readSd3TransformerConfig } from '../worker/engine/sd3/graphs/sd3-transformer.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph, readAutoencoderKlConfig } from '../worker/engine/sd3/graphs/vae.js';
import { linearVariants, vaeOpVariants, variantInput } from './op-variants.js';
import {
  f32,
  fixtureConfig,
  fixtureWeightsAsync,
  goldenArray,
  goldenCase,
  maxAbsDiff,
  opCounts,
  relativeL2,
  type GoldenCase,
} from '../test/sd3-graphs/graph-harness.js';

const runsIndex = process.argv.indexOf('--runs');
const RUNS = runsIndex > 0 ? Number(process.argv[runsIndex + 1]) : 5;

async function openAsync(graph: BuiltGraph): Promise<{ session: BackendSession; sessionMs: number; weightBytes: number }> {
  const serialized = await serializeGraphAsync(graph);
  const externalData = await Promise.all(
    serialized.externalFiles.map(async (f) => ({ path: f.path, data: await externalFileBytesAsync(f) })),
  );
  const t = performance.now();
  const session = await createSessionAsync({ label: graph.name, model: serialized.model, externalData, backend: 'wasm' });
  return { session, sessionMs: performance.now() - t, weightBytes: serialized.weightBytes };
}

async function medianRunAsync(
  session: BackendSession,
  feeds: Record<string, HostTensor>,
): Promise<{ ms: number; out: Record<string, HostTensor> }> {
  let out = await session.runAsync(feeds); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    out = await session.runAsync(feeds);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)], out };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function transformerFeeds(c: GoldenCase): Record<string, HostTensor> {
  const x = goldenArray(c, 'step0_transformer_input');
  const batch = x.dims[0];
  const prompt = goldenArray(c, 'prompt_embeds');
  const pooled = goldenArray(c, 'pooled_prompt_embeds');
  return {
    hidden_states: f32(x.data, x.dims),
    timestep: f32(goldenArray(c, 'step0_timestep').data, [batch]),
    encoder_hidden_states: f32(batch === 2 ? concat(goldenArray(c, 'negative_prompt_embeds').data, prompt.data) : prompt.data, [
      batch,
      ...prompt.dims.slice(1),
    ]),
    pooled_projections: f32(batch === 2 ? concat(goldenArray(c, 'negative_pooled_prompt_embeds').data, pooled.data) : pooled.data, [
      batch,
      pooled.dims[1],
    ]),
  };
}

// 1. Per graph and precision.
console.log(`1. Graphs on WASM (Node, 1 thread), median of ${RUNS} runs after one warm-up`);
for (const prefix of ['p1', 'p4']) {
  const c = goldenCase(prefix);
  const config = readSd3TransformerConfig(fixtureConfig(c.model, 'transformer'));
  const vaeConfig = readAutoencoderKlConfig(fixtureConfig(c.model, 'vae'));
  const x = goldenArray(c, 'step0_transformer_input').dims;
  const jobs = [
    {
      name: `transformer ${c.model} (batch ${x[0]}, latent ${x[2]}×${x[3]})`,
      build: async (p: Precision) => buildSd3TransformerGraph(config, await fixtureWeightsAsync(c.model, 'transformer'), p),
      feeds: transformerFeeds(c),
      output: 'out_hidden_states',
      want: goldenArray(c, 'step0_transformer_output').data,
    },
    {
      name: `vae_decoder ${c.model} (latent ${x[2]}×${x[3]})`,
      build: async (p: Precision) => buildVaeDecoderGraph(vaeConfig, await fixtureWeightsAsync(c.model, 'vae'), p),
      feeds: { latent_sample: f32(goldenArray(c, 'vae_decoder_input').data, goldenArray(c, 'vae_decoder_input').dims) },
      output: 'sample',
      want: goldenArray(c, 'vae_decoder_output').data,
    },
    {
      name: `vae_encoder ${c.model} (image ${x[2] * 8}×${x[3] * 8})`,
      build: async (p: Precision) => buildVaeEncoderGraph(vaeConfig, await fixtureWeightsAsync(c.model, 'vae'), p),
      feeds: { sample: f32(goldenArray(c, 'vae_encoder_input').data, goldenArray(c, 'vae_encoder_input').dims) },
      output: 'latent_parameters',
      want: goldenArray(c, 'vae_encoder_mean').data,
    },
  ];
  for (const job of jobs) {
    console.log(`  ${job.name}`);
    for (const precision of PRECISIONS) {
      const t = performance.now();
      const graph = await job.build(precision);
      const buildMs = performance.now() - t;
      const { session, sessionMs, weightBytes } = await openAsync(graph);
      const { ms, out } = await medianRunAsync(session, job.feeds);
      const got = (out[job.output].data as Float32Array).subarray(0, job.want.length);
      await session.releaseAsync();
      console.log(
        `    ${precision.padEnd(5)} ${String(graph.nodes.length).padStart(4)} nodes, ${(weightBytes / 1e3).toFixed(0).padStart(5)} kB, ` +
          `build ${buildMs.toFixed(0)} ms, session ${sessionMs.toFixed(0)} ms, run ${ms.toFixed(1)} ms; ` +
          `max |diff| ${maxAbsDiff(got, job.want).toExponential(2)}, rel. L2 ${relativeL2(got, job.want).toExponential(2)}`,
      );
      if (precision === 'fp32' || precision === 'fp16') console.log(`          ${opCounts(graph)}`);
    }
  }
}

// 2. Attention logits: every MultiHeadAttention's query and key, multiplied out in extra outputs.
console.log('\n2. Attention logits on the golden step-0 inputs (fp32): max |q·k|/√d per attention');
for (const prefix of ['p1', 'p4']) {
  const c = goldenCase(prefix);
  const config = readSd3TransformerConfig(fixtureConfig(c.model, 'transformer'));
  const graph = buildSd3TransformerGraph(config, await fixtureWeightsAsync(c.model, 'transformer'), 'fp32');
  const heads = config.num_attention_heads;
  const headDim = config.attention_head_dim;
  const extra: BuiltGraph = { ...graph, nodes: [...graph.nodes], outputs: [...graph.outputs], initializers: [...graph.initializers] };
  // The probe's two constants, made by a scratch builder and copied in under a prefix of their own.
  const scratch = new GraphBuilder('probe_constants');
  const shapeValue = scratch.int64([0, 0, heads, headDim]);
  const scaleValue = scratch.float(1 / Math.sqrt(headDim));
  scratch.output(shapeValue, 'probe_unused', [4]);
  extra.initializers.push(...scratch.build().initializers.map((i) => ({ ...i, name: `probe/${i.name}` })));
  const labels: string[] = [];
  graph.nodes
    .filter((n) => n.opType === 'MultiHeadAttention')
    .forEach((node, i) => {
      const [q, k] = node.inputs;
      const name = (s: string) => `probe/${i}/${s}`;
      extra.nodes.push(
        { opType: 'Reshape', name: name('rq'), inputs: [q, `probe/${shapeValue.name}`], outputs: [name('q4')] },
        { opType: 'Transpose', name: name('tq'), inputs: [name('q4')], outputs: [name('qt')], attributes: { perm: [0, 2, 1, 3] } },
        { opType: 'Reshape', name: name('rk'), inputs: [k, `probe/${shapeValue.name}`], outputs: [name('k4')] },
        { opType: 'Transpose', name: name('tk'), inputs: [name('k4')], outputs: [name('kt')], attributes: { perm: [0, 2, 3, 1] } },
        { opType: 'MatMul', name: name('mm'), inputs: [name('qt'), name('kt')], outputs: [name('s')] },
        { opType: 'Mul', name: name('scale'), inputs: [name('s'), `probe/${scaleValue.name}`], outputs: [name('logits')] },
        { opType: 'Abs', name: name('abs'), inputs: [name('logits')], outputs: [name('a')] },
        { opType: 'ReduceMax', name: name('max'), inputs: [name('a')], outputs: [name('max')], attributes: { keepdims: 0 } },
      );
      extra.outputs.push({ name: name('max'), elemType: DataType.FLOAT, shape: [] });
      labels.push(node.name.split('/').slice(0, 2).join(' '));
    });
  const { session } = await openAsync(extra);
  const out = await session.runAsync(transformerFeeds(c));
  await session.releaseAsync();
  const values = labels.map(
    (label, i) => `${label.replace('transformer_blocks.', 'block ')}: ${(out[`probe/${i}/max`].data as Float32Array)[0].toFixed(2)}`,
  );
  console.log(`  ${c.model} (qk_norm ${config.qk_norm}): ${values.join(', ')}`);
}

// 3. VAE op alternatives at [1, 128, 128, 128] (the last level of a 1024² decode is 128 channels at 1024²).
console.log('\n3. VAE op alternatives, [1, 128, 128, 128] float32, GroupNorm with 32 groups');
{
  const input = variantInput(128, 128);
  const reference = new Map<string, Float32Array>();
  for (const { name, family, graph } of vaeOpVariants(128)) {
    try {
      const { session } = await openAsync(graph);
      const { ms, out } = await medianRunAsync(session, { x: f32(input, [1, 128, 128, 128]) });
      await session.releaseAsync();
      const y = out.y.data as Float32Array;
      const first = reference.get(family);
      if (!first) reference.set(family, y);
      console.log(
        `  ${name}: ${graph.nodes.length} nodes, ${ms.toFixed(1)} ms${first ? `, max |diff| to the first form ${maxAbsDiff(y, first).toExponential(2)}` : ''}`,
      );
    } catch (error) {
      console.log(`  ${name}: does not run: ${String((error as Error).message).slice(0, 200)}`);
    }
  }
}

// 4. A Linear layer as MatMul + Add vs Gemm on the checkpoint's [N, K] weight.
console.log('\n4. Linear(1536 → 1536) with bias on [2, 1024, 1536] float32');
{
  const input = new Float32Array(2 * 1024 * 1536).map((_, i) => Math.sin(i * 0.011));
  let first: Float32Array | undefined;
  for (const { name, graph } of linearVariants(1536, 1536)) {
    const { session } = await openAsync(graph);
    const { ms, out } = await medianRunAsync(session, { x: f32(input, [2, 1024, 1536]) });
    await session.releaseAsync();
    const y = out.y.data as Float32Array;
    console.log(
      `  ${name}: ${graph.nodes.length} nodes, ${ms.toFixed(1)} ms${first ? `, max |diff| to the first form ${maxAbsDiff(y, first).toExponential(2)}` : ''}`,
    );
    first ??= y;
  }
}
