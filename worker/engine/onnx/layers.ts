/**
 * The building blocks every SD3-family graph is made of, with one precision policy:
 *
 * - 'fp32': float32 weights and activations.
 * - 'fp16': float16 weights and matrix products (needs WebGPU `shader-f16`); the residual stream,
 *   norms' statistics, attention softmax and graph inputs/outputs stay float32, because half
 *   precision overflows there in DiTs (sums of many residual updates, large attention logits).
 * - 'int8' / 'int4': the big Linear weights block-quantised for com.microsoft MatMulNBits
 *   (weight-only; activations float32), everything else float32. Runs where float32 runs.
 *
 * Weights come from a checkpoint in PyTorch's naming and layout (Linear weight [out, in]); the
 * functions take the checkpoint prefix ("transformer_blocks.3.attn.to_q") and check shapes against
 * what the config implies, so a mismatched checkpoint fails with the tensor's name.
 */
import type { SafetensorsTensor, WeightSet } from '../safetensors.js';
import { readFloat32Async } from '../safetensors.js';
import { DataType, fromFloat32 } from './data-types.js';
import { transpose2d } from './initializer-source.js';
import type { GraphBuilder, Value } from './graph-builder.js';
import { quantizeBlockwise } from './quantize.js';

export type Precision = 'fp32' | 'fp16' | 'int8' | 'int4';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8', 'int4'];

export interface LayerContext {
  b: GraphBuilder;
  weights: WeightSet;
  precision: Precision;
  /**
   * How `attention` is emitted: 'fused' (default; com.microsoft MultiHeadAttention) or 'unfused'
   * (MatMul/Softmax/MatMul) for devices whose fused kernel fails the check in
   * ../fused-attention-check.ts.
   */
  attention?: AttentionForm;
  /**
   * How a Linear whose weight is stored int8 (under 'fp32') multiplies: 'dequantized' (default;
   * Cast → Mul folded to a float32 weight at session creation, float32 MatMul, right on every
   * backend) or 'dynamic-quantized' (com.microsoft DynamicQuantizeMatMul: the activations are
   * quantised to uint8 per call and the product runs on onnxruntime's integer GEMM, up to 2–3x
   * the float32 MatMul on WASM, slower for the smallest Linears; CPU/WASM only, activations lose
   * precision).
   */
  int8MatMul?: Int8MatMul;
}

export const INT8_MATMULS = ['dequantized', 'dynamic-quantized'] as const;
export type Int8MatMul = (typeof INT8_MATMULS)[number];

/** Whether `value` (a flag's text) names an Int8MatMul. */
export function isInt8MatMul(value: unknown): value is Int8MatMul {
  return INT8_MATMULS.includes(value as Int8MatMul);
}

/** Element type of matrix-product activations under `precision`. */
export function computeType(precision: Precision): DataType {
  return precision === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
}

/** Block size for MatMulNBits: 32 keeps int4 error small; K must be at least this large to quantise. */
export const QUANT_BLOCK_SIZE = 32;

/** A checkpoint tensor as an initializer of `dataType` (shape kept), named after the tensor. */
export function weight(
  ctx: LayerContext,
  name: string,
  shape: readonly number[],
  dataType: DataType = DataType.FLOAT,
  why?: string,
): Value {
  const tensor = ctx.weights.get(name, shape, why);
  return ctx.b.initializer(name, { kind: 'tensor', tensor, dataType, dims: [...tensor.shape] });
}

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  /** Default true: `<prefix>.bias` exists. */
  bias?: boolean;
  /** Default true: int8/int4 quantise this layer (small or sensitive layers pass false). */
  quantize?: boolean;
}

/**
 * y = x · Wᵀ + b for PyTorch's Linear (`<prefix>.weight` [out, in], `<prefix>.bias` [out]) on the
 * last axis of `x`. The result has the compute type of the precision (float16 for 'fp16').
 *
 * A weight stored as int8 ([out, in], with `<prefix>.weight_scale` [out] float32: symmetric, one
 * scale per output channel, w = q · scale) keeps its int8 bytes under 'fp32': the graph holds
 * q and the scales and dequantises them with Cast → Mul, which onnxruntime folds into a float32
 * weight once, when the session is created (the form model/flowfill/quantize.py writes). Under the
 * other precisions the dequantised values go through the usual conversion.
 */
