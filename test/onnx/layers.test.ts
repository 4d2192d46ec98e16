/**
 * The ONNX writer and the shared layers, run by the real onnxruntime-web (WASM) and compared with
 * plain-JavaScript references of the PyTorch definitions.
 */
import { bytesSource } from '../../worker/engine/byte-source.js';
import { createSessionAsync } from '../../worker/engine/ort-backend.js';
import { DataType, floatToHalf, halfToFloat } from '../../worker/engine/onnx/data-types.js';
import { GraphBuilder } from '../../worker/engine/onnx/graph-builder.js';
import {
  activation,
  attention,
  attentionWithBias,
  conv2d,
  embedding,
  groupNorm,
  layerNorm,
  linear,
  perHeadRmsNorm,
  unfusedAttention,
  type LayerContext,
  type Precision,
} from '../../worker/engine/onnx/layers.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../../worker/engine/onnx/serialize-graph.js';
import { openWeightSetAsync } from '../../worker/engine/safetensors.js';
import { f32, pattern, writeSafetensors } from './safetensors-writer.js';

const B = 2;
const S = 5;
const K = 64;
const N = 48;
const HEADS = 4;

const W = pattern(N * K, 0.2);
const BIAS = pattern(N, 0.1, 1);
const LN_W = pattern(N, 0.3, 2).map((v) => 1 + v);
const LN_B = pattern(N, 0.1, 3);
const Q_NORM = pattern(N / HEADS, 0.2, 4).map((v) => 1 + v);
const X = pattern(B * S * K, 1, 5);

const checkpoint = writeSafetensors({
  'lin.weight': f32(W, [N, K]),
  'lin.bias': f32(BIAS, [N]),
  'ln.weight': f32(LN_W, [N]),
  'ln.bias': f32(LN_B, [N]),
  'qn.weight': f32(Q_NORM, [N / HEADS]),
});

async function runGraph(
  precision: Precision,
  build: (ctx: LayerContext, x: ReturnType<GraphBuilder['input']>) => ReturnType<GraphBuilder['input']>,
) {
  const weights = await openWeightSetAsync(
    async (path) => (path === 'c/model.safetensors' ? bytesSource(path, checkpoint) : undefined),
    'c',
    'model',
  );
  const b = new GraphBuilder('test');
  const x = b.input('x', DataType.FLOAT, ['batch', 'tokens', K]);
  const y = build({ b, weights, precision }, x);
  b.output(b.cast(y, DataType.FLOAT), 'y', ['batch', 'tokens', 'features']);
  const serialized = await serializeGraphAsync(b.build(), { externalThresholdBytes: 256 });
  const externalData = await Promise.all(
    serialized.externalFiles.map(async (file) => ({ path: file.path, data: await externalFileBytesAsync(file) })),
  );
  const session = await createSessionAsync({ label: 'test', model: serialized.model, externalData, backend: 'wasm' });
  try {
    const out = await session.runAsync({ x: { type: 'float32', data: X, dims: [B, S, K] } });
    return { y: out.y.data as Float32Array, serialized };
  } finally {
    await session.releaseAsync();
  }
}

