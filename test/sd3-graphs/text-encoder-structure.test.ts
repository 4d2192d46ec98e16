/**
 * The full-size SD3 text encoders (CLIP-L, OpenCLIP bigG, T5 v1.1 XXL) build from their real
 * config.json alone: a checkpoint of fake tensor headers (names and shapes as transformers saves
 * them, no bytes: any read fails) is enough to build every graph at every precision and plan its
 * external-data files. Checks the parameter counts, that every checkpoint tensor is used once,
 * the operators, and that no external-data file reaches 2 GB. Nothing here runs a model.
 */
import type { ByteSource } from '../../worker/engine/byte-source.js';
import { DataType } from '../../worker/engine/onnx/data-types.js';
import type { BuiltGraph } from '../../worker/engine/onnx/graph-builder.js';
import { PRECISIONS } from '../../worker/engine/onnx/layers.js';
import { DEFAULT_MAX_EXTERNAL_FILE_BYTES, serializeGraphAsync } from '../../worker/engine/onnx/serialize-graph.js';
import { WeightSet, type SafetensorsTensor } from '../../worker/engine/safetensors.js';
import { buildClipTextEncoderGraph, readClipTextConfig } from '../../worker/engine/sd3/graphs/clip-text-encoder.js';
import { buildT5EncoderGraph, readT5EncoderConfig } from '../../worker/engine/sd3/graphs/t5-encoder.js';

// config.json of stabilityai/stable-diffusion-3-medium-diffusers text_encoder, text_encoder_2 and
// text_encoder_3 (the fields transformers reads; SD3.5 ships the same three encoders).
const CLIP_L = {
  architectures: ['CLIPTextModelWithProjection'],
  attention_dropout: 0.0,
  bos_token_id: 0,
  dropout: 0.0,
  eos_token_id: 2,
  hidden_act: 'quick_gelu',
  hidden_size: 768,
  initializer_factor: 1.0,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 77,
  model_type: 'clip_text_model',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 1,
  projection_dim: 768,
  torch_dtype: 'float16',
  vocab_size: 49408,
};
const CLIP_G = {
  ...CLIP_L,
  hidden_act: 'gelu',
  hidden_size: 1280,
  intermediate_size: 5120,
  num_attention_heads: 20,
  num_hidden_layers: 32,
  projection_dim: 1280,
};
const T5_XXL = {
  architectures: ['T5EncoderModel'],
  classifier_dropout: 0.0,
  d_ff: 10240,
  d_kv: 64,
  d_model: 4096,
  decoder_start_token_id: 0,
  dense_act_fn: 'gelu_new',
  dropout_rate: 0.1,
  eos_token_id: 1,
  feed_forward_proj: 'gated-gelu',
  initializer_factor: 1.0,
  is_encoder_decoder: true,
  is_gated_act: true,
  layer_norm_epsilon: 1e-6,
  model_type: 't5',
  num_decoder_layers: 24,
  num_heads: 64,
  num_layers: 24,
  output_past: true,
  pad_token_id: 0,
  relative_attention_max_distance: 128,
  relative_attention_num_buckets: 32,
  tie_word_embeddings: false,
  torch_dtype: 'float16',
  vocab_size: 32128,
};

/** A file that has a size but whose bytes must never be read while building or planning. */
const NO_BYTES: ByteSource = {
  name: 'fake-shard.safetensors',
  size: Number.MAX_SAFE_INTEGER,
  readAsync: () => Promise.reject(new Error('a structure test read tensor bytes')),
  sliceBlob: () => {
    throw new Error('a structure test sliced tensor bytes');
  },
};

function fakeWeights(description: string, shapes: Record<string, number[]>): WeightSet {
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, shape] of Object.entries(shapes)) {
    tensors.set(name, { name, dataType: DataType.FLOAT16, shape, file: NO_BYTES, offset: 0, length: shape.reduce((a, b) => a * b, 2) });
  }
  return new WeightSet(description, tensors);
}

