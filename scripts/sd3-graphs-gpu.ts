/**
 * The TypeScript-built SD3 graphs on a real GPU, through the engine's own backend module in Node
 * (Dawn for Node + onnxruntime-web's native WebGPU EP, as worker/cli does), or on WASM.
 *
 *   npx tsx scripts/sd3-graphs-gpu.ts parity [--backend webgpu|wasm] [--f16] [--cases p1,p4] [--precisions fp32,fp16]
 *     Every golden case of the sd3-diffusers-tiny fixture through the transformer, and the VAE
 *     decoder and encoder, at fp32, int8, int4 and (where the device has shader-f16) fp16 with the
 *     attention in half and in float32: max |diff| and relative L2 against diffusers.
 *
 *   npx tsx scripts/sd3-graphs-gpu.ts speed --model sd3m|sd35m|sd35l|vae [--precision fp16] [--sizes 512,1024]
 *                                          [--runs 3] [--layers N] [--backend webgpu|wasm] [--f16]
 *     The full-size graph from the real config with synthetic weights (a deterministic pattern of
 *     small values; timing does not depend on them): build and serialise time, weight bytes,
 *     session creation, first run and the median of the next runs, per image size, for the
 *     transformer with CFG (batch 2, 77 + 256 text tokens) or the VAE decoder (batch 1).
 *     `--layers N` keeps the first N blocks (a quick check, e.g. on WASM).
 *
 *   npx tsx scripts/sd3-graphs-gpu.ts variants [--runs 5] [--image-side 1024] [--tokens 4429] [--backend webgpu|wasm]
 *     The op alternatives of scripts/op-variants.ts at 1024² sizes (SiLU and GroupNorm on
 *     [1, 128, 1024, 1024]; a Linear(1536 → 1536) on SD3 Medium's CFG batch of 4096 + 333 tokens
 *     as MatMul + Add or as Gemm on the checkpoint's [N, K] weight): median time, agreement.
 *
 * --f16 creates the Dawn device with `vulkan_enable_f16_on_nvidia` (shader-f16 is hidden on NVIDIA
 * + Vulkan otherwise). onnxruntime-web 1.30's native WebGPU EP computes MultiHeadAttention off by
 * up to several percent on SwiftShader when the device has subgroups (here and in Chromium) and exactly without
 * them (scripts/sd3-graphs-webgpu.ts --no-subgroups, in Chromium): the parity mode on a real GPU
 * says whether its subgroup path is right there.
 *
 * On the GPU machine (no network, no tsx): bundle it as worker/cli is bundled and carry the bundle,
 * a node_modules/ holding only onnxruntime-web (dist .mjs + asyncify .wasm) and the `webgpu`
 * subset, and test/fixtures/ (the archive is extracted on first use with tar -xJf):
 *   npx esbuild scripts/sd3-graphs-gpu.ts --bundle --platform=node --format=esm --target=node20 \
 *     --external:onnxruntime-web --external:'onnxruntime-web/*' --external:webgpu --outfile=out/sd3-graphs-gpu.mjs
 *   node out/sd3-graphs-gpu.mjs parity --f16
 *   node out/sd3-graphs-gpu.mjs speed --model sd35l --precision int4 --sizes 512,1024 --f16
 * (out/ must sit in the repository root: the fixtures are found relative to it.)
 */
import type { Backend } from '../common/engine-types.js';
import { useNodeBackendAsync } from '../worker/cli/node-host.js';
import type { ByteSource } from '../worker/engine/byte-source.js';
import { DataType, floatToHalf } from '../worker/engine/onnx/data-types.js';
import { GraphBuilder, type BuiltGraph } from '../worker/engine/onnx/graph-builder.js';
import { PRECISIONS, type Precision } from '../worker/engine/onnx/layers.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../worker/engine/onnx/serialize-graph.js';
import { createSessionAsync, probeWebGpuAsync, type BackendSession, type HostTensor } from '../worker/engine/ort-backend.js';
import { WeightSet, type SafetensorsTensor } from '../worker/engine/safetensors.js';
import {
  buildSd3TransformerGraph,
  readSd3TransformerConfig,
  type Sd3TransformerBuildOptions,
} from '../worker/engine/sd3/graphs/sd3-transformer.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph, readAutoencoderKlConfig } from '../worker/engine/sd3/graphs/vae.js';
import { transformerStateDict, vaeStateDict, type StateDict } from '../test/sd3-graphs/diffusers-state-dict.js';
import { SD35_LARGE_TRANSFORMER, SD35_MEDIUM_TRANSFORMER, SD3_MEDIUM_TRANSFORMER, SD3_VAE } from '../test/sd3-graphs/full-size-configs.js';
import { linearVariants, vaeOpVariants, variantInput } from './op-variants.js';
import {
  cases,
  f32,
  fixtureConfig,
  fixtureWeightsAsync,
  goldenArray,
  maxAbsDiff,
  relativeL2,
  type GoldenCase,
} from '../test/sd3-graphs/graph-harness.js';

