/**
 * Alternative forms of frequent ops, for the benchmark scripts (sd3-graphs-bench.ts on WASM,
 * sd3-graphs-webgpu.ts on WebGPU): the VAE's SiLU and GroupNorm(32 groups) with a per-channel
 * affine on a [1, C, S, S] float32 input, and a Linear layer on [B, T, K] tokens.
 */
import { DataType } from '../worker/engine/onnx/data-types.js';
import { GraphBuilder, type BuiltGraph, type Value } from '../worker/engine/onnx/graph-builder.js';

export interface OpVariant {
  name: string;
  /** Variants of one op share a family; the first of a family is the reference. */
  family: 'SiLU' | 'GroupNorm' | 'Linear';
  graph: BuiltGraph;
}

export function vaeOpVariants(channels: number, groups = 32): OpVariant[] {
  const C = channels;
  const weight = new Float32Array(C).map((_, i) => 1 + 0.01 * i);
  const bias = new Float32Array(C).map((_, i) => 0.5 - 0.005 * i);
  const variant = (name: string, family: OpVariant['family'], build: (b: GraphBuilder, x: Value) => Value, opset = 17): OpVariant => {
    const b = new GraphBuilder(name);
    const x = b.input('x', DataType.FLOAT, [1, C, 'h', 'w']);
    b.output(build(b, x), 'y', [1, C, 'h', 'w']);
    const graph = b.build();
    return { name, family, graph: { ...graph, opsets: graph.opsets.map((o) => (o.domain === '' ? { ...o, version: opset } : o)) } };
  };
  return [
    variant('SiLU as Mul(x, Sigmoid(x))', 'SiLU', (b, x) => b.op('Mul', [x, b.op('Sigmoid', [x])])),
    variant('SiLU as com.microsoft QuickGelu(alpha 1)', 'SiLU', (b, x) => b.msOp('QuickGelu', [x], { alpha: { float: 1 } })),
    variant('GroupNorm as Reshape, InstanceNormalization, Reshape, Mul, Add', 'GroupNorm', (b, x) => {
      const grouped = b.op('Reshape', [x, b.int64([0, groups, -1])]);
      const ones = b.float(new Float32Array(groups).fill(1), DataType.FLOAT, [groups]);
      const zeros = b.float(new Float32Array(groups), DataType.FLOAT, [groups]);
      const normed = b.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: { float: 1e-6 } });
      const back = b.op('Reshape', [normed, b.op('Shape', [x], undefined, DataType.INT64)]);
      return b.op('Add', [b.op('Mul', [back, b.float(weight, DataType.FLOAT, [C, 1, 1])]), b.float(bias, DataType.FLOAT, [C, 1, 1])]);
    }),
    variant(
      'GroupNorm as GroupNormalization-21 (opset 21 graph)',
      'GroupNorm',
      (b, x) =>
        b.op('GroupNormalization', [x, b.float(weight, DataType.FLOAT, [C]), b.float(bias, DataType.FLOAT, [C])], {
          num_groups: groups,
          epsilon: { float: 1e-6 },
        }),
      21,
    ),
  ];
}

/** A deterministic input with channel-dependent scale (no Math.random). */
export function variantInput(channels: number, side: number): Float32Array {
  return new Float32Array(channels * side * side).map((_, i) => Math.sin(i * 0.37) * (1 + (Math.floor(i / (side * side)) % 7)));
}

/**
 * A Linear(K → N) with bias on [batch, tokens, K]: MatMul with the transposed weight plus Add (what
 * layers.ts builds), or Gemm with transB on the flattened tokens, whose weight keeps PyTorch's
 * [N, K] layout (so a checkpoint in the compute type could be used without a transposed copy).
 */
export function linearVariants(k: number, n: number): OpVariant[] {
  const w = new Float32Array(n * k).map((_, i) => Math.sin(i * 0.013) * 0.05);
  const bias = new Float32Array(n).map((_, i) => Math.cos(i * 0.07) * 0.1);
  const transposed = new Float32Array(n * k);
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) transposed[c * n + r] = w[r * k + c];
  const variant = (name: string, build: (b: GraphBuilder, x: Value) => Value): OpVariant => {
    const b = new GraphBuilder(name);
    const x = b.input('x', DataType.FLOAT, ['batch', 'tokens', k]);
    b.output(build(b, x), 'y', ['batch', 'tokens', n]);
    return { name, family: 'Linear', graph: b.build() };
  };
  return [
    variant(`Linear(${k} → ${n}) as MatMul(x, Wᵀ) + Add`, (b, x) =>
      b.op('Add', [b.op('MatMul', [x, b.float(transposed, DataType.FLOAT, [k, n])]), b.float(bias, DataType.FLOAT, [n])]),
    ),
    variant(`Linear(${k} → ${n}) as Reshape, Gemm(transB, W [N, K]), Reshape`, (b, x) => {
      const flat = b.op('Reshape', [x, b.int64([-1, k])]);
      const y = b.op('Gemm', [flat, b.float(w, DataType.FLOAT, [n, k]), b.float(bias, DataType.FLOAT, [n])], { transB: 1 });
      return b.op('Reshape', [
        y,
        b.op('Concat', [b.op('Slice', [b.op('Shape', [x], undefined, DataType.INT64), b.int64([0]), b.int64([2])]), b.int64([n])], {
          axis: 0,
        }),
      ]);
    }),
  ];
}