export function linear(ctx: LayerContext, x: Value, prefix: string, options: LinearOptions): Value {
  const { b, precision } = ctx;
  const { inFeatures: k, outFeatures: n } = options;
  const tensor = ctx.weights.get(`${prefix}.weight`, [n, k], `a Linear(${k} → ${n}) per config.json`);
  const readWeight = linearWeightReader(ctx, tensor, prefix, n, k);
  const quantized = (precision === 'int8' || precision === 'int4') && options.quantize !== false && k >= QUANT_BLOCK_SIZE;
  let y: Value;
  if (quantized) {
    const bits = precision === 'int8' ? 8 : 4;
    y = matMulNBits(ctx, b.cast(x, DataType.FLOAT), readWeight, prefix, bits, n, k);
  } else if (tensor.dataType === DataType.INT8 && precision === 'fp32' && ctx.int8MatMul === 'dynamic-quantized') {
    const bias = options.bias === false ? undefined : linearBias(ctx, prefix, n, k, DataType.FLOAT);
    return dynamicQuantizedMatMul(ctx, b.cast(x, DataType.FLOAT), tensor, prefix, n, k, bias);
  } else if (tensor.dataType === DataType.INT8 && precision === 'fp32') {
    y = b.op('MatMul', [b.cast(x, DataType.FLOAT), int8Dequantized(ctx, tensor, prefix, n, k)]);
  } else {
    const type = computeType(precision);
    const w =
      tensor.dataType === DataType.INT8
        ? b.initializer(`${prefix}.weight`, {
            kind: 'derived',
            dataType: type,
            dims: [k, n],
            byteLength: k * n * (type === DataType.FLOAT ? 4 : 2),
            produce: async () => fromFloat32(transpose2d(await readWeight(), n, k), type as typeof DataType.FLOAT),
          })
        : b.initializer(`${prefix}.weight`, { kind: 'tensor', tensor, dataType: type, dims: [k, n], transpose: true });
    y = b.op('MatMul', [b.cast(x, type), w]);
  }
  if (options.bias !== false) y = b.op('Add', [y, linearBias(ctx, prefix, n, k, y.type)]);
  return y;
}

/** `<prefix>.bias` [n] as an initializer of `dataType`. */
function linearBias(ctx: LayerContext, prefix: string, n: number, k: number, dataType: DataType): Value {
  const bias = ctx.weights.get(`${prefix}.bias`, [n], `a Linear(${k} → ${n}) with bias per config.json`);
  return ctx.b.initializer(`${prefix}.bias`, { kind: 'tensor', tensor: bias, dataType, dims: [n] });
}

/** The Linear weight [n, k] as float32 values, dequantised when it is stored as int8 with per-output-channel scales. */
function linearWeightReader(
  ctx: LayerContext,
  tensor: SafetensorsTensor,
  prefix: string,
  n: number,
  k: number,
): () => Promise<Float32Array> {
  if (tensor.dataType !== DataType.INT8) return () => readFloat32Async(tensor);
  const scale = ctx.weights.get(`${prefix}.weight_scale`, [n], `the per-output-channel scales of the int8 Linear(${k} → ${n}) weight`);
  return async () => {
    const q = new Int8Array((await tensor.file.readAsync(tensor.offset, tensor.length)).slice().buffer);
    const scales = await readFloat32Async(scale);
    const values = new Float32Array(n * k);
    for (let row = 0; row < n; row++) for (let col = 0; col < k; col++) values[row * k + col] = q[row * k + col] * scales[row];
    return values;
  };
}

/** W [k, n] = Cast(q [k, n] int8) · scale [n]: an int8 weight that stays int8 in the file and is folded to float32 by onnxruntime. */
function int8Dequantized(ctx: LayerContext, tensor: SafetensorsTensor, prefix: string, n: number, k: number): Value {
  const { q, scales } = int8WeightAndScales(ctx, tensor, prefix, n, k);
  return ctx.b.op('Mul', [ctx.b.cast(q, DataType.FLOAT), scales]);
}

