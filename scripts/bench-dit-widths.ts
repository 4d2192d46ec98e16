/**
 * npm run bench:dit-widths — what a wider or deeper default transformer would cost per denoising
 * step, before any GPU time is spent training it (model/README.md: v2's subjects plateau, the next
 * lever is capacity, bounded by "no slower than v1 on WASM"). Printed, never asserted.
 *
 *   npm run bench:dit-widths -- [--model model/eval/v2-candidate/package] [--size 256] [--runs 8]
 *                               [--variants 5x6,6x6,7x6,8x6,5x8,6x8] [--int8-products]
 *
 * Each variant (attention heads × layers; head width and everything else from the package's
 * config) is built by the engine's graph builder — the graph the shipped default runs since it is
 * rebuilt (npm run rebuild-transformer) — from random float32 weights, and timed on
 * onnxruntime-web's WASM backend and on onnxruntime-node, one thread each, batch 2 (CFG), the
 * package's text length: median of --runs after a warm-up. Weights stored int8 are folded to
 * float32 when the session is created, so float32 weights time the same graph the engine runs.
 * --int8-products stores the weights as an int8 package does (model/flowfill/quantize.py: the 2-D
 * ones of at least 16,384 values, symmetric per output channel) and multiplies them the way the
 * engine does on WASM by default (com.microsoft DynamicQuantizeMatMul, sd3/int8-matmul.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../worker/bench/stage-bench.js';
import { createNativeSessionAsync, loadNativeOrtAsync } from '../worker/cli/native-peer.js';
import { bytesSource } from '../worker/engine/byte-source.js';
import { DataType } from '../worker/engine/onnx/data-types.js';
import { serializeGraphAsync } from '../worker/engine/onnx/serialize-graph.js';
import { createSessionAsync, type HostTensor } from '../worker/engine/ort-backend.js';
import {
  buildSd3TransformerGraph,
  readSd3TransformerConfig,
  sd3TransformerStateDictShapes,
  type Sd3TransformerConfig,
} from '../worker/engine/sd3/graphs/sd3-transformer.js';
import { WeightSet, type SafetensorsTensor } from '../worker/engine/safetensors.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'model/eval/v2-candidate/package' },
    size: { type: 'string', default: '256' },
    runs: { type: 'string', default: '8' },
    variants: { type: 'string', default: '5x6,6x6,7x6,8x6,5x8,6x8' },
    'int8-products': { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const INT8 = values['int8-products']!;
// model/flowfill/quantize.py's min_elements: smaller weights ship as float32.
const INT8_MIN_ELEMENTS = 16384;
const latent = Number(values.size) / 8;
const dir = path.resolve(values.model!);
const base = readSd3TransformerConfig(JSON.parse(readFileSync(path.join(dir, 'transformer/config.json'), 'utf8')));
const manifest = JSON.parse(readFileSync(path.join(dir, 'flowfill.json'), 'utf8')) as { max_sequence_length?: number };
// CLIP's 77 positions, then the T5 block (zeros without T5), as the engine feeds the transformer.
const sequence = 77 + (manifest.max_sequence_length ?? 256);

function randomWeights(config: Sd3TransformerConfig): { weights: WeightSet; parameters: number } {
  const tensors = new Map<string, SafetensorsTensor>();
  const put = (name: string, dataType: DataType, shape: number[], bytes: Uint8Array) =>
    tensors.set(name, { name, dataType, shape, file: bytesSource(name, bytes), offset: 0, length: bytes.length });
  let seed = 1;
  let parameters = 0;
  for (const [name, shape] of sd3TransformerStateDictShapes(config)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(count);
    const scale = name.endsWith('.weight') && shape.length >= 2 ? 1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1)) : 0.02;
    for (let i = 0; i < count; i++) {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      values[i] = (seed / 2 ** 32 - 0.5) * 2 * scale;
    }
    if (!name.endsWith('pos_embed.pos_embed')) parameters += count;
    if (INT8 && name.endsWith('.weight') && shape.length === 2 && count >= INT8_MIN_ELEMENTS) {
      const { q, scale: scales } = quantisePerOutputChannel(values, shape[0], shape[1]);
      put(name, DataType.INT8, shape, new Uint8Array(q.buffer));
      put(`${name}_scale`, DataType.FLOAT, [shape[0]], new Uint8Array(scales.buffer));
    } else {
      put(name, DataType.FLOAT, shape, new Uint8Array(values.buffer));
    }
  }
  return { weights: new WeightSet('random weights', tensors), parameters };
}

/** w [out, in] as q · scale, one symmetric scale per output row (the int8 package format). */
function quantisePerOutputChannel(w: Float32Array, out: number, inFeatures: number): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(out);
  const q = new Int8Array(w.length);
  for (let row = 0; row < out; row++) {
    let max = 0;
    for (let col = 0; col < inFeatures; col++) max = Math.max(max, Math.abs(w[row * inFeatures + col]));
    scale[row] = max / 127 || 1;
    for (let col = 0; col < inFeatures; col++) q[row * inFeatures + col] = Math.round(w[row * inFeatures + col] / scale[row]);
  }
  return { q, scale };
}

