/**
 * transformers' CLIPTextModelWithProjection as an ONNX graph, built from its config.json and
 * safetensors weights (SD3's text_encoder = CLIP-L, text_encoder_2 = OpenCLIP bigG). Follows
 * transformers 5.x models/clip/modeling_clip.py:
 *
 *   h = token_embedding(ids) + position_embedding(0..S−1)                 hidden_states.0
 *   per layer: h += out_proj(attn(layer_norm1(h), causal));  h += fc2(act(fc1(layer_norm2(h))))
 *                                                                          hidden_states.1 … .L
 *   last_hidden_state = final_layer_norm(h)
 *   text_embeds = text_projection(last_hidden_state[b, eos_b])            (no bias)
 *
 * where eos_b is argmax(ids_b) when config.eos_token_id == 2 (the rule transformers keeps for
 * configs written before its fix of the EOS id) and else the first position holding eos_token_id.
 * The text model is causal: token i attends to tokens 0..i only. No attention mask is taken (SD3
 * passes none, so padding is attended like text).
 *
 * Graph I/O (the Optimum export's names, which the engine feeds): `input_ids` int64 [batch,
 * sequence] → `text_embeds` [batch, projection_dim], `last_hidden_state` [batch, sequence,
 * hidden_size], `hidden_states.{L−1}` and `hidden_states.{L}` (SD3 takes the penultimate), all
 * float32 whatever the precision.
 */
import { DataType } from '../../onnx/data-types.js';
import { GraphBuilder, type BuiltGraph, type Value } from '../../onnx/graph-builder.js';
import {
  activation,
  attentionWithBias,
  computeType,
  embedding,
  layerNorm,
  linear,
  unfusedAttention,
  type AttentionForm,
  type LayerContext,
  type Precision,
} from '../../onnx/layers.js';
import type { WeightSet } from '../../safetensors.js';
import { ConfigReader } from './config-reader.js';

export type ClipHiddenAct = 'quick_gelu' | 'gelu';
export const CLIP_HIDDEN_ACTS: readonly ClipHiddenAct[] = ['quick_gelu', 'gelu'];

/** The fields of a CLIPTextModelWithProjection config.json the graph is built from. */
export interface ClipTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: ClipHiddenAct;
  layer_norm_eps: number;
  projection_dim: number;
  eos_token_id: number;
}

/**
 * Reads and checks a CLIP text config. Sizes are required; hidden_act, layer_norm_eps and
 * eos_token_id default as transformers' CLIPTextConfig does (quick_gelu, 1e-5, 49407).
 * @param path the file's path in the model folder, for messages ("text_encoder/config.json")
 */
export function readClipTextConfig(json: unknown, path: string): ClipTextConfig {
  const r = new ConfigReader(json, path);
  const config: ClipTextConfig = {
    vocab_size: r.integer('vocab_size'),
    hidden_size: r.integer('hidden_size'),
    intermediate_size: r.integer('intermediate_size'),
    num_hidden_layers: r.integer('num_hidden_layers'),
    num_attention_heads: r.integer('num_attention_heads'),
    max_position_embeddings: r.integer('max_position_embeddings'),
    hidden_act: r.choice('hidden_act', CLIP_HIDDEN_ACTS, 'quick_gelu'),
    layer_norm_eps: r.positiveNumber('layer_norm_eps', 1e-5),
    projection_dim: r.integer('projection_dim'),
    eos_token_id: r.integer('eos_token_id', { min: 0, fallback: 49407 }),
  };
  if (config.hidden_size % config.num_attention_heads !== 0) {
    r.fail('num_attention_heads', `hidden_size ${config.hidden_size} must split evenly into heads (a divisor of ${config.hidden_size})`);
  }
  if (config.eos_token_id >= config.vocab_size) r.fail('eos_token_id', `expected an id below vocab_size ${config.vocab_size}`);
  return config;
}

export interface TextEncoderBuildOptions {
  /**
   * 'unfused' (default): explicit QKᵀ/softmax/V, correct on WASM and on WebGPU in Chromium; text
   * sequences are short (77 CLIP, ≤ 512 T5 tokens), so the score tensor stays small and attention
   * is a few percent of an encoder's arithmetic either way.
   * 'fused': com.microsoft MultiHeadAttention with the mask as attention_bias — correct on WASM,
   * but onnxruntime-web 1.30's WebGPU kernel gave wrong results in Chromium (SwiftShader, subgroup
   * size 4) for head sizes divisible by 4 from 32 tokens on.
   */
  attention?: AttentionForm;
  /** Graph name (default "clip_text_encoder" / "t5_encoder"). */
  name?: string;
}

/** transformers keeps argmax(input_ids) as the EOS position for configs with this (old, wrong) eos_token_id. */
const LEGACY_EOS_TOKEN_ID = 2;

/**
 * Builds the graph. Under 'fp16' the matrix products run in half precision while the residual
 * stream, layer-norm statistics and attention (scores, softmax) stay float32 (attention is a few
 * percent of the work here, and float32 keeps the −max mask exact); under 'int8'/'int4'
 * the per-layer Linear weights are MatMulNBits blocks and everything else is float32. The text
 * projection (one row per prompt) is never quantised.
 * @param weights the component's tensors (text_model.*, text_projection.weight); shapes are checked
 */