/** x · (q · scale) + bias by com.microsoft DynamicQuantizeMatMul (int8 weight [k, n], per-column scales, bias fused). */
function dynamicQuantizedMatMul(
  ctx: LayerContext,
  x: Value,
  tensor: SafetensorsTensor,
  prefix: string,
  n: number,
  k: number,
  bias: Value | undefined,
): Value {
  const { q, scales } = int8WeightAndScales(ctx, tensor, prefix, n, k);
  return ctx.b.msOp('DynamicQuantizeMatMul', bias ? [x, q, scales, '', bias] : [x, q, scales], undefined, DataType.FLOAT);
}

/** The int8 weight transposed to [k, n] (still int8) and its per-output-channel scales [n]. */
function int8WeightAndScales(
  ctx: LayerContext,
  tensor: SafetensorsTensor,
  prefix: string,
  n: number,
  k: number,
): { q: Value; scales: Value } {
  const { b } = ctx;
  const scale = ctx.weights.get(`${prefix}.weight_scale`, [n], `the per-output-channel scales of the int8 Linear(${k} → ${n}) weight`);
  const q = b.initializer(`${prefix}.weight_int8`, {
    kind: 'derived',
    dataType: DataType.INT8,
    dims: [k, n],
    byteLength: k * n,
    produce: async () => {
      const rows = await tensor.file.readAsync(tensor.offset, tensor.length);
      const out = new Uint8Array(k * n);
      for (let row = 0; row < n; row++) for (let col = 0; col < k; col++) out[col * n + row] = rows[row * k + col];
      return out;
    },
  });
  const scales = b.initializer(`${prefix}.weight_scale`, { kind: 'tensor', tensor: scale, dataType: DataType.FLOAT, dims: [n] });
  return { q, scales };
}

function matMulNBits(
  ctx: LayerContext,
  x: Value,
  readWeight: () => Promise<Float32Array>,
  prefix: string,
  bits: 4 | 8,
  n: number,
  k: number,
): Value {
  const { b } = ctx;
  const blockSize = QUANT_BLOCK_SIZE;
  const nBlocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  // Both initializers come from one quantisation; keep it until the second is written.
  let pending: Promise<ReturnType<typeof quantizeBlockwise>> | undefined;
  const quantized = () => (pending ??= readWeight().then((w) => quantizeBlockwise(w, n, k, bits, blockSize)));
  const packed = b.initializer(`${prefix}.weight_q${bits}`, {
    kind: 'derived',
    dataType: DataType.UINT8,
    dims: [n, nBlocks, blob],
    byteLength: n * nBlocks * blob,
    produce: async () => (await quantized()).packed,
  });
  const scales = b.initializer(`${prefix}.weight_scales`, {
    kind: 'derived',
    dataType: DataType.FLOAT,
    dims: [n * nBlocks],
    byteLength: n * nBlocks * 4,
    produce: async () => {
      const { scales } = await quantized();
      pending = undefined;
      return fromFloat32(scales, DataType.FLOAT);
    },
  });
  return b.msOp('MatMulNBits', [x, packed, scales], { K: k, N: n, bits, block_size: blockSize, accuracy_level: 0 }, DataType.FLOAT);
}

/** 1 or 0 constant vectors for norms without an affine part, one per graph and size (not one per norm). */
const filledConstants = new WeakMap<GraphBuilder, Map<string, Value>>();
function filled(b: GraphBuilder, value: number, size: number, type: DataType): Value {
  let cache = filledConstants.get(b);
  if (!cache) filledConstants.set(b, (cache = new Map()));
  const key = `${value}:${size}:${type}`;
  let constant = cache.get(key);
  if (!constant) cache.set(key, (constant = b.float(new Float32Array(size).fill(value), type, [size])));
  return constant;
}

export interface NormOptions {
  dim: number;
  eps: number;
  /** Checkpoint prefix of `.weight`/`.bias`; omitted for elementwise_affine=False. */
  prefix?: string;
  /** Default true when prefix is given. */
  bias?: boolean;
}

