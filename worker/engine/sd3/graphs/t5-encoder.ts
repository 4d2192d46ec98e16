/**
 * transformers' T5EncoderModel as an ONNX graph, built from its config.json and safetensors
 * weights (SD3's text_encoder_3 = T5 v1.1 XXL). Follows transformers 5.x models/t5/modeling_t5.py:
 *
 *   h = shared(ids)                                  (no scaling of the embeddings)
 *   bias = relative_attention_bias(bucket(k − q))    [1, heads, S, S], from block 0, used by all
 *   per block: h += o(attn(q, k, v of rms(h)) with bias, no 1/√d_kv)
 *              h += wo(gelu_tanh(wi_0(rms(h))) · wi_1(rms(h)))    gated-gelu (T5 v1.1)
 *           or h += wo(relu(wi(rms(h))))                          relu (original T5)
 *   last_hidden_state = final_layer_norm(h)
 *
 * rms(x) = weight · x / √(mean(x²) + ε) with the mean in float32 (T5LayerNorm: no mean
 * subtraction, no bias). No attention mask (SD3 passes none; padding is attended).
 *
 * Graph I/O: `input_ids` int64 [batch, sequence] → `last_hidden_state` float32 [batch, sequence,
 * d_model], whatever the precision.
 */
import { EngineError } from '../../engine-error.js';
import { DataType } from '../../onnx/data-types.js';
import { GraphBuilder, type BuiltGraph, type Value } from '../../onnx/graph-builder.js';
import {
  activation,
  attentionWithBias,
  computeType,
  embedding,
  linear,
  rmsNorm,
  unfusedAttention,
  weight,
  type LayerContext,
  type Precision,
} from '../../onnx/layers.js';
import type { TextEncoderBuildOptions } from './clip-text-encoder.js';
import type { WeightSet } from '../../safetensors.js';
import { ConfigReader } from './config-reader.js';

export type T5FeedForward = 'gated-gelu' | 'relu';
export const T5_FEED_FORWARDS: readonly T5FeedForward[] = ['gated-gelu', 'relu'];

/** The fields of a T5EncoderModel config.json the graph is built from. */
export interface T5EncoderConfig {
  vocab_size: number;
  d_model: number;
  d_kv: number;
  d_ff: number;
  num_layers: number;
  num_heads: number;
  feed_forward_proj: T5FeedForward;
  relative_attention_num_buckets: number;
  relative_attention_max_distance: number;
  layer_norm_epsilon: number;
}

/**
 * Reads and checks a T5 config. Sizes are required; feed_forward_proj, the relative-attention
 * settings and layer_norm_epsilon default as transformers' T5Config does (relu, 32, 128, 1e-6).
 * @param path the file's path in the model folder, for messages ("text_encoder_3/config.json")
 */
export function readT5EncoderConfig(json: unknown, path: string): T5EncoderConfig {
  const r = new ConfigReader(json, path);
  const config: T5EncoderConfig = {
    vocab_size: r.integer('vocab_size'),
    d_model: r.integer('d_model'),
    d_kv: r.integer('d_kv'),
    d_ff: r.integer('d_ff'),
    num_layers: r.integer('num_layers'),
    num_heads: r.integer('num_heads'),
    feed_forward_proj: r.choice('feed_forward_proj', T5_FEED_FORWARDS, 'relu'),
    // Bidirectional buckets: half per direction, half of those exact; at least one exact bucket.
    relative_attention_num_buckets: r.integer('relative_attention_num_buckets', { min: 4, fallback: 32 }),
    relative_attention_max_distance: r.integer('relative_attention_max_distance', { fallback: 128 }),
    layer_norm_epsilon: r.positiveNumber('layer_norm_epsilon', 1e-6),
  };
  const maxExact = Math.floor(config.relative_attention_num_buckets / 4);
  if (config.relative_attention_max_distance <= maxExact) {
    r.fail(
      'relative_attention_max_distance',
      `expected more than ${maxExact} (a quarter of relative_attention_num_buckets), where the logarithmic buckets start`,
    );
  }
  return config;
}