const args = process.argv.slice(2);
const mode = args.shift();
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args[i + 1];
};
const flag = (name: string) => args.includes(name);
const backend = option('--backend', 'webgpu') as Backend;

async function setUpBackendAsync(): Promise<{ shaderF16: boolean; description: string }> {
  if (backend === 'wasm') return { shaderF16: false, description: 'WASM (onnxruntime-web, Node, 1 thread)' };
  await useNodeBackendAsync('webgpu');
  const dawn = (await import('webgpu')) as unknown as { create(flags: string[]): unknown; globals: Record<string, { prototype: object }> };
  if (flag('--f16')) {
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu: dawn.create(['enable-dawn-features=vulkan_enable_f16_on_nvidia']) },
      configurable: true,
      writable: true,
    });
  }
  const probe = await probeWebGpuAsync();
  if (!probe.adapter) throw new Error(`no WebGPU: ${probe.unavailableReason}`);
  // onnxruntime-web destroys its WebGPU device when its last session is released, and the engine's
  // backend takes the device's "lost" promise for a lost GPU: one small session stays open throughout.
  const keeper = new GraphBuilder('keeper');
  keeper.output(keeper.op('Neg', [keeper.input('x', DataType.FLOAT, [1])]), 'y', [1]);
  await createSessionAsync({ label: 'keeper', model: (await serializeGraphAsync(keeper.build())).model, backend });
  return {
    shaderF16: probe.shaderF16,
    description: `WebGPU ${probe.adapter.vendor} ${probe.adapter.architecture} ${probe.adapter.description} (shader-f16 ${probe.shaderF16})`,
  };
}

