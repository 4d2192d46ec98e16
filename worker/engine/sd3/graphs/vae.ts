/**
 * The AutoencoderKL decoder and encoder (SD3's VAE and its relatives) as ONNX graphs built from
 * vae/config.json and the checkpoint's tensors. Follows
 * https://github.com/huggingface/diffusers/blob/58eb52c0803ea9af3abec60841c2a093bdf1f951/src/diffusers/models/autoencoders/vae.py
 * (Encoder, Decoder), models/autoencoders/autoencoder_kl.py, models/resnet.py (ResnetBlock2D),
 * models/downsampling.py, models/upsampling.py, models/unets/unet_2d_blocks.py (UNetMidBlock2D,
 * DownEncoderBlock2D, UpDecoderBlock2D) and models/attention_processor.py (AttnProcessor2_0) at
 * that commit.
 *
 * I/O (float32): decoder latent_sample [B, latent_channels, h, w] → sample [B, out_channels, 8h, 8w]
 * (for 4 blocks; ×2^(blocks−1) in general); encoder sample [B, in_channels, H, W] →
 * latent_parameters [B, 2·latent_channels, H/8, W/8] (mean ‖ logvar, as diffusers'
 * DiagonalGaussianDistribution splits them). Sizes are free.
 *
 * Precision: 'fp16' runs convolutions, the attention and the activations in half, with
 * GroupNorm statistics in float32; 'int8'/'int4' build the VAE in float32 (it has no large Linear
 * layers to quantise, and its convolutions are what costs). `vaePrecision` says what a config and a
 * requested precision give.
 */
import { EngineError } from '../../engine-error.js';
import { DataType } from '../../onnx/data-types.js';
import { GraphBuilder, type BuiltGraph, type Value } from '../../onnx/graph-builder.js';
import {
  activation,
  attention,
  computeType,
  conv2d,
  groupNorm,
  linear,
  type AttentionForm,
  type LayerContext,
  type Precision,
} from '../../onnx/layers.js';
import type { WeightSet } from '../../safetensors.js';
import { ConfigFields } from './config-fields.js';
import { UsageTrackingWeightSet } from './weight-usage.js';

/** vae/config.json, checked (diffusers AutoencoderKL's constructor arguments). */
export interface AutoencoderKlConfig {
  in_channels: number;
  out_channels: number;
  latent_channels: number;
  block_out_channels: number[];
  layers_per_block: number;
  norm_num_groups: number;
  act_fn: 'silu';
  use_quant_conv: boolean;
  use_post_quant_conv: boolean;
  mid_block_add_attention: boolean;
  scaling_factor: number;
  shift_factor: number;
  /** diffusers runs this VAE in float32 even in a half-precision pipeline. */
  force_upcast: boolean;
}

/** Reads and checks vae/config.json; `path` names the file in messages. */
export function readAutoencoderKlConfig(json: unknown, path = 'vae/config.json'): AutoencoderKlConfig {
  const f = new ConfigFields(json, path);
  f.className('AutoencoderKL');
  const blocks = f.intList('block_out_channels', 1, 1 << 14, [64]);
  if (blocks.length === 0) f.fail('block_out_channels', 'is empty; it lists the channels of each resolution level');
  const groups = f.int('norm_num_groups', 1, 1 << 14, 32);
  const bad = blocks.find((c) => c % groups !== 0);
  if (bad !== undefined) f.fail('norm_num_groups', `is ${groups}, which does not divide block_out_channels entry ${bad}`);
  for (const [field, type] of [
    ['down_block_types', 'DownEncoderBlock2D'],
    ['up_block_types', 'UpDecoderBlock2D'],
  ] as const) {
    const value = f.raw(field) ?? [type];
    if (!Array.isArray(value) || value.length !== blocks.length || value.some((t) => t !== type)) {
      f.fail(field, `is ${JSON.stringify(value)}; Flowfill builds ${blocks.length} × "${type}" (one per block_out_channels entry)`);
    }
  }
  for (const field of ['latents_mean', 'latents_std']) {
    if (f.has(field)) f.fail(field, `is set; Flowfill builds VAEs that scale latents by scaling_factor/shift_factor only (null here)`);
  }
  return {
    in_channels: f.int('in_channels', 1, 64, 3),
    out_channels: f.int('out_channels', 1, 64, 3),
    latent_channels: f.int('latent_channels', 1, 1024, 4),
    block_out_channels: blocks,
    layers_per_block: f.int('layers_per_block', 1, 64, 1),
    norm_num_groups: groups,
    act_fn: f.oneOf('act_fn', ['silu'] as const, 'silu'),
    use_quant_conv: f.bool('use_quant_conv', true),
    use_post_quant_conv: f.bool('use_post_quant_conv', true),
    mid_block_add_attention: f.bool('mid_block_add_attention', true),
    scaling_factor: f.number('scaling_factor', 0.18215),
    shift_factor: f.number('shift_factor', 0),
    force_upcast: f.bool('force_upcast', true),
  };
}