/**
 * LayerNorm over the last axis, computed in float32 (statistics of half-precision activations
 * lose too much), returning the input's element type unless `outType` says otherwise.
 */
export function layerNorm(ctx: LayerContext, x: Value, options: NormOptions, outType: DataType = x.type): Value {
  const { b } = ctx;
  const input = b.cast(x, DataType.FLOAT);
  const scale = options.prefix ? weight(ctx, `${options.prefix}.weight`, [options.dim]) : filled(b, 1, options.dim, DataType.FLOAT);
  const hasBias = options.prefix !== undefined && options.bias !== false;
  const bias = hasBias ? weight(ctx, `${options.prefix}.bias`, [options.dim]) : filled(b, 0, options.dim, DataType.FLOAT);
  const y = b.op('LayerNormalization', [input, scale, bias], { axis: -1, epsilon: { float: options.eps } });
  return b.cast(y, outType);
}

/** RMSNorm over the last axis: x · rsqrt(mean(x²) + eps) · weight, statistics in float32. */
export function rmsNorm(ctx: LayerContext, x: Value, options: NormOptions, outType: DataType = x.type): Value {
  const { b } = ctx;
  const input = b.cast(x, DataType.FLOAT);
  const scale = options.prefix ? weight(ctx, `${options.prefix}.weight`, [options.dim]) : filled(b, 1, options.dim, DataType.FLOAT);
  // SimplifiedLayerNormalization lives in onnxruntime's default (ai.onnx) domain despite being a contrib op.
  const y = b.op('SimplifiedLayerNormalization', [input, scale], { axis: -1, epsilon: { float: options.eps } });
  return b.cast(y, outType);
}

export type Activation = 'silu' | 'gelu' | 'gelu-tanh' | 'quick-gelu';

export function activation(ctx: LayerContext, x: Value, kind: Activation): Value {
  const { b } = ctx;
  switch (kind) {
    case 'silu':
      // x·σ(x) as one com.microsoft QuickGelu with alpha 1: the same values as Mul(x, Sigmoid(x))
      // (bit-identical on WASM), one node and one pass over memory fewer; about 10 % faster on WASM,
      // no slower on the WebGPU EPs under SwiftShader (scripts/op-variants.ts and the scripts using it).
      return b.msOp('QuickGelu', [x], { alpha: { float: 1 } });
    case 'gelu':
      return b.msOp('Gelu', [x]);
    case 'gelu-tanh':
      return b.msOp('FastGelu', [x]);
    case 'quick-gelu':
      // CLIP's x·σ(1.702·x)
      return b.msOp('QuickGelu', [x], { alpha: { float: 1.702 } });
  }
}

/**
 * Multi-head attention on [B, S, heads·headDim] query/key/value (no mask, scale 1/√headDim),
 * fused as com.microsoft MultiHeadAttention: the fastest form onnxruntime-web's WebGPU EP runs,
 * and the only one that stays right once the score tensor passes the 2 GiB binding limit. Where
 * the device's fused kernel is known wrong (ctx.attention 'unfused'), the explicit form instead;
 * the engine then limits sizes to what the binding limit allows (attention-limits.ts).
 */
export function attention(ctx: LayerContext, q: Value, k: Value, v: Value, heads: number, headDim?: number): Value {
  if (ctx.attention === 'unfused') {
    if (headDim === undefined) throw new Error('attention: unfused attention needs the head size');
    return unfusedAttention(ctx, q, k, v, heads, headDim);
  }
  return ctx.b.msOp('MultiHeadAttention', [q, k, v], { num_heads: heads });
}

/** [B, S, H·D] → [B, S, H, D], RMSNorm over D with `prefix`.weight [D], → [B, S, H·D] (SD3.5's QK-norm). */
export function perHeadRmsNorm(ctx: LayerContext, x: Value, heads: number, headDim: number, prefix: string, eps: number): Value {
  const { b } = ctx;
  const split = b.op('Reshape', [x, b.int64([0, 0, heads, headDim])]);
  const normed = rmsNorm(ctx, split, { dim: headDim, eps, prefix, bias: false });
  return b.op('Reshape', [normed, b.int64([0, 0, heads * headDim])]);
}