function referenceLinear(): Float32Array {
  const out = new Float32Array(B * S * N);
  for (let r = 0; r < B * S; r++) {
    for (let n = 0; n < N; n++) {
      let sum = BIAS[n];
      for (let k = 0; k < K; k++) sum += X[r * K + k] * W[n * K + k];
      out[r * N + n] = sum;
    }
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function relL2(a: Float32Array, ref: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

describe('ONNX layers through onnxruntime-web (WASM)', () => {
  it('linear fp32 matches x·Wᵀ+b, weights in an external file', async () => {
    const { y, serialized } = await runGraph('fp32', (ctx, x) => linear(ctx, x, 'lin', { inFeatures: K, outFeatures: N }));
    expect(serialized.externalFiles).toHaveLength(1);
    expect(serialized.externalFiles[0].parts.map((p) => p.initializer)).toContain('lin.weight');
    expect(maxAbsDiff(y, referenceLinear())).toBeLessThan(1e-5);
  });

  it('linear fp16 (half weights and product) stays within half precision of the reference', async () => {
    const { y } = await runGraph('fp16', (ctx, x) => linear(ctx, x, 'lin', { inFeatures: K, outFeatures: N }));
    expect(relL2(y, referenceLinear())).toBeLessThan(2e-3);
  });

  it.each([
    ['int8', 5e-3],
    ['int4', 8e-2],
  ] as const)('linear %s (MatMulNBits, block 32) stays within its quantisation error', async (precision, tolerance) => {
    const { y, serialized } = await runGraph(precision, (ctx, x) => linear(ctx, x, 'lin', { inFeatures: K, outFeatures: N }));
    const error = relL2(y, referenceLinear());
    expect(error).toBeLessThan(tolerance);
    expect(error).toBeGreaterThan(0); // really quantised
    const weightBytes = serialized.externalFiles.flatMap((f) => f.parts).find((p) => p.initializer.startsWith('lin.weight_q'))!.length;
    expect(weightBytes).toBe((N * K * (precision === 'int8' ? 8 : 4)) / 8);
  });

  it('silu matches x·σ(x)', async () => {
    const { y } = await runGraph('fp32', (ctx, x) => activation(ctx, x, 'silu'));
    expect(
      maxAbsDiff(
        y,
        X.map((v) => v / (1 + Math.exp(-v))),
      ),
    ).toBeLessThan(1e-6);
  });

  it('layer norm with affine weights matches PyTorch LayerNorm', async () => {
    const { y } = await runGraph('fp32', (ctx, x) =>
      layerNorm(ctx, linear(ctx, x, 'lin', { inFeatures: K, outFeatures: N }), { dim: N, eps: 1e-6, prefix: 'ln' }),
    );
    const lin = referenceLinear();
    const ref = new Float32Array(lin.length);
    for (let r = 0; r < B * S; r++) {
      const row = lin.subarray(r * N, (r + 1) * N);
      const mean = row.reduce((a, v) => a + v, 0) / N;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / N;
      for (let n = 0; n < N; n++) ref[r * N + n] = ((row[n] - mean) / Math.sqrt(variance + 1e-6)) * LN_W[n] + LN_B[n];
    }
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5);
  });

  it('per-head RMS norm and fused attention match the definitions', async () => {
    const D = N / HEADS;
    const { y } = await runGraph('fp32', (ctx, x) => {
      const h = linear(ctx, x, 'lin', { inFeatures: K, outFeatures: N });
      const q = perHeadRmsNorm(ctx, h, HEADS, D, 'qn', 1e-6);
      return attention(ctx, q, h, h, HEADS);
    });
    const h = referenceLinear();
    const q = new Float32Array(h.length);
    for (let r = 0; r < B * S; r++) {
      for (let head = 0; head < HEADS; head++) {
        const base = r * N + head * D;
        let ms = 0;
        for (let d = 0; d < D; d++) ms += h[base + d] ** 2;
        const inv = 1 / Math.sqrt(ms / D + 1e-6);
        for (let d = 0; d < D; d++) q[base + d] = h[base + d] * inv * Q_NORM[d];
      }
    }
    const ref = new Float32Array(h.length);
    for (let bIdx = 0; bIdx < B; bIdx++) {
      for (let head = 0; head < HEADS; head++) {
        for (let i = 0; i < S; i++) {
          const scores = new Float64Array(S);
          for (let j = 0; j < S; j++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q[(bIdx * S + i) * N + head * D + d] * h[(bIdx * S + j) * N + head * D + d];
            scores[j] = dot / Math.sqrt(D);
          }
          const max = Math.max(...scores);
          const exps = scores.map((s) => Math.exp(s - max));
          const total = exps.reduce((a, v) => a + v, 0);
          for (let d = 0; d < D; d++) {
            let sum = 0;
            for (let j = 0; j < S; j++) sum += (exps[j] / total) * h[(bIdx * S + j) * N + head * D + d];
            ref[(bIdx * S + i) * N + head * D + d] = sum;
          }
        }
      }
    }
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5);
  });
});

describe('attention with an additive bias, and embedding lookups (WASM)', () => {
  const D = N / HEADS;

  /** softmax(scale·q·kᵀ + bias)·v per head, in float64; q = k = v = h [B, S, N]; bias [B, HEADS, S, S]. */
  function referenceAttention(
    h: Float32Array,
    bias: (b: number, head: number, i: number, j: number) => number,
    scale: number,
  ): Float32Array {
    const out = new Float32Array(h.length);
    for (let bIdx = 0; bIdx < B; bIdx++) {
      for (let head = 0; head < HEADS; head++) {
        for (let i = 0; i < S; i++) {
          const scores = Array.from({ length: S }, (_, j) => {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += h[(bIdx * S + i) * N + head * D + d] * h[(bIdx * S + j) * N + head * D + d];
            return dot * scale + bias(bIdx, head, i, j);
          });
          const max = Math.max(...scores);
          const exps = scores.map((s) => Math.exp(s - max));
          const total = exps.reduce((a, v) => a + v, 0);
          for (let d = 0; d < D; d++) {
            let sum = 0;
            for (let j = 0; j < S; j++) sum += (exps[j] / total) * h[(bIdx * S + j) * N + head * D + d];
            out[(bIdx * S + i) * N + head * D + d] = sum;
          }
        }
      }
    }
    return out;
  }

  it('a causal bias (lowest float above the diagonal) masks later tokens exactly', async () => {
    const lowest = -3.4028234663852886e38;
    const bias = new Float32Array(B * HEADS * S * S);
    for (let p = 0; p < bias.length; p++) if (p % S > Math.floor(p / S) % S) bias[p] = lowest;
    const { y } = await runGraph('fp32', (ctx, x) => {
      const h = linear(ctx, x, 'lin', { inFeatures: K, outFeatures: N });
      return attentionWithBias(ctx, h, h, h, HEADS, ctx.b.float(bias, DataType.FLOAT, [B, HEADS, S, S]));
    });
    const ref = referenceAttention(referenceLinear(), (_b, _h, i, j) => (j > i ? -Infinity : 0), 1 / Math.sqrt(D));
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5);
    // The first token sees only itself: its output is its own value vector.
    const h = referenceLinear();
    expect(maxAbsDiff(y.subarray(0, N), h.subarray(0, N))).toBeLessThan(1e-6);
  });

  it('a per-head bias with scale 1 (T5: no 1/√d) matches the definition', async () => {
    const bias = pattern(B * HEADS * S * S, 2, 7);
    const { y } = await runGraph('fp32', (ctx, x) => {
      const h = linear(ctx, x, 'lin', { inFeatures: K, outFeatures: N });
      return attentionWithBias(ctx, h, h, h, HEADS, ctx.b.float(bias, DataType.FLOAT, [B, HEADS, S, S]), { scale: 1 });
    });
    const ref = referenceAttention(referenceLinear(), (bIdx, head, i, j) => bias[((bIdx * HEADS + head) * S + i) * S + j], 1);
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-4);
  });

  it('the unfused form matches the definition too: broadcast causal bias, per-head bias with scale 1, no bias', async () => {
    const causal = new Float32Array(S * S).map((_, p) => (p % S > Math.floor(p / S) ? -3.4028234663852886e38 : 0));
    const bias = pattern(HEADS * S * S, 2, 7);
    const { y: masked } = await runGraph('fp32', (ctx, x) => {
      const h = linear(ctx, x, 'lin', { inFeatures: K, outFeatures: N });
      return unfusedAttention(ctx, h, h, h, HEADS, D, ctx.b.float(causal, DataType.FLOAT, [1, 1, S, S]));
    });
    expect(
      maxAbsDiff(
        masked,
        referenceAttention(referenceLinear(), (_b, _h, i, j) => (j > i ? -Infinity : 0), 1 / Math.sqrt(D)),
      ),
    ).toBeLessThan(1e-5);
    const { y: biased } = await runGraph('fp32', (ctx, x) => {
      const h = linear(ctx, x, 'lin', { inFeatures: K, outFeatures: N });
      return unfusedAttention(ctx, h, h, h, HEADS, D, ctx.b.float(bias, DataType.FLOAT, [1, HEADS, S, S]), { scale: 1 });
    });
    expect(
      maxAbsDiff(
        biased,
        referenceAttention(referenceLinear(), (_b, head, i, j) => bias[(head * S + i) * S + j], 1),
      ),
    ).toBeLessThan(1e-4);
    const { y: plain } = await runGraph('fp32', (ctx, x) => {
      const h = linear(ctx, x, 'lin', { inFeatures: K, outFeatures: N });
      return unfusedAttention(ctx, h, h, h, HEADS, D);
    });
    expect(
      maxAbsDiff(
        plain,
        referenceAttention(referenceLinear(), () => 0, 1 / Math.sqrt(D)),
      ),
    ).toBeLessThan(1e-5);
  });

  it.each([
    ['F16', 'fp32'],
    ['F32', 'fp32'],
    ['F32', 'fp16'],
    ['F16', 'fp16'],
  ] as const)('embedding: a %s table at %s gives float32 rows of ids [batch, tokens]', async (dtype, precision) => {
    const vocab = 11;
    const dim = 6;
    const table = pattern(vocab * dim, 3, 8);
    const halfBits = Uint16Array.from(table, (v) => floatToHalf(v));
    const tensor = dtype === 'F16' ? { dtype, shape: [vocab, dim], data: new Uint8Array(halfBits.buffer) } : f32(table, [vocab, dim]);
    const bytes = writeSafetensors({ 'emb.weight': tensor });
    const weights = await openWeightSetAsync(
      async (path) => (path === 'c/model.safetensors' ? bytesSource(path, bytes) : undefined),
      'c',
      'model',
    );
    const b = new GraphBuilder('embedding');
    const ids = b.input('ids', DataType.INT64, ['batch', 'tokens']);
    b.output(embedding({ b, weights, precision }, ids, 'emb.weight', vocab, dim), 'rows', ['batch', 'tokens', dim]);
    const graph = b.build();
    // Stored as float16 exactly when the precision is half (a float16 Gather needs WebGPU's shader-f16).
    expect(graph.initializers.find((i) => i.name === 'emb.weight')!.source.dataType).toBe(
      precision === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT,
    );
    const serialized = await serializeGraphAsync(graph);
    const session = await createSessionAsync({ label: 'embedding', model: serialized.model, backend: 'wasm' });
    const picks = [3, 0, 10, 3, 7, 1];
    const out = await session.runAsync({ ids: { type: 'int64', data: BigInt64Array.from(picks, BigInt), dims: [2, 3] } });
    await session.releaseAsync();
    const rounded = dtype === 'F16' || precision === 'fp16' ? Float32Array.from(halfBits, (h) => halfToFloat(h)) : table;
    const expected = picks.flatMap((id) => Array.from(rounded.subarray(id * dim, (id + 1) * dim)));
    expect(out.rows.dims).toEqual([2, 3, dim]);
    expect(Array.from(out.rows.data as Float32Array)).toEqual(expected);
  });
});