/**
 * The precision a VAE graph is built in for a requested model precision: half only for 'fp16'
 * and a VAE whose config does not ask for float32 (`force_upcast`, set on SD3's VAE because its
 * activations overflow half precision), float32 otherwise.
 */
export function vaePrecision(config: AutoencoderKlConfig, requested: Precision): 'fp32' | 'fp16' {
  return requested === 'fp16' && !config.force_upcast ? 'fp16' : 'fp32';
}

/** Spatial factor between pixels and latents: 2^(number of blocks − 1). */
export function vaeScaleFactor(config: AutoencoderKlConfig): number {
  return 2 ** (config.block_out_channels.length - 1);
}

const EPS = 1e-6;

/** The decoder: latent_sample → sample. */
export function buildVaeDecoderGraph(
  config: AutoencoderKlConfig,
  weights: WeightSet,
  precision: Precision,
  options: VaeBuildOptions = {},
): BuiltGraph {
  return buildVae(config, weights, precision, 'decoder', options);
}

/** The encoder: sample → latent_parameters (mean ‖ logvar). */
export function buildVaeEncoderGraph(
  config: AutoencoderKlConfig,
  weights: WeightSet,
  precision: Precision,
  options: VaeBuildOptions = {},
): BuiltGraph {
  return buildVae(config, weights, precision, 'encoder', options);
}

export interface VaeBuildOptions {
  /** The mid block's attention kernel: 'fused' (default) or 'unfused' (see layers.attention). */
  attentionKernel?: AttentionForm;
}

function buildVae(
  config: AutoencoderKlConfig,
  weights: WeightSet,
  precision: Precision,
  part: 'encoder' | 'decoder',
  options: VaeBuildOptions,
): BuiltGraph {
  const tracked = new UsageTrackingWeightSet(weights);
  const b = new GraphBuilder(`vae_${part}`);
  // Convolutions are the VAE's cost and it has no big Linear layers: 'int8'/'int4' keep it float32.
  const ctx: LayerContext = {
    b,
    weights: tracked,
    precision: precision === 'fp16' ? 'fp16' : 'fp32',
    attention: options.attentionKernel ?? 'fused',
  };
  const vae = new VaeBuilder(ctx, config);
  if (part === 'decoder') {
    const latents = b.input('latent_sample', DataType.FLOAT, ['batch', config.latent_channels, 'latent_height', 'latent_width']);
    b.output(b.cast(vae.decoder(latents), DataType.FLOAT), 'sample', ['batch', config.out_channels, 'height', 'width']);
  } else {
    const image = b.input('sample', DataType.FLOAT, ['batch', config.in_channels, 'height', 'width']);
    b.output(b.cast(vae.encoder(image), DataType.FLOAT), 'latent_parameters', [
      'batch',
      2 * config.latent_channels,
      'latent_height',
      'latent_width',
    ]);
  }
  // The other half of the autoencoder shares the checkpoint.
  const other = part === 'decoder' ? ['encoder.', 'quant_conv.'] : ['decoder.', 'post_quant_conv.'];
  tracked.checkAllUsed('vae/config.json', (name) => other.some((prefix) => name.startsWith(prefix)));
  return b.build();
}

class VaeBuilder {
  private readonly b: GraphBuilder;

  constructor(
    private readonly ctx: LayerContext,
    private readonly config: AutoencoderKlConfig,
  ) {
    this.b = ctx.b;
  }