/**
 * transformers' T5Attention._relative_position_bucket for an encoder (bidirectional), computed as
 * PyTorch does it in float32, one rounding per step:
 *
 *   half = num_buckets // 2;  bucket = half if r > 0 else 0;  n = |r|;  exact = half // 2
 *   n < exact: bucket + n
 *   else: bucket + min(exact + int(f32(f32(log(f32(n / exact))) / f32(log(max_distance / exact))) · (half − exact)), half − 1)
 *
 * The steps matter at distances where the ratio of logarithms is a whole number in exact arithmetic
 * (n = 16, 32, 64 for 32 buckets): a result rounded differently lands one bucket lower.
 * `relativePosition` is key position − query position.
 */
export function t5RelativePositionBucket(relativePosition: number, numBuckets: number, maxDistance: number): number {
  const half = Math.floor(numBuckets / 2);
  const offset = relativePosition > 0 ? half : 0;
  const n = Math.abs(relativePosition);
  const exact = Math.floor(half / 2);
  if (n < exact) return offset + n;
  const logRatio = Math.fround(Math.log(Math.fround(n / exact)));
  // Python computes math.log(max_distance / max_exact) in double; the tensor op takes it as float32.
  const logRange = Math.fround(Math.log(maxDistance / exact));
  const scaled = Math.fround(Math.fround(logRatio / logRange) * (half - exact));
  return offset + Math.min(exact + Math.trunc(scaled), half - 1);
}

/**
 * Bucket ids for relative positions −maxDistance … +maxDistance (index r + maxDistance). Beyond
 * ±maxDistance the bucket no longer changes, so clamping the relative position to this range
 * gives every sequence length the buckets PyTorch computes.
 */
export function t5BucketTable(numBuckets: number, maxDistance: number): number[] {
  return Array.from({ length: 2 * maxDistance + 1 }, (_, i) => t5RelativePositionBucket(i - maxDistance, numBuckets, maxDistance));
}

/**
 * Builds the graph. The large matrices (q, k, v, o, wi_0, wi_1/wi, wo) go through `linear`, so
 * 'int8'/'int4' store them as MatMulNBits blocks (float32 activations). Under 'fp16' the products
 * run in half precision except two places: attention runs in float32 (T5 does not scale its
 * scores by 1/√d_kv, so they are large), and the feed-forward output projection `wo` with its
 * gated input stays float32 in weights and compute, because T5 v1.1's feed-forward output
 * overflows half precision; transformers keeps it the same way
 * (T5PreTrainedModel._keep_in_fp32_modules = ["wo"]). The residual stream and norm statistics
 * are float32 under every precision. The shared embedding table is a Gather (see `embedding`).
 * @param weights the component's tensors; the embedding is `shared.weight` or, in checkpoints
 *   that keep only the tied copy, `encoder.embed_tokens.weight`
 */
