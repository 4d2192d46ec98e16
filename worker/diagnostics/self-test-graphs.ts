/**
 * The two graphs the diagnostics self-test runs on every backend, built with the engine's own graph
 * builder, with deterministic inputs and plain-JavaScript references:
 *
 *   mlp:       y = softmax(GELU(x·W1 + b1)·W2), x [1, 64, 64]: MatMul, Add, Gelu-as-Erf, Softmax, the
 *              kernels every model here runs;
 *   attention: com.microsoft MultiHeadAttention(q, k, v) with 48 tokens, 2 heads of 32, against
 *              softmax(q·kᵀ/√32)·v per head. onnxruntime-web 1.30's fused kernel has been measured
 *              wrong on Chromium's SwiftShader WebGPU adapter from 32 tokens on; this check shows
 *              whether the user's GPU has the same fault.
 */
import { DataType } from '../engine/onnx/data-types.js';
import { GraphBuilder } from '../engine/onnx/graph-builder.js';
import { serializeGraphAsync } from '../engine/onnx/serialize-graph.js';

export interface SelfTestGraph {
  name: string;
  model: Uint8Array;
  feeds: Record<string, { data: Float32Array; dims: number[] }>;
  output: string;
  expected: Float32Array;
}

/** Deterministic values in about [-scale, scale]: no PRNG state to carry. */
function wave(n: number, phase: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sin(0.37 * i + phase) * Math.cos(0.011 * i + phase / 3);
  return out;
}

function bytesOf(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is 1.5e-7 accurate: ample for a 1e-3 check of float32 kernels.
  const sign = Math.sign(x);
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return sign * y;
}

function matmul(a: Float32Array, b: Float32Array, rows: number, inner: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < inner; k++) {
      const av = a[r * inner + k];
      for (let c = 0; c < cols; c++) out[r * cols + c] += av * b[k * cols + c];
    }
  return out;
}

function softmaxRows(x: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, x[r * cols + c]);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += out[r * cols + c] = Math.exp(x[r * cols + c] - max);
    for (let c = 0; c < cols; c++) out[r * cols + c] /= sum;
  }
  return out;
}

export async function buildMlpSelfTestAsync(): Promise<SelfTestGraph> {
  const tokens = 64;
  const width = 64;
  const b = new GraphBuilder('flowfill_self_test_mlp');
  const w1 = wave(width * width, 1, 0.2);
  const b1 = wave(width, 2, 0.1);
  const w2 = wave(width * width, 3, 0.2);
  const x = b.input('x', DataType.FLOAT, [1, tokens, width]);
  const weight = (name: string, values: Float32Array, dims: number[]) =>
    b.initializer(name, { kind: 'bytes', dataType: DataType.FLOAT, dims, bytes: bytesOf(values) });
  const h = b.op('Add', [b.op('MatMul', [x, weight('w1', w1, [width, width])]), weight('b1', b1, [width])]);
  // GELU written out with Erf, as the exported graphs have it.
  const gelu = b.op('Mul', [
    b.op('Mul', [h, b.float(0.5)]),
    b.op('Add', [b.op('Erf', [b.op('Div', [h, b.float(Math.SQRT2)])]), b.float(1)]),
  ]);
  const y = b.op('Softmax', [b.op('MatMul', [gelu, weight('w2', w2, [width, width])])], { axis: -1 });
  b.output(y, 'y', [1, tokens, width]);
  const input = wave(tokens * width, 0, 2);

  const hRef = matmul(input, w1, tokens, width, width).map((v, i) => v + b1[i % width]);
  const geluRef = hRef.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
  const expected = softmaxRows(matmul(geluRef, w2, tokens, width, width), width);
  const serialized = await serializeGraphAsync(b.build(), { externalThresholdBytes: Infinity });
  return { name: 'mlp', model: serialized.model, feeds: { x: { data: input, dims: [1, tokens, width] } }, output: 'y', expected };
}

export const ATTENTION_CHECK = { tokens: 48, heads: 2, headSize: 32 } as const;

export async function buildAttentionCheckAsync(): Promise<SelfTestGraph> {
  const { tokens, heads, headSize } = ATTENTION_CHECK;
  const hidden = heads * headSize;
  const b = new GraphBuilder('flowfill_self_test_attention');
  const q = b.input('q', DataType.FLOAT, [1, tokens, hidden]);
  const k = b.input('k', DataType.FLOAT, [1, tokens, hidden]);
  const v = b.input('v', DataType.FLOAT, [1, tokens, hidden]);
  b.output(b.msOp('MultiHeadAttention', [q, k, v], { num_heads: heads }), 'out', [1, tokens, hidden]);
  const qv = wave(tokens * hidden, 0);
  const kv = wave(tokens * hidden, 1);
  const vv = wave(tokens * hidden, 2);

  const expected = new Float32Array(tokens * hidden);
  const scale = 1 / Math.sqrt(headSize);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < tokens; i++) {
      const scores = new Float32Array(tokens);
      for (let j = 0; j < tokens; j++) {
        let dot = 0;
        for (let d = 0; d < headSize; d++) dot += qv[i * hidden + h * headSize + d] * kv[j * hidden + h * headSize + d];
        scores[j] = dot * scale;
      }
      const p = softmaxRows(scores, tokens);
      for (let d = 0; d < headSize; d++) {
        let sum = 0;
        for (let j = 0; j < tokens; j++) sum += p[j] * vv[j * hidden + h * headSize + d];
        expected[i * hidden + h * headSize + d] = sum;
      }
    }
  }
  const serialized = await serializeGraphAsync(b.build());
  const dims = [1, tokens, hidden];
  return {
    name: 'attention',
    model: serialized.model,
    feeds: { q: { data: qv, dims }, k: { data: kv, dims }, v: { data: vv, dims } },
    output: 'out',
    expected,
  };
}