  encoder(image: Value): Value {
    const { b, ctx, config } = this;
    const channels = config.block_out_channels;
    const last = channels[channels.length - 1];
    let x = conv2d(ctx, image, 'encoder.conv_in', { inChannels: config.in_channels, outChannels: channels[0], kernel: 3 });
    let inChannels = channels[0];
    channels.forEach((out, i) => {
      x = b.scope(`encoder.down_blocks.${i}`, () => {
        let h = x;
        for (let j = 0; j < config.layers_per_block; j++) {
          h = this.resnet(h, `encoder.down_blocks.${i}.resnets.${j}`, j === 0 ? inChannels : out, out);
        }
        if (i < channels.length - 1) {
          // Downsample2D(padding=0): F.pad (0, 1, 0, 1) then a stride-2 conv, i.e. padding bottom and right only.
          h = conv2d(ctx, h, `encoder.down_blocks.${i}.downsamplers.0.conv`, {
            inChannels: out,
            outChannels: out,
            kernel: 3,
            stride: 2,
            pads: [0, 0, 1, 1],
          });
        }
        return h;
      });
      inChannels = out;
    });
    x = b.scope('encoder.mid_block', () => this.midBlock(x, 'encoder.mid_block', last));
    x = this.normAct(x, 'encoder.conv_norm_out', last);
    x = conv2d(ctx, x, 'encoder.conv_out', { inChannels: last, outChannels: 2 * config.latent_channels, kernel: 3 });
    if (config.use_quant_conv) {
      x = conv2d(ctx, x, 'quant_conv', { inChannels: 2 * config.latent_channels, outChannels: 2 * config.latent_channels, kernel: 1 });
    }
    return x;
  }