export function buildClipTextEncoderGraph(
  config: ClipTextConfig,
  weights: WeightSet,
  precision: Precision,
  options: TextEncoderBuildOptions = {},
): BuiltGraph {
  const { attention = 'unfused', name = 'clip_text_encoder' } = options;
  const b = new GraphBuilder(name);
  const ctx: LayerContext = { b, weights, precision };
  const { hidden_size: D, intermediate_size: F, num_hidden_layers: L, num_attention_heads: heads } = config;
  const half = computeType(precision);

  const ids = b.input('input_ids', DataType.INT64, ['batch', 'sequence']);
  const shape = b.op('Shape', [ids]);
  const batch = b.op('Gather', [shape, b.int64(0)], { axis: 0 });
  const sequence = b.op('Gather', [shape, b.int64(1)], { axis: 0 });
  const positions = b.op('Range', [b.int64(0), sequence, b.int64(1)]);

  // 1. Embeddings (float32 residual stream from here on)
  let h = b.scope('text_model.embeddings', () =>
    b.op('Add', [
      embedding(ctx, ids, 'text_model.embeddings.token_embedding.weight', config.vocab_size, D, 'vocab_size × hidden_size per config.json'),
      embedding(
        ctx,
        positions,
        'text_model.embeddings.position_embedding.weight',
        config.max_position_embeddings,
        D,
        'max_position_embeddings × hidden_size per config.json',
      ),
    ]),
  );

  // 2. Causal mask as an additive bias [S, S] (the fused kernel takes it expanded to [B, heads, S, S]):
  //    PyTorch's lowest float above the diagonal.
  const mask = b.scope('causal_mask', () => {
    const later = b.op(
      'Greater',
      [b.op('Unsqueeze', [positions, b.int64([0])]), b.op('Unsqueeze', [positions, b.int64([1])])],
      undefined,
      DataType.BOOL,
    );
    const bias = b.op('Where', [later, b.float(-3.4028234663852886e38), b.float(0)], undefined, DataType.FLOAT);
    if (attention === 'unfused') return bias;
    const full = b.op(
      'Concat',
      [
        b.op('Unsqueeze', [batch, b.int64([0])]),
        b.int64([heads]),
        b.op('Unsqueeze', [sequence, b.int64([0])]),
        b.op('Unsqueeze', [sequence, b.int64([0])]),
      ],
      { axis: 0 },
    );
    return b.op('Expand', [bias, full]);
  });

  // 3. Encoder layers
  const act = config.hidden_act === 'gelu' ? 'gelu' : 'quick-gelu';
  const hiddenStates: Value[] = [h];
  for (let i = 0; i < L; i++) {
    const p = `text_model.encoder.layers.${i}`;
    h = b.scope(p, () => {
      const x = layerNorm(ctx, h, { dim: D, eps: config.layer_norm_eps, prefix: `${p}.layer_norm1` }, half);
      const proj = (which: string) => b.cast(linear(ctx, x, `${p}.self_attn.${which}`, { inFeatures: D, outFeatures: D }), DataType.FLOAT);
      const [q, k, v] = [proj('q_proj'), proj('k_proj'), proj('v_proj')];
      const attended =
        attention === 'fused' ? attentionWithBias(ctx, q, k, v, heads, mask) : unfusedAttention(ctx, q, k, v, heads, D / heads, mask);
      const out = linear(ctx, b.cast(attended, half), `${p}.self_attn.out_proj`, { inFeatures: D, outFeatures: D });
      const afterAttention = b.op('Add', [h, b.cast(out, DataType.FLOAT)]);
      const y = layerNorm(ctx, afterAttention, { dim: D, eps: config.layer_norm_eps, prefix: `${p}.layer_norm2` }, half);
      const inner = activation(ctx, linear(ctx, y, `${p}.mlp.fc1`, { inFeatures: D, outFeatures: F }), act);
      const mlp = linear(ctx, inner, `${p}.mlp.fc2`, { inFeatures: F, outFeatures: D });
      return b.op('Add', [afterAttention, b.cast(mlp, DataType.FLOAT)]);
    });
    hiddenStates.push(h);
  }
  const last = layerNorm(ctx, h, { dim: D, eps: config.layer_norm_eps, prefix: 'text_model.final_layer_norm' });

  // 4. Pooled output: the hidden state at each row's EOS position, projected.
  const textEmbeds = b.scope('pooler', () => {
    const score =
      config.eos_token_id === LEGACY_EOS_TOKEN_ID
        ? b.cast(ids, DataType.FLOAT)
        : b.cast(b.op('Equal', [ids, b.int64(config.eos_token_id)], undefined, DataType.BOOL), DataType.FLOAT);
    // ArgMax returns the first maximum, as torch.argmax does.
    const eos = b.op('ArgMax', [score], { axis: 1, keepdims: 0 }, DataType.INT64);
    const rowStart = b.op('Mul', [b.op('Range', [b.int64(0), batch, b.int64(1)]), sequence]);
    const flat = b.op('Reshape', [last, b.int64([-1, D])]);
    const pooled = b.op('Gather', [flat, b.op('Add', [rowStart, eos])], { axis: 0 });
    const projected = linear(ctx, pooled, 'text_projection', {
      inFeatures: D,
      outFeatures: config.projection_dim,
      bias: false,
      quantize: false,
    });
    return b.cast(projected, DataType.FLOAT);
  });

  b.output(textEmbeds, 'text_embeds', ['batch', config.projection_dim]);
  b.output(last, 'last_hidden_state', ['batch', 'sequence', D]);
  b.output(hiddenStates[L - 1], `hidden_states.${L - 1}`, ['batch', 'sequence', D]);
  b.output(hiddenStates[L], `hidden_states.${L}`, ['batch', 'sequence', D]);
  return b.build();
}