describe('convolution layers through onnxruntime-web (WASM)', () => {
  // NCHW input [1, CI, IH, IW]; PyTorch Conv2d weight [CO, CI, k, k] and GroupNorm over CO channels.
  const CI = 4;
  const CO = 8;
  const IH = 5;
  const IW = 6;
  const GROUPS = 2;
  const CONV_W = pattern(CO * CI * 9, 0.3, 6);
  const CONV_B = pattern(CO, 0.2, 7);
  const GN_W = pattern(CO, 0.3, 8).map((v) => 1 + v);
  const GN_B = pattern(CO, 0.2, 9);
  const IMAGE = pattern(CI * IH * IW, 1, 10);
  const convCheckpoint = writeSafetensors({
    'conv.weight': f32(CONV_W, [CO, CI, 3, 3]),
    'conv.bias': f32(CONV_B, [CO]),
    'gn.weight': f32(GN_W, [CO]),
    'gn.bias': f32(GN_B, [CO]),
  });

  async function runImage(
    precision: Precision,
    build: (ctx: LayerContext, x: ReturnType<GraphBuilder['input']>) => ReturnType<GraphBuilder['input']>,
  ) {
    const weights = await openWeightSetAsync(
      async (path) => (path === 'c/model.safetensors' ? bytesSource(path, convCheckpoint) : undefined),
      'c',
      'model',
    );
    const b = new GraphBuilder('test');
    const x = b.input('x', DataType.FLOAT, [1, CI, 'h', 'w']);
    b.output(b.cast(build({ b, weights, precision }, x), DataType.FLOAT), 'y', [1, 'c', 'h', 'w']);
    const serialized = await serializeGraphAsync(b.build(), { externalThresholdBytes: 256 });
    const externalData = await Promise.all(
      serialized.externalFiles.map(async (file) => ({ path: file.path, data: await externalFileBytesAsync(file) })),
    );
    const session = await createSessionAsync({ label: 'test', model: serialized.model, externalData, backend: 'wasm' });
    try {
      const out = await session.runAsync({ x: { type: 'float32', data: IMAGE, dims: [1, CI, IH, IW] } });
      return { y: out.y.data as Float32Array, dims: out.y.dims };
    } finally {
      await session.releaseAsync();
    }
  }

  /** Direct convolution, zero padding [top, left, bottom, right]. */
  function referenceConv(stride: number, pads: number[]): { y: Float32Array; oh: number; ow: number } {
    const oh = Math.floor((IH + pads[0] + pads[2] - 3) / stride) + 1;
    const ow = Math.floor((IW + pads[1] + pads[3] - 3) / stride) + 1;
    const y = new Float32Array(CO * oh * ow);
    for (let o = 0; o < CO; o++) {
      for (let r = 0; r < oh; r++) {
        for (let c = 0; c < ow; c++) {
          let sum = CONV_B[o];
          for (let i = 0; i < CI; i++) {
            for (let kr = 0; kr < 3; kr++) {
              for (let kc = 0; kc < 3; kc++) {
                const ir = r * stride + kr - pads[0];
                const ic = c * stride + kc - pads[1];
                if (ir >= 0 && ir < IH && ic >= 0 && ic < IW)
                  sum += IMAGE[(i * IH + ir) * IW + ic] * CONV_W[((o * CI + i) * 3 + kr) * 3 + kc];
              }
            }
          }
          y[(o * oh + r) * ow + c] = sum;
        }
      }
    }
    return { y, oh, ow };
  }

  it('conv2d matches a direct convolution, "same" padding and the VAE downsampler\'s (0, 1, 0, 1) padding with stride 2', async () => {
    const same = await runImage('fp32', (ctx, x) => conv2d(ctx, x, 'conv', { inChannels: CI, outChannels: CO, kernel: 3 }));
    expect(same.dims).toEqual([1, CO, IH, IW]);
    expect(maxAbsDiff(same.y, referenceConv(1, [1, 1, 1, 1]).y)).toBeLessThan(1e-5);
    const down = await runImage('fp32', (ctx, x) =>
      conv2d(ctx, x, 'conv', { inChannels: CI, outChannels: CO, kernel: 3, stride: 2, pads: [0, 0, 1, 1] }),
    );
    const want = referenceConv(2, [0, 0, 1, 1]);
    expect(down.dims).toEqual([1, CO, want.oh, want.ow]);
    expect(maxAbsDiff(down.y, want.y)).toBeLessThan(1e-5);
    const half = await runImage('fp16', (ctx, x) => conv2d(ctx, x, 'conv', { inChannels: CI, outChannels: CO, kernel: 3 }));
    expect(relL2(half.y, referenceConv(1, [1, 1, 1, 1]).y)).toBeLessThan(2e-3);
  });

  it('groupNorm matches PyTorch GroupNorm (per-group statistics, per-channel affine)', async () => {
    const { y } = await runImage('fp32', (ctx, x) => {
      const conv = conv2d(ctx, x, 'conv', { inChannels: CI, outChannels: CO, kernel: 3 });
      return groupNorm(ctx, conv, { groups: GROUPS, channels: CO, eps: 1e-6, prefix: 'gn' });
    });
    const conv = referenceConv(1, [1, 1, 1, 1]).y;
    const per = (CO / GROUPS) * IH * IW;
    const ref = new Float32Array(conv.length);
    for (let g = 0; g < GROUPS; g++) {
      const group = conv.subarray(g * per, (g + 1) * per);
      const mean = group.reduce((a, v) => a + v, 0) / per;
      const variance = group.reduce((a, v) => a + (v - mean) ** 2, 0) / per;
      for (let i = 0; i < per; i++) {
        const channel = Math.floor((g * per + i) / (IH * IW));
        ref[g * per + i] = ((group[i] - mean) / Math.sqrt(variance + 1e-6)) * GN_W[channel] + GN_B[channel];
      }
    }
    expect(maxAbsDiff(y, ref)).toBeLessThan(1e-5);
  });
});
