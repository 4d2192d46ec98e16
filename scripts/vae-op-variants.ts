/**
 * Alternative forms of the VAE's two most frequent ops, for the benchmark scripts
 * (sd3-graphs-bench.ts on WASM, sd3-graphs-webgpu.ts on WebGPU): SiLU and GroupNorm(32 groups)
 * with a per-channel affine, on a [1, C, S, S] float32 input.
 */
import { DataType } from '../worker/engine/onnx/data-types.js';
import { GraphBuilder, type BuiltGraph, type Value } from '../worker/engine/onnx/graph-builder.js';

export interface OpVariant {
  name: string;
  /** Variants of one op share a family; the first of a family is the reference. */
  family: 'SiLU' | 'GroupNorm';
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
      (b, x) => b.op('GroupNormalization', [x, b.float(weight, DataType.FLOAT, [C]), b.float(bias, DataType.FLOAT, [C])], { num_groups: groups, epsilon: { float: 1e-6 } }),
      21,
    ),
  ];
}

/** A deterministic input with channel-dependent scale (no Math.random). */
export function variantInput(channels: number, side: number): Float32Array {
  return new Float32Array(channels * side * side).map((_, i) => Math.sin(i * 0.37) * (1 + (Math.floor(i / (side * side)) % 7)));
}