export function buildT5EncoderGraph(
  config: T5EncoderConfig,
  weights: WeightSet,
  precision: Precision,
  options: TextEncoderBuildOptions = {},
): BuiltGraph {
  const { attention = 'unfused', name = 't5_encoder' } = options;
  checkNoOtherRelativeBias(config, weights);
  const b = new GraphBuilder(name);
  const ctx: LayerContext = { b, weights, precision };
  const fp32: LayerContext = { b, weights, precision: 'fp32' };
  const { d_model: D, d_ff: F, num_heads: heads, d_kv: headDim } = config;
  const inner = heads * headDim;
  const half = computeType(precision);
  const eps = config.layer_norm_epsilon;

  const ids = b.input('input_ids', DataType.INT64, ['batch', 'sequence']);
  const shape = b.op('Shape', [ids]);
  const sequence = b.op('Gather', [shape, b.int64([1])], { axis: 0 });

  // 1. Embeddings
  const embeddingName =
    weights.has('shared.weight') || !weights.has('encoder.embed_tokens.weight') ? 'shared.weight' : 'encoder.embed_tokens.weight';
  let h = embedding(ctx, ids, embeddingName, config.vocab_size, D, 'vocab_size × d_model per config.json');

  // 2. Relative position bias [1, heads, S, S] ([B, heads, S, S] for the fused kernel), from
  //    block 0's table, shared by every block.
  const positionBias = b.scope('relative_position_bias', () => {
    const maxDistance = config.relative_attention_max_distance;
    const table = weight(
      ctx,
      'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight',
      [config.relative_attention_num_buckets, heads],
      DataType.FLOAT,
      'relative_attention_num_buckets × num_heads per config.json',
    );
    const buckets = b.int64(t5BucketTable(config.relative_attention_num_buckets, maxDistance));
    const biasByDistance = b.op('Gather', [table, buckets], { axis: 0 }); // [2·maxDistance+1, heads]
    const positions = b.op('Range', [b.int64(0), b.op('Squeeze', [sequence, b.int64([0])]), b.int64(1)]);
    const relative = b.op('Sub', [b.op('Unsqueeze', [positions, b.int64([0])]), b.op('Unsqueeze', [positions, b.int64([1])])]); // [q, k] = k − q
    const index = b.op('Add', [b.op('Clip', [relative, b.int64(-maxDistance), b.int64(maxDistance)]), b.int64(maxDistance)]);
    const bias = b.op('Transpose', [b.op('Gather', [biasByDistance, index], { axis: 0 })], { perm: [2, 0, 1] }); // [heads, q, k]
    const single = b.op('Unsqueeze', [bias, b.int64([0])]);
    if (attention === 'unfused') return single;
    const batch = b.op('Gather', [shape, b.int64([0])], { axis: 0 });
    return b.op('Expand', [single, b.op('Concat', [batch, b.int64([heads]), sequence, sequence], { axis: 0 })]);
  });

  // 3. Blocks
  for (let i = 0; i < config.num_layers; i++) {
    const p = `encoder.block.${i}`;
    h = b.scope(p, () => {
      const a = `${p}.layer.0`;
      const x = rmsNorm(ctx, h, { dim: D, eps, prefix: `${a}.layer_norm` }, half);
      const proj = (which: string) =>
        b.cast(linear(ctx, x, `${a}.SelfAttention.${which}`, { inFeatures: D, outFeatures: inner, bias: false }), DataType.FLOAT);
      const [q, k, v] = [proj('q'), proj('k'), proj('v')];
      const attended =
        attention === 'fused'
          ? attentionWithBias(ctx, q, k, v, heads, positionBias, { scale: 1 })
          : unfusedAttention(ctx, q, k, v, heads, headDim, positionBias, { scale: 1 });
      const o = linear(ctx, b.cast(attended, half), `${a}.SelfAttention.o`, { inFeatures: inner, outFeatures: D, bias: false });
      const afterAttention = b.op('Add', [h, b.cast(o, DataType.FLOAT)]);

      const f = `${p}.layer.1`;
      const y = rmsNorm(ctx, afterAttention, { dim: D, eps, prefix: `${f}.layer_norm` }, half);
      const dense = `${f}.DenseReluDense`;
      let gated: Value;
      if (config.feed_forward_proj === 'gated-gelu') {
        // gelu_new: the tanh approximation.
        const gate = activation(ctx, linear(ctx, y, `${dense}.wi_0`, { inFeatures: D, outFeatures: F, bias: false }), 'gelu-tanh');
        const up = linear(ctx, y, `${dense}.wi_1`, { inFeatures: D, outFeatures: F, bias: false });
        gated = b.op('Mul', [b.cast(gate, DataType.FLOAT), b.cast(up, DataType.FLOAT)]);
      } else {
        gated = b.cast(b.op('Relu', [linear(ctx, y, `${dense}.wi`, { inFeatures: D, outFeatures: F, bias: false })]), DataType.FLOAT);
      }
      const out = linear(precision === 'fp16' ? fp32 : ctx, gated, `${dense}.wo`, { inFeatures: F, outFeatures: D, bias: false });
      return b.op('Add', [afterAttention, b.cast(out, DataType.FLOAT)]);
    });
  }
  const last = rmsNorm(ctx, h, { dim: D, eps, prefix: 'encoder.final_layer_norm' }, DataType.FLOAT);
  b.output(last, 'last_hidden_state', ['batch', 'sequence', D]);
  return b.build();
}

/** transformers gives only block 0 a relative_attention_bias; a table in another block means a different model. */
function checkNoOtherRelativeBias(config: T5EncoderConfig, weights: WeightSet): void {
  for (let i = 1; i < config.num_layers; i++) {
    const name = `encoder.block.${i}.layer.0.SelfAttention.relative_attention_bias.weight`;
    if (weights.has(name)) {
      throw new EngineError(
        'model-mismatch',
        `${weights.description}: tensor "${name}" exists, but T5EncoderModel uses block 0's relative position bias in every block; this checkpoint is not a T5EncoderModel`,
      );
    }
  }
}