/** The tensors transformers' CLIPTextModelWithProjection.save_pretrained writes. */
function clipCheckpoint(c: typeof CLIP_L): Record<string, number[]> {
  const D = c.hidden_size;
  const shapes: Record<string, number[]> = {
    'text_model.embeddings.token_embedding.weight': [c.vocab_size, D],
    'text_model.embeddings.position_embedding.weight': [c.max_position_embeddings, D],
    'text_model.final_layer_norm.weight': [D],
    'text_model.final_layer_norm.bias': [D],
    'text_projection.weight': [c.projection_dim, D],
  };
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `text_model.encoder.layers.${i}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj'])
      Object.assign(shapes, { [`${p}.self_attn.${proj}.weight`]: [D, D], [`${p}.self_attn.${proj}.bias`]: [D] });
    Object.assign(shapes, {
      [`${p}.layer_norm1.weight`]: [D],
      [`${p}.layer_norm1.bias`]: [D],
      [`${p}.layer_norm2.weight`]: [D],
      [`${p}.layer_norm2.bias`]: [D],
      [`${p}.mlp.fc1.weight`]: [c.intermediate_size, D],
      [`${p}.mlp.fc1.bias`]: [c.intermediate_size],
      [`${p}.mlp.fc2.weight`]: [D, c.intermediate_size],
      [`${p}.mlp.fc2.bias`]: [D],
    });
  }
  return shapes;
}

/** The tensors transformers' T5EncoderModel.save_pretrained writes (the tied embedding once, as shared.weight). */
function t5Checkpoint(c: typeof T5_XXL): Record<string, number[]> {
  const inner = c.num_heads * c.d_kv;
  const shapes: Record<string, number[]> = {
    'shared.weight': [c.vocab_size, c.d_model],
    'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight': [c.relative_attention_num_buckets, c.num_heads],
    'encoder.final_layer_norm.weight': [c.d_model],
  };
  for (let i = 0; i < c.num_layers; i++) {
    const p = `encoder.block.${i}.layer`;
    Object.assign(shapes, {
      [`${p}.0.layer_norm.weight`]: [c.d_model],
      [`${p}.1.layer_norm.weight`]: [c.d_model],
      [`${p}.0.SelfAttention.q.weight`]: [inner, c.d_model],
      [`${p}.0.SelfAttention.k.weight`]: [inner, c.d_model],
      [`${p}.0.SelfAttention.v.weight`]: [inner, c.d_model],
      [`${p}.0.SelfAttention.o.weight`]: [c.d_model, inner],
      [`${p}.1.DenseReluDense.wi_0.weight`]: [c.d_ff, c.d_model],
      [`${p}.1.DenseReluDense.wi_1.weight`]: [c.d_ff, c.d_model],
      [`${p}.1.DenseReluDense.wo.weight`]: [c.d_model, c.d_ff],
    });
  }
  return shapes;
}

/** Checkpoint tensors the graph takes as initializers, with their element counts. */
function checkpointTensorsUsed(graph: BuiltGraph): Map<string, number> {
  const used = new Map<string, number>();
  for (const { source } of graph.initializers) {
    if (source.kind === 'tensor')
      used.set(
        source.tensor.name,
        source.tensor.shape.reduce((a, b) => a * b, 1),
      );
  }
  return used;
}

function opCounts(graph: BuiltGraph): string {
  const counts = new Map<string, number>();
  for (const node of graph.nodes) counts.set(node.opType, (counts.get(node.opType) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${op}×${n}`)
    .join(' ');
}

const ENCODERS = [
  {
    name: 'CLIP-L (text_encoder)',
    shapes: clipCheckpoint(CLIP_L),
    build: (weights: WeightSet, precision: (typeof PRECISIONS)[number]) =>
      buildClipTextEncoderGraph(readClipTextConfig(CLIP_L, 'text_encoder/config.json'), weights, precision),
    // 123.06 M text model + 0.59 M projection.
    parameters: 123_650_304,
    linears: 12 * 6,
  },
  {
    name: 'CLIP-G (text_encoder_2)',
    shapes: clipCheckpoint(CLIP_G),
    build: (weights: WeightSet, precision: (typeof PRECISIONS)[number]) =>
      buildClipTextEncoderGraph(readClipTextConfig(CLIP_G, 'text_encoder_2/config.json'), weights, precision),
    parameters: 694_659_840,
    linears: 32 * 6,
  },
  {
    name: 'T5-XXL encoder (text_encoder_3)',
    shapes: t5Checkpoint(T5_XXL),
    build: (weights: WeightSet, precision: (typeof PRECISIONS)[number]) =>
      buildT5EncoderGraph(readT5EncoderConfig(T5_XXL, 'text_encoder_3/config.json'), weights, precision),
    parameters: 4_762_310_656,
    linears: 24 * 7,
  },
];

describe('full-size SD3 text encoders build from config.json and tensor headers alone', () => {
  it.each(ENCODERS.map((e) => [e.name, e] as const))('%s', async (_name, encoder) => {
    const weights = fakeWeights(encoder.name, encoder.shapes);
    const lines: string[] = [];
    for (const precision of PRECISIONS) {
      const graph = encoder.build(weights, precision);
      const used = checkpointTensorsUsed(graph);
      const quantised = graph.nodes.filter((n) => n.opType === 'MatMulNBits').length;
      if (precision === 'fp32' || precision === 'fp16') {
        // Every tensor of the checkpoint is in the graph, once.
        expect([...used.keys()].sort()).toEqual(Object.keys(encoder.shapes).sort());
        expect([...used.values()].reduce((a, b) => a + b, 0)).toBe(encoder.parameters);
        expect(quantised).toBe(0);
      } else {
        expect(quantised).toBe(encoder.linears);
      }
      if (precision !== 'fp16') {
        // Nothing half-precision: WebGPU devices without shader-f16 must run these graphs.
        expect(graph.initializers.filter((i) => i.source.dataType === DataType.FLOAT16).map((i) => i.name)).toEqual([]);
        expect(graph.nodes.filter((n) => n.opType === 'Cast' && n.attributes?.to === DataType.FLOAT16)).toEqual([]);
      }
      const serialized = await serializeGraphAsync(graph, { metadata: { precision } });
      for (const file of serialized.externalFiles) expect(file.byteLength).toBeLessThan(DEFAULT_MAX_EXTERNAL_FILE_BYTES);
      if (precision === 'fp32') lines.push(`ops: ${opCounts(graph)}`);
      lines.push(
        `${precision}: ${graph.nodes.length} nodes, weights ${(serialized.weightBytes / 1e9).toFixed(3)} GB in ${serialized.externalFiles.length} external file(s), graph ${(serialized.model.byteLength / 1e3).toFixed(0)} kB`,
      );
    }
    console.log(`${encoder.name}: ${(encoder.parameters / 1e6).toFixed(2)} M parameters\n  ${lines.join('\n  ')}`);
  });
});