function feeds(config: Sd3TransformerConfig): Record<string, HostTensor> {
  const f32 = (dims: number[]) => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 12.9898) * 0.8;
    return { type: 'float32' as const, data, dims };
  };
  return {
    hidden_states: f32([2, config.in_channels, latent, latent]),
    timestep: { type: 'float32', data: Float32Array.from([500, 500]), dims: [2] },
    encoder_hidden_states: f32([2, sequence, config.joint_attention_dim]),
    pooled_projections: f32([2, config.pooled_projection_dim]),
  };
}

async function timeAsync(run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  return median(times);
}

const ortNode = await loadNativeOrtAsync();
console.log(
  `${path.relative(process.cwd(), dir)}: head width ${base.attention_head_dim}, ${latent * 8}² (latent ${latent}²), batch 2, ${sequence} text tokens; one thread each; ${INT8 ? 'int8 weights, DynamicQuantizeMatMul' : 'float32 weights'}`,
);
console.log('heads×layers | width | parameters (= int8 MB) | WASM step ms | native step ms | WASM/native | WASM vs the package');
let reference: number | undefined;
for (const variant of values.variants!.split(',')) {
  const [heads, layers] = variant.split('x').map(Number);
  const config: Sd3TransformerConfig = {
    ...base,
    num_attention_heads: heads,
    num_layers: layers,
    caption_projection_dim: heads * base.attention_head_dim,
  };
  const { weights, parameters } = randomWeights(config);
  const model = (
    await serializeGraphAsync(
      buildSd3TransformerGraph(config, weights, 'fp32', {
        attentionKernel: 'unfused',
        int8MatMul: INT8 ? 'dynamic-quantized' : 'dequantized',
      }),
      {
        externalThresholdBytes: Infinity,
      },
    )
  ).model;
  const input = feeds(config);
  const wasm = await createSessionAsync({ label: `dit ${variant}`, model, backend: 'wasm' });
  const wasmMs = await timeAsync(() => wasm.runAsync(input));
  await wasm.releaseAsync();
  const native = await createNativeSessionAsync({ model, externalData: [] }, 1);
  const nativeInput = Object.fromEntries(
    Object.entries(input).map(([k, t]) => [k, new ortNode.Tensor('float32', t.data as Float32Array, t.dims)]),
  );
  const nativeMs = await timeAsync(() => native.run(nativeInput));
  await native.release();
  const isPackage = heads === base.num_attention_heads && layers === base.num_layers;
  if (isPackage) reference = wasmMs;
  console.log(
    `${variant} | ${heads * base.attention_head_dim} | ${(parameters / 1e6).toFixed(2)} M | ${wasmMs.toFixed(1)} | ${nativeMs.toFixed(1)} | ${(wasmMs / nativeMs).toFixed(2)} | ${reference ? `${((wasmMs / reference) * 100).toFixed(0)} %` : '–'}`,
  );
}