async function openAsync(
  graph: BuiltGraph,
): Promise<{ session: BackendSession; sessionMs: number; weightBytes: number; serializeMs: number }> {
  let t = performance.now();
  const serialized = await serializeGraphAsync(graph);
  const externalData = [];
  for (const file of serialized.externalFiles) externalData.push({ path: file.path, data: await externalFileBytesAsync(file) });
  const serializeMs = performance.now() - t;
  t = performance.now();
  const session = await createSessionAsync({ label: graph.name, model: serialized.model, externalData, backend });
  return { session, sessionMs: performance.now() - t, weightBytes: serialized.weightBytes, serializeMs };
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function parityAsync(shaderF16: boolean): Promise<void> {
  const variants: { precision: Precision; options?: Sd3TransformerBuildOptions; label: string }[] = [];
  const wanted = option('--precisions', PRECISIONS.join(',')).split(',');
  const caseNames = option('--cases', 'p1,p2,p3,p4').split(',');
  const chosen = (cases as GoldenCase[]).filter((c) => caseNames.includes(c.name.slice(0, 2)));
  for (const precision of PRECISIONS) {
    if (!wanted.includes(precision)) continue;
    if (precision === 'fp16' && !shaderF16 && backend === 'webgpu') continue;
    if (precision === 'fp16') {
      variants.push({ precision, options: { attention: 'compute' }, label: 'fp16, attention in half' });
      variants.push({ precision, options: { attention: 'float32' }, label: 'fp16, attention in float32' });
    } else variants.push({ precision, label: precision });
  }
  for (const { precision, options, label } of variants) {
    for (const c of chosen) {
      const config = readSd3TransformerConfig(fixtureConfig(c.model, 'transformer'));
      const { session } = await openAsync(
        buildSd3TransformerGraph(config, await fixtureWeightsAsync(c.model, 'transformer'), precision, options),
      );
      const x = goldenArray(c, 'step0_transformer_input');
      const batch = x.dims[0];
      const prompt = goldenArray(c, 'prompt_embeds');
      const pooled = goldenArray(c, 'pooled_prompt_embeds');
      const out = await session.runAsync({
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
      });
      await session.releaseAsync();
      const got = out.out_hidden_states.data as Float32Array;
      const want = goldenArray(c, 'step0_transformer_output').data;
      console.log(
        `${c.name.slice(0, 2)} transformer  ${label.padEnd(27)} max |diff| ${maxAbsDiff(got, want).toExponential(2)}, rel. L2 ${relativeL2(got, want).toExponential(2)}`,
      );
    }
    if (options?.attention === 'float32') continue; // the VAE has no such option
    for (const c of chosen.filter((c) => c === cases[0] || c === cases[3])) {
      const config = readAutoencoderKlConfig(fixtureConfig(c.model, 'vae'));
      const weights = await fixtureWeightsAsync(c.model, 'vae');
      for (const [part, input, output, wantName] of [
        ['vae_decoder', 'vae_decoder_input', 'sample', 'vae_decoder_output'],
        ['vae_encoder', 'vae_encoder_input', 'latent_parameters', 'vae_encoder_mean'],
      ] as const) {
        const graph =
          part === 'vae_decoder' ? buildVaeDecoderGraph(config, weights, precision) : buildVaeEncoderGraph(config, weights, precision);
        const { session } = await openAsync(graph);
        const feed = goldenArray(c, input);
        const out = await session.runAsync({ [part === 'vae_decoder' ? 'latent_sample' : 'sample']: f32(feed.data, feed.dims) });
        await session.releaseAsync();
        const want = goldenArray(c, wantName).data;
        const got = (out[output].data as Float32Array).subarray(0, want.length);
        console.log(
          `${c.name.slice(0, 2)} ${part.padEnd(12)} ${precision.padEnd(27)} max |diff| ${maxAbsDiff(got, want).toExponential(2)}, rel. L2 ${relativeL2(got, want).toExponential(2)}`,
        );
      }
    }
  }
}

/** A checkpoint file of `size` bytes whose contents are a fixed pattern of small half-precision values. */
function patternFile(name: string, size: number): ByteSource {
  const block = new Uint8Array(1 << 22);
  const view = new DataView(block.buffer);
  let state = 12345;
  for (let i = 0; i < block.length; i += 2) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    view.setUint16(i, floatToHalf(((state >>> 8) / 2 ** 24 - 0.5) * 0.04), true);
  }
  return {
    name,
    size,
    async readAsync(offset, length) {
      const out = new Uint8Array(length);
      // Tensors start at even offsets, so every value is a whole half.
      for (let at = 0; at < length;) {
        const from = (offset + at) % block.length;
        const n = Math.min(length - at, block.length - from);
        out.set(block.subarray(from, from + n), at);
        at += n;
      }
      return out;
    },
    sliceBlob() {
      throw new Error('synthetic weights are read, never sliced');
    },
  };
}

function syntheticWeights(description: string, dict: StateDict): WeightSet {
  const entries = [...dict];
  const size = entries.reduce((total, [, shape]) => total + shape.reduce((a, b) => a * b, 1) * 2, 0);
  const file = patternFile(`${description}.safetensors`, size);
  const tensors = new Map<string, SafetensorsTensor>();
  let offset = 0;
  for (const [name, shape] of entries) {
    const length = shape.reduce((a, b) => a * b, 1) * 2;
    tensors.set(name, { name, dataType: DataType.FLOAT16, shape, file, offset, length });
    offset += length;
  }
  return new WeightSet(description, tensors);
}

