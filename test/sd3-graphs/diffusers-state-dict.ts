/**
 * The state-dict keys and shapes diffusers' SD3Transformer2DModel and AutoencoderKL have for a
 * config (written from their module definitions at diffusers 58eb52c, independently of the graph
 * builders). The tests check these lists against the tiny fixture checkpoints' real headers, then
 * use them as synthetic headers for the full-size models, whose weights are not in the repository.
 */
import type { ByteSource } from '../../worker/engine/byte-source.js';
import { DataType } from '../../worker/engine/onnx/data-types.js';
import { WeightSet, type SafetensorsTensor } from '../../worker/engine/safetensors.js';
import type { Sd3TransformerConfig } from '../../worker/engine/sd3/graphs/sd3-transformer.js';
import type { AutoencoderKlConfig } from '../../worker/engine/sd3/graphs/vae.js';

export type StateDict = Map<string, number[]>;

function linear(dict: StateDict, prefix: string, inFeatures: number, outFeatures: number, bias = true): void {
  dict.set(`${prefix}.weight`, [outFeatures, inFeatures]);
  if (bias) dict.set(`${prefix}.bias`, [outFeatures]);
}

export function transformerStateDict(config: Sd3TransformerConfig): StateDict {
  const dict: StateDict = new Map();
  const D = config.num_attention_heads * config.attention_head_dim;
  const Dh = config.attention_head_dim;
  const p = config.patch_size;
  dict.set('pos_embed.proj.weight', [D, config.in_channels, p, p]);
  dict.set('pos_embed.proj.bias', [D]);
  dict.set('pos_embed.pos_embed', [1, config.pos_embed_max_size ** 2, D]);
  linear(dict, 'time_text_embed.timestep_embedder.linear_1', 256, D);
  linear(dict, 'time_text_embed.timestep_embedder.linear_2', D, D);
  linear(dict, 'time_text_embed.text_embedder.linear_1', config.pooled_projection_dim, D);
  linear(dict, 'time_text_embed.text_embedder.linear_2', D, D);
  linear(dict, 'context_embedder', config.joint_attention_dim, config.caption_projection_dim);
  for (let i = 0; i < config.num_layers; i++) {
    const block = `transformer_blocks.${i}`;
    const dual = config.dual_attention_layers.includes(i);
    const last = i === config.num_layers - 1;
    linear(dict, `${block}.norm1.linear`, D, (dual ? 9 : 6) * D);
    linear(dict, `${block}.norm1_context.linear`, D, (last ? 2 : 6) * D);
    const attentions = dual ? ['attn', 'attn2'] : ['attn'];
    for (const attn of attentions) {
      for (const name of ['to_q', 'to_k', 'to_v', 'to_out.0']) linear(dict, `${block}.${attn}.${name}`, D, D);
      if (config.qk_norm) for (const norm of ['norm_q', 'norm_k']) dict.set(`${block}.${attn}.${norm}.weight`, [Dh]);
    }
    for (const name of ['add_q_proj', 'add_k_proj', 'add_v_proj']) linear(dict, `${block}.attn.${name}`, D, D);
    if (config.qk_norm) for (const norm of ['norm_added_q', 'norm_added_k']) dict.set(`${block}.attn.${norm}.weight`, [Dh]);
    if (!last) linear(dict, `${block}.attn.to_add_out`, D, D);
    for (const ff of last ? ['ff'] : ['ff', 'ff_context']) {
      linear(dict, `${block}.${ff}.net.0.proj`, D, 4 * D);
      linear(dict, `${block}.${ff}.net.2`, 4 * D, D);
    }
  }
  linear(dict, 'norm_out.linear', D, 2 * D);
  linear(dict, 'proj_out', D, p * p * config.out_channels);
  return dict;
}

