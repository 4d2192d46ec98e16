/**
 * The golden fixture package extended with the parts it lacks, as small real ONNX graphs:
 * - text_encoder/: a CLIP-style encoder (Optimum CLIPTextModelWithProjection I/O): input_ids →
 *   hidden_states.0 = E[ids], hidden_states.1 = tanh(E[ids]), hidden_states.2 = 2·tanh(E[ids]),
 *   last_hidden_state = hidden_states.2, text_embeds = mean_tokens(last_hidden_state) · W;
 *   with a WordLevel tokenizer/ (BOS … EOS, padded with EOS to model_max_length 8);
 * - vae_encoder/: sample → 8×8 average pool → 1×1 conv to mean ‖ logvar (2·16 channels), its conv
 *   weight stored in model.onnx_data (external data);
 * - flowfill.json: latent→RGB factors and max_sequence_length 4.
 */
import { buildOnnxModel, FLOAT, INT64, weights } from './onnx-builder.js';
import { fixturePackageFiles, json, parseJson } from './helpers.js';

export const VOCAB = ['<|startoftext|>', '<|endoftext|>', '<unk>', 'a', 'rocket', 'red', 'blue', 'cat'];
export const CLIP_LENGTH = 8;
export const CLIP_HIDDEN = 24;
export const T5_ZERO_LENGTH = 4;
export const TABLE = weights(VOCAB.length * CLIP_HIDDEN, 0.8, 0.3);

export function textEncoderGraph(pooledDim: number): { model: Uint8Array; projection: Float32Array } {
  const projection = weights(CLIP_HIDDEN * pooledDim, 0.5, 1.1);
  const { model } = buildOnnxModel({
    inputs: [{ name: 'input_ids', elemType: INT64, shape: ['batch_size', 'sequence_length'] }],
    outputs: [
      { name: 'text_embeds', elemType: FLOAT, shape: ['batch_size', pooledDim] },
      { name: 'last_hidden_state', elemType: FLOAT, shape: ['batch_size', 'sequence_length', CLIP_HIDDEN] },
      { name: 'hidden_states.0', elemType: FLOAT, shape: ['batch_size', 'sequence_length', CLIP_HIDDEN] },
      { name: 'hidden_states.1', elemType: FLOAT, shape: ['batch_size', 'sequence_length', CLIP_HIDDEN] },
      { name: 'hidden_states.2', elemType: FLOAT, shape: ['batch_size', 'sequence_length', CLIP_HIDDEN] },
    ],
    nodes: [
      { op: 'Gather', inputs: ['table', 'input_ids'], outputs: ['hidden_states.0'], attributes: { axis: 0 } },
      { op: 'Tanh', inputs: ['hidden_states.0'], outputs: ['hidden_states.1'] },
      { op: 'Mul', inputs: ['hidden_states.1', 'two'], outputs: ['hidden_states.2'] },
      { op: 'Identity', inputs: ['hidden_states.2'], outputs: ['last_hidden_state'] },
      { op: 'ReduceMean', inputs: ['last_hidden_state'], outputs: ['mean'], attributes: { axes: [1], keepdims: 0 } },
      { op: 'MatMul', inputs: ['mean', 'projection'], outputs: ['text_embeds'] },
    ],
    initializers: [
      { name: 'table', dims: [VOCAB.length, CLIP_HIDDEN], values: TABLE },
      { name: 'two', dims: [], values: new Float32Array([2]) },
      { name: 'projection', dims: [CLIP_HIDDEN, pooledDim], values: projection },
    ],
  });
  return { model, projection };
}

export function vaeEncoderGraph(latentChannels: number): { model: Uint8Array; external: Record<string, Uint8Array> } {
  const outChannels = 2 * latentChannels;
  return buildOnnxModel({
    inputs: [{ name: 'sample', elemType: FLOAT, shape: ['batch_size', 3, 'sample_height', 'sample_width'] }],
    outputs: [{ name: 'latent_parameters', elemType: FLOAT, shape: ['batch_size', outChannels, 'latent_height', 'latent_width'] }],
    nodes: [
      { op: 'AveragePool', inputs: ['sample'], outputs: ['pooled'], attributes: { kernel_shape: [8, 8], strides: [8, 8] } },
      { op: 'Conv', inputs: ['pooled', 'conv_weight', 'conv_bias'], outputs: ['latent_parameters'] },
    ],
    initializers: [
      {
        name: 'conv_weight',
        dims: [outChannels, 3, 1, 1],
        values: weights(outChannels * 3, 0.9, 0.2),
        externalLocation: 'model.onnx_data',
      },
      { name: 'conv_bias', dims: [outChannels], values: weights(outChannels, 0.1, 2.0) },
    ],
  });
}

function tokenizerJson(): Record<string, unknown> {
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('<|startoftext|>', 0), special('<|endoftext|>', 1)],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '<|startoftext|>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<|endoftext|>', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '<|startoftext|>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '<|endoftext|>', type_id: 0 } },
      ],
      special_tokens: {
        '<|startoftext|>': { id: '<|startoftext|>', ids: [0], tokens: ['<|startoftext|>'] },
        '<|endoftext|>': { id: '<|endoftext|>', ids: [1], tokens: ['<|endoftext|>'] },
      },
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: Object.fromEntries(VOCAB.map((token, id) => [token, id])), unk_token: '<unk>' },
  };
}

export const LATENT_RGB_FACTORS = Array.from({ length: 16 }, (_, c) => [0.05 * Math.sin(c), 0.05 * Math.cos(c), 0.03]);

export async function extendedPackageFiles(): Promise<Record<string, Uint8Array>> {
  const files = await fixturePackageFiles();
  const transformer = parseJson(files['transformer/config.json']);
  const pooledDim = transformer.pooled_projection_dim as number;
  const index = parseJson(files['model_index.json']);
  files['model_index.json'] = json({
    ...index,
    text_encoder: ['transformers', 'CLIPTextModelWithProjection'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
  });
  files['text_encoder/model.onnx'] = textEncoderGraph(pooledDim).model;
  files['text_encoder/config.json'] = json({ hidden_size: CLIP_HIDDEN, projection_dim: pooledDim, num_hidden_layers: 2 });
  files['tokenizer/tokenizer.json'] = json(tokenizerJson());
  files['tokenizer/tokenizer_config.json'] = json({
    model_max_length: CLIP_LENGTH,
    pad_token: '<|endoftext|>',
    bos_token: '<|startoftext|>',
    eos_token: '<|endoftext|>',
    unk_token: '<unk>',
  });
  const encoder = vaeEncoderGraph(16);
  files['vae_encoder/model.onnx'] = encoder.model;
  files['vae_encoder/model.onnx_data'] = encoder.external['model.onnx_data'];
  files['vae_encoder/config.json'] = files['vae_decoder/config.json'];
  files['flowfill.json'] = json({
    name: 'Extended tiny',
    latent_rgb_factors: LATENT_RGB_FACTORS,
    max_sequence_length: T5_ZERO_LENGTH,
    recommended: { steps: 12, guidance: 3.5 },
  });
  return files;
}