async function speedAsync(): Promise<void> {
  const model = option('--model', 'sd3m');
  const precision = option('--precision', 'fp16') as Precision;
  const sizes = option('--sizes', '512,1024').split(',').map(Number);
  const runs = Number(option('--runs', '3'));
  const layers = args.includes('--layers') ? Number(option('--layers', '0')) : undefined;
  let graph: BuiltGraph;
  let feedsFor: (pixels: number) => Record<string, HostTensor>;
  const t = performance.now();
  if (model === 'vae') {
    const config = readAutoencoderKlConfig(SD3_VAE);
    graph = buildVaeDecoderGraph(config, syntheticWeights('vae', vaeStateDict(config)), precision);
    feedsFor = (pixels) => {
      const side = pixels / 8;
      return {
        latent_sample: f32(
          new Float32Array(16 * side * side).map((_, i) => Math.sin(i * 0.1)),
          [1, 16, side, side],
        ),
      };
    };
  } else {
    const json = { sd3m: SD3_MEDIUM_TRANSFORMER, sd35m: SD35_MEDIUM_TRANSFORMER, sd35l: SD35_LARGE_TRANSFORMER }[model];
    if (!json) throw new Error(`--model ${model}: one of sd3m, sd35m, sd35l, vae`);
    const full = readSd3TransformerConfig(json);
    const config = layers
      ? { ...full, num_layers: layers, dual_attention_layers: full.dual_attention_layers.filter((i) => i < layers) }
      : full;
    graph = buildSd3TransformerGraph(config, syntheticWeights(model, transformerStateDict(config)), precision);
    feedsFor = (pixels) => {
      const side = pixels / 8;
      return {
        hidden_states: f32(
          new Float32Array(2 * 16 * side * side).map((_, i) => Math.sin(i * 0.1)),
          [2, 16, side, side],
        ),
        timestep: f32(new Float32Array([1000, 1000]), [2]),
        encoder_hidden_states: f32(
          new Float32Array(2 * 333 * 4096).map((_, i) => Math.sin(i * 0.01) * 0.5),
          [2, 333, 4096],
        ),
        pooled_projections: f32(
          new Float32Array(2 * 2048).map((_, i) => Math.cos(i * 0.01)),
          [2, 2048],
        ),
      };
    };
  }
  const buildMs = performance.now() - t;
  const { session, sessionMs, weightBytes, serializeMs } = await openAsync(graph);
  console.log(
    `${model}${layers ? ` (first ${layers} blocks)` : ''} ${precision}: ${graph.nodes.length} nodes, ${(weightBytes / 1e9).toFixed(2)} GB of weights; ` +
      `build ${buildMs.toFixed(0)} ms, serialise ${(serializeMs / 1000).toFixed(1)} s, session ${(sessionMs / 1000).toFixed(1)} s`,
  );
  for (const pixels of sizes) {
    const feeds = feedsFor(pixels);
    let s = performance.now();
    await session.runAsync(feeds);
    const firstMs = performance.now() - s;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      s = performance.now();
      await session.runAsync(feeds);
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    console.log(
      `  ${pixels}²: first run ${firstMs.toFixed(0)} ms, then median ${times[Math.floor(times.length / 2)]?.toFixed(1)} ms of ${runs}${model === 'vae' ? '' : ' (batch 2, CFG)'}`,
    );
  }
  await session.releaseAsync();
}

/** The op alternatives of scripts/op-variants.ts at sizes a 1024² image has: time and agreement per family. */
async function variantsAsync(): Promise<void> {
  const runs = Number(option('--runs', '5'));
  const side = Number(option('--image-side', '1024'));
  const count = Number(option('--tokens', '4429'));
  const image = f32(variantInput(128, side), [1, 128, side, side]);
  const tokens = f32(
    new Float32Array(2 * count * 1536).map((_, i) => Math.sin(i * 0.011)),
    [2, count, 1536],
  );
  const first = new Map<string, Float32Array>();
  for (const { name, family, graph } of [...vaeOpVariants(128), ...linearVariants(1536, 1536)]) {
    const x = family === 'Linear' ? tokens : image;
    try {
      const { session } = await openAsync(graph);
      let out = await session.runAsync({ x });
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        out = await session.runAsync({ x });
        times.push(performance.now() - t);
      }
      await session.releaseAsync();
      times.sort((a, b) => a - b);
      const y = out.y.data as Float32Array;
      const reference = first.get(family);
      if (!reference) first.set(family, y);
      console.log(
        `${name} on [${x.dims.join(', ')}]: median ${times[Math.floor(runs / 2)].toFixed(1)} ms${reference ? `, max |diff| to the first form ${maxAbsDiff(y, reference).toExponential(2)}` : ''}`,
      );
    } catch (error) {
      console.log(`${name}: does not run: ${String((error as Error).message).slice(0, 200)}`);
    }
  }
}

const { shaderF16, description } = await setUpBackendAsync();
console.log(description);
if (mode === 'parity') await parityAsync(shaderF16);
else if (mode === 'speed') await speedAsync();
else if (mode === 'variants') await variantsAsync();
else throw new Error(`mode ${JSON.stringify(mode)}: parity, speed or variants (see the header of scripts/sd3-graphs-gpu.ts)`);