  decoder(latents: Value): Value {
    const { b, ctx, config } = this;
    const reversed = [...config.block_out_channels].reverse();
    let x = latents;
    if (config.use_post_quant_conv) {
      x = conv2d(ctx, x, 'post_quant_conv', { inChannels: config.latent_channels, outChannels: config.latent_channels, kernel: 1 });
    }
    x = conv2d(ctx, x, 'decoder.conv_in', { inChannels: config.latent_channels, outChannels: reversed[0], kernel: 3 });
    x = b.scope('decoder.mid_block', () => this.midBlock(x, 'decoder.mid_block', reversed[0]));
    let inChannels = reversed[0];
    reversed.forEach((out, i) => {
      x = b.scope(`decoder.up_blocks.${i}`, () => {
        let h = x;
        for (let j = 0; j < config.layers_per_block + 1; j++) {
          h = this.resnet(h, `decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? inChannels : out, out);
        }
        if (i < reversed.length - 1) {
          // Upsample2D: nearest ×2 (PyTorch's "nearest": floor of out/2), then a 3×3 conv.
          const scales = b.float([1, 1, 2, 2], DataType.FLOAT, [4]);
          h = b.op('Resize', [h, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
          h = conv2d(ctx, h, `decoder.up_blocks.${i}.upsamplers.0.conv`, { inChannels: out, outChannels: out, kernel: 3 });
        }
        return h;
      });
      inChannels = out;
    });
    const first = config.block_out_channels[0];
    x = this.normAct(x, 'decoder.conv_norm_out', first);
    return conv2d(ctx, x, 'decoder.conv_out', { inChannels: first, outChannels: config.out_channels, kernel: 3 });
  }

  /** GroupNorm (eps 1e-6, float32 statistics) then SiLU, in the compute type. */
  private normAct(x: Value, prefix: string, channels: number): Value {
    const normed = groupNorm(
      this.ctx,
      x,
      { groups: this.config.norm_num_groups, channels, eps: EPS, prefix },
      computeType(this.ctx.precision),
    );
    return activation(this.ctx, normed, 'silu');
  }

  /** ResnetBlock2D without time embedding; a 1×1 conv_shortcut when the channel count changes. */
  private resnet(x: Value, prefix: string, inChannels: number, outChannels: number): Value {
    const { b, ctx } = this;
    return b.scope(prefix.slice(prefix.lastIndexOf('resnets')), () => {
      let h = this.normAct(x, `${prefix}.norm1`, inChannels);
      h = conv2d(ctx, h, `${prefix}.conv1`, { inChannels, outChannels, kernel: 3 });
      h = this.normAct(h, `${prefix}.norm2`, outChannels);
      h = conv2d(ctx, h, `${prefix}.conv2`, { inChannels: outChannels, outChannels, kernel: 3 });
      const shortcut =
        inChannels === outChannels ? b.cast(x, h.type) : conv2d(ctx, x, `${prefix}.conv_shortcut`, { inChannels, outChannels, kernel: 1 });
      return b.op('Add', [shortcut, h]);
    });
  }

  /** UNetMidBlock2D: resnet, [single-head self-attention over pixels], resnet. */
  private midBlock(x: Value, prefix: string, channels: number): Value {
    x = this.resnet(x, `${prefix}.resnets.0`, channels, channels);
    if (this.config.mid_block_add_attention)
      x = this.b.scope('attentions.0', () => this.pixelAttention(x, `${prefix}.attentions.0`, channels));
    return this.resnet(x, `${prefix}.resnets.1`, channels, channels);
  }

  /**
   * The mid block's Attention (one head of all `channels`, residual connection): GroupNorm, the
   * pixels as tokens [B, H·W, C], to_q/to_k/to_v as Linear layers, fused MultiHeadAttention, to_out,
   * back to NCHW, plus the input. The two Transposes move C·H·W values at the lowest resolution.
   */
  private pixelAttention(x: Value, prefix: string, channels: number): Value {
    const { b, ctx } = this;
    const type = computeType(ctx.precision);
    const normed = groupNorm(ctx, x, { groups: this.config.norm_num_groups, channels, eps: EPS, prefix: `${prefix}.group_norm` }, type);
    const tokens = b.op('Transpose', [b.op('Reshape', [normed, b.int64([0, channels, -1])])], { perm: [0, 2, 1] });
    const project = (name: string) => linear(ctx, tokens, `${prefix}.${name}`, { inFeatures: channels, outFeatures: channels });
    const attended = attention(ctx, project('to_q'), project('to_k'), project('to_v'), 1, channels);
    const out = linear(ctx, attended, `${prefix}.to_out.0`, { inFeatures: channels, outFeatures: channels });
    const nchw = b.op('Reshape', [b.op('Transpose', [out], { perm: [0, 2, 1] }), b.op('Shape', [x], undefined, DataType.INT64)]);
    return b.op('Add', [nchw, b.cast(x, type)]);
  }
}

/** Number of parameters of the encoder and decoder `config` describes (for checks and planning). */
export function autoencoderKlParameterCount(config: AutoencoderKlConfig, part: 'encoder' | 'decoder' | 'both' = 'both'): number {
  const conv = (i: number, o: number, k: number) => i * o * k * k + o;
  const norm = (c: number) => 2 * c;
  const resnet = (i: number, o: number) => norm(i) + conv(i, o, 3) + norm(o) + conv(o, o, 3) + (i !== o ? conv(i, o, 1) : 0);
  const mid = (c: number) => 2 * resnet(c, c) + (config.mid_block_add_attention ? norm(c) + 4 * (c * c + c) : 0);
  const ch = config.block_out_channels;
  const L = config.latent_channels;
  let encoder = conv(config.in_channels, ch[0], 3);
  let prev = ch[0];
  ch.forEach((out, i) => {
    for (let j = 0; j < config.layers_per_block; j++) encoder += resnet(j === 0 ? prev : out, out);
    if (i < ch.length - 1) encoder += conv(out, out, 3);
    prev = out;
  });
  encoder += mid(ch[ch.length - 1]) + norm(ch[ch.length - 1]) + conv(ch[ch.length - 1], 2 * L, 3);
  if (config.use_quant_conv) encoder += conv(2 * L, 2 * L, 1);
  const rev = [...ch].reverse();
  let decoder = (config.use_post_quant_conv ? conv(L, L, 1) : 0) + conv(L, rev[0], 3) + mid(rev[0]);
  prev = rev[0];
  rev.forEach((out, i) => {
    for (let j = 0; j < config.layers_per_block + 1; j++) decoder += resnet(j === 0 ? prev : out, out);
    if (i < rev.length - 1) decoder += conv(out, out, 3);
    prev = out;
  });
  decoder += norm(ch[0]) + conv(ch[0], config.out_channels, 3);
  return part === 'encoder' ? encoder : part === 'decoder' ? decoder : encoder + decoder;
}

/** Checks an image size against the VAE's downsampling (the encoder needs multiples of the scale factor). */
export function checkVaeImageSize(config: AutoencoderKlConfig, height: number, width: number): void {
  const factor = vaeScaleFactor(config);
  for (const [name, value] of [
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isInteger(value) || value < factor || value % factor !== 0) {
      throw new EngineError('invalid-request', `image ${name} ${value} must be a positive multiple of the VAE's scale factor ${factor}`);
    }
  }
}