/**
 * Multi-head attention with an additive bias on the scores: softmax(scale·QKᵀ + bias)·V, fused as
 * com.microsoft MultiHeadAttention (its `attention_bias` input). Causal masks and T5's relative
 * position bias go through here. `bias` must have the full shape [B, heads, S_q, S_kv]:
 * onnxruntime's WebGPU kernel adds it at the score tensor's own offsets, so a broadcast shape
 * would be read out of bounds. `scale` defaults to 1/√headDim; T5 passes 1 (it has no scaling).
 * Give the mask value as the lowest finite float, not −Infinity, as PyTorch does.
 */
export function attentionWithBias(
  ctx: LayerContext,
  q: Value,
  k: Value,
  v: Value,
  heads: number,
  bias: Value,
  options: { scale?: number } = {},
): Value {
  const scale = options.scale === undefined ? undefined : { float: options.scale };
  return ctx.b.msOp('MultiHeadAttention', [q, k, v, '', '', bias], { num_heads: heads, scale });
}

/**
 * An embedding lookup (PyTorch nn.Embedding): rows of `name` [vocab, dim] picked by int64 `ids`,
 * returned as float32 [..., dim]. The table is float16 under 'fp16' and float32 otherwise, even
 * when the checkpoint stores float16: a half-precision Gather needs WebGPU's `shader-f16`, which
 * the float32 precisions must not require. It is a Gather, not a matrix product, so weight-only
 * MatMulNBits does not apply to it (com.microsoft GatherBlockQuantized would be the int8/int4 form).
 */
export function embedding(ctx: LayerContext, ids: Value, name: string, vocab: number, dim: number, why?: string): Value {
  const tensor = ctx.weights.get(name, [vocab, dim], why ?? `an embedding table of ${vocab} rows × ${dim} per config.json`);
  const table = ctx.b.initializer(name, { kind: 'tensor', tensor, dataType: computeType(ctx.precision), dims: [vocab, dim] });
  return ctx.b.cast(ctx.b.op('Gather', [table, ids], { axis: 0 }), DataType.FLOAT);
}

/** Which attention a graph builder emits: `attentionWithBias` (one fused kernel) or `unfusedAttention`. */
export type AttentionForm = 'fused' | 'unfused';

/**
 * The same attention as `attentionWithBias`, written out: softmax(scale·QKᵀ + bias)·V with
 * Reshape/Transpose, two MatMuls and a Softmax over [B, heads, S_q, S_kv] scores. `bias` may be
 * any shape that broadcasts to the scores. It materialises the score tensor, so it suits short
 * sequences only (text encoders: B·heads·S² floats stay far below WebGPU's 2 GiB binding limit,
 * past which this form is silently wrong); in exchange it uses no attention kernel at all, where
 * a backend's fused kernel cannot be trusted. `scale` defaults to 1/√headDim.
 */
export function unfusedAttention(
  ctx: LayerContext,
  q: Value,
  k: Value,
  v: Value,
  heads: number,
  headDim: number,
  bias?: Value,
  options: { scale?: number } = {},
): Value {
  const { b } = ctx;
  const split = (x: Value, perm: number[]) => b.op('Transpose', [b.op('Reshape', [x, b.int64([0, 0, heads, headDim])])], { perm });
  const qh = split(q, [0, 2, 1, 3]); // [B, H, S, D]
  const kt = split(k, [0, 2, 3, 1]); // [B, H, D, S]
  const vh = split(v, [0, 2, 1, 3]);
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  let scores = b.op('MatMul', [qh, kt]);
  // PyTorch's eager attention scales the product (transformers: matmul(q, kᵀ) * scaling).
  if (scale !== 1) scores = b.op('Mul', [scores, b.float(scale, scores.type)]);
  if (bias) scores = b.op('Add', [scores, bias]);
  const probs = b.op('Softmax', [scores], { axis: -1 });
  const out = b.op('Transpose', [b.op('MatMul', [probs, vh])], { perm: [0, 2, 1, 3] });
  return b.op('Reshape', [out, b.int64([0, 0, heads * headDim])]);
}