export function vaeStateDict(config: AutoencoderKlConfig): StateDict {
  const dict: StateDict = new Map();
  const conv = (prefix: string, i: number, o: number, k: number) => {
    dict.set(`${prefix}.weight`, [o, i, k, k]);
    dict.set(`${prefix}.bias`, [o]);
  };
  const norm = (prefix: string, c: number) => {
    dict.set(`${prefix}.weight`, [c]);
    dict.set(`${prefix}.bias`, [c]);
  };
  const resnet = (prefix: string, i: number, o: number) => {
    norm(`${prefix}.norm1`, i);
    conv(`${prefix}.conv1`, i, o, 3);
    norm(`${prefix}.norm2`, o);
    conv(`${prefix}.conv2`, o, o, 3);
    if (i !== o) conv(`${prefix}.conv_shortcut`, i, o, 1);
  };
  const mid = (prefix: string, c: number) => {
    resnet(`${prefix}.resnets.0`, c, c);
    resnet(`${prefix}.resnets.1`, c, c);
    if (config.mid_block_add_attention) {
      norm(`${prefix}.attentions.0.group_norm`, c);
      for (const name of ['to_q', 'to_k', 'to_v', 'to_out.0']) linear(dict, `${prefix}.attentions.0.${name}`, c, c);
    }
  };
  const ch = config.block_out_channels;
  const L = config.latent_channels;
  conv('encoder.conv_in', config.in_channels, ch[0], 3);
  let prev = ch[0];
  ch.forEach((out, i) => {
    for (let j = 0; j < config.layers_per_block; j++) resnet(`encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? prev : out, out);
    if (i < ch.length - 1) conv(`encoder.down_blocks.${i}.downsamplers.0.conv`, out, out, 3);
    prev = out;
  });
  mid('encoder.mid_block', ch[ch.length - 1]);
  norm('encoder.conv_norm_out', ch[ch.length - 1]);
  conv('encoder.conv_out', ch[ch.length - 1], 2 * L, 3);
  if (config.use_quant_conv) conv('quant_conv', 2 * L, 2 * L, 1);
  if (config.use_post_quant_conv) conv('post_quant_conv', L, L, 1);
  const rev = [...ch].reverse();
  conv('decoder.conv_in', L, rev[0], 3);
  mid('decoder.mid_block', rev[0]);
  prev = rev[0];
  rev.forEach((out, i) => {
    for (let j = 0; j < config.layers_per_block + 1; j++) resnet(`decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? prev : out, out);
    if (i < rev.length - 1) conv(`decoder.up_blocks.${i}.upsamplers.0.conv`, out, out, 3);
    prev = out;
  });
  norm('decoder.conv_norm_out', ch[0]);
  conv('decoder.conv_out', ch[0], config.out_channels, 3);
  return dict;
}

/**
 * A sparse file of `size` zero bytes: what a checkpoint shard looks like to a builder that only
 * reads headers. Small tensors the serialiser inlines read as zeros; nothing large is ever read.
 */
function zeroFile(name: string, size: number): ByteSource & { bytesRead: number } {
  return {
    name,
    size,
    bytesRead: 0,
    async readAsync(offset, length) {
      if (offset < 0 || offset + length > size) throw new RangeError(`${name}: bytes ${offset}..${offset + length} of ${size}`);
      this.bytesRead += length;
      return new Uint8Array(length);
    },
    sliceBlob() {
      throw new Error(`${name}: a structural test never slices weights`);
    },
  };
}

/** A WeightSet of `dict` laid out as one fp16 (or bf16) checkpoint file; `file.bytesRead` counts what was read. */
export function syntheticWeights(
  description: string,
  dict: StateDict,
  dataType: DataType = DataType.FLOAT16,
): { weights: WeightSet; file: { bytesRead: number } } {
  let offset = 0;
  const entries: [string, number[], number][] = [];
  for (const [name, shape] of dict) {
    const length = shape.reduce((a, b) => a * b, 1) * 2;
    entries.push([name, shape, offset]);
    offset += length;
  }
  const file = zeroFile(`${description}.safetensors`, offset);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, shape, start] of entries) {
    tensors.set(name, { name, dataType, shape, file, offset: start, length: shape.reduce((a, b) => a * b, 1) * 2 });
  }
  return { weights: new WeightSet(description, tensors), file };
}

export function elementCount(dict: StateDict): number {
  let total = 0;
  for (const shape of dict.values()) total += shape.reduce((a, b) => a * b, 1);
  return total;
}