export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  kernel: number;
  /** Default 1. */
  stride?: number;
  /** ONNX order [top, left, bottom, right]; default (kernel − 1) / 2 on every side ("same" for odd kernels). */
  pads?: readonly [number, number, number, number];
  /** Default true: `<prefix>.bias` exists. */
  bias?: boolean;
}

/**
 * PyTorch's Conv2d on NCHW (`<prefix>.weight` [out, in, k, k], `<prefix>.bias` [out]). The weight
 * keeps the checkpoint's layout, so a checkpoint already in the compute type is used byte for byte.
 * Convolutions run in the compute type of the precision ('int8'/'int4' quantise Linear layers
 * only, so convolutions stay float32 there); the result has that type.
 */
export function conv2d(ctx: LayerContext, x: Value, prefix: string, options: Conv2dOptions): Value {
  const { b } = ctx;
  const { inChannels, outChannels, kernel } = options;
  const stride = options.stride ?? 1;
  const edge = (kernel - 1) / 2;
  const pads = options.pads ?? [edge, edge, edge, edge];
  const type = computeType(ctx.precision);
  const why = `a Conv2d(${inChannels} → ${outChannels}, kernel ${kernel}) per config.json`;
  const w = weight(ctx, `${prefix}.weight`, [outChannels, inChannels, kernel, kernel], type, why);
  const inputs = [b.cast(x, type), w];
  if (options.bias !== false) inputs.push(weight(ctx, `${prefix}.bias`, [outChannels], type, `${why} with bias`));
  return b.op('Conv', inputs, { kernel_shape: [kernel, kernel], strides: [stride, stride], pads: [...pads] });
}

export interface GroupNormOptions {
  groups: number;
  channels: number;
  eps: number;
  /** Checkpoint prefix of the affine `.weight`/`.bias` ([channels] each). */
  prefix: string;
}

/**
 * PyTorch's GroupNorm on NCHW, as torch.onnx exports it: [N, C, H, W] → [N, groups, rest] →
 * InstanceNormalization (one mean and variance per group, float32) → back to NCHW → the
 * per-channel affine. Measured (scripts/op-variants.ts): correct on WASM and both WebGPU builds,
 * faster than GroupNormalization-21 on WASM and as fast on the native WebGPU EP (SwiftShader); the
 * JSEP build's InstanceNormalization is slow at this shape. GroupNormalization-18 has per-group
 * affine weights (not PyTorch's per-channel ones) and GroupNormalization-21 needs opset 21 for the
 * whole graph. The result has `outType` (default: the input's type).
 */
export function groupNorm(ctx: LayerContext, x: Value, options: GroupNormOptions, outType: DataType = x.type): Value {
  const { b } = ctx;
  const { groups, channels, eps, prefix } = options;
  if (channels % groups !== 0) throw new RangeError(`${prefix}: ${channels} channels do not split into ${groups} groups`);
  const why = `a GroupNorm(${groups} groups, ${channels} channels) per config.json`;
  const grouped = b.op('Reshape', [b.cast(x, DataType.FLOAT), b.int64([0, groups, -1])]);
  const normed = b.op('InstanceNormalization', [grouped, filled(b, 1, groups, DataType.FLOAT), filled(b, 0, groups, DataType.FLOAT)], {
    epsilon: { float: eps },
  });
  const back = b.op('Reshape', [b.cast(normed, outType), b.op('Shape', [x], undefined, DataType.INT64)]);
  const scale = ctx.weights.get(`${prefix}.weight`, [channels], why);
  const shift = ctx.weights.get(`${prefix}.bias`, [channels], why);
  const affine = (name: string, tensor: SafetensorsTensor) =>
    b.initializer(name, { kind: 'tensor', tensor, dataType: outType, dims: [channels, 1, 1] });
  return b.op('Add', [b.op('Mul', [back, affine(`${prefix}.weight`, scale)]), affine(`${prefix}.bias`, shift)]);
}
