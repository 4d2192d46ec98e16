/**
 * The SD3 configs the engine reads, as diffusers and transformers write them: the fields each
 * component's config.json must have, their checks (naming the file, the field and the value), the
 * geometry derived from them, and the cross-component rules SD3's text assembly relies on.
 */
import { EngineError } from '../engine-error.js';
import type { FlowfillManifest } from '../flowfill-manifest.js';
import { validateLatentRgbFactors } from '../latent-preview.js';

/** The fields of transformer/config.json the engine uses (diffusers SD3Transformer2DModel). */
export interface TransformerConfig {
  sample_size: number;
  patch_size: number;
  in_channels: number;
  out_channels: number;
  joint_attention_dim: number;
  pooled_projection_dim: number;
  pos_embed_max_size: number;
  num_attention_heads: number;
  attention_head_dim: number;
}

/** The fields of the VAE's config.json the engine uses (diffusers AutoencoderKL). */
export interface VaeConfig {
  block_out_channels: number[];
  latent_channels: number;
  scaling_factor: number;
  shift_factor: number;
  in_channels: number;
  out_channels: number;
}

export type TextEncoderName = 'text_encoder' | 'text_encoder_2' | 'text_encoder_3';

/** The widths of one text encoder's outputs (transformers CLIPTextConfig / T5Config). */
export interface TextEncoderConfig {
  /** 'clip' gives text_embeds + hidden_states.N; 't5' gives last_hidden_state only. */
  kind: 'clip' | 't5';
  /** Per-token width: CLIP hidden_size, T5 d_model. */
  hiddenSize: number;
  /** CLIP projection_dim: the width of text_embeds (the pooled vector). */
  projectionDim?: number;
}

/** flowfill.json fields SD3 reads besides the generic ones. */
export interface Sd3Manifest extends FlowfillManifest {
  /** latent_channels rows of [r, g, b]: linear latent→RGB preview. */
  latent_rgb_factors?: number[][];
  latent_rgb_bias?: number[];
  /** Length of the T5 block, or of its zeros when there is no T5 (diffusers' default 256). */
  max_sequence_length?: number;
}

export interface Sd3Geometry {
  /** 2^(len(block_out_channels) − 1), as diffusers derives it. */
  vaeScaleFactor: number;
  patchSize: number;
  latentChannels: number;
  /** sample_size · vaeScaleFactor. */
  nativeSize: number;
  /** pos_embed_max_size · patch_size · vaeScaleFactor. */
  maxSide: number;
  /** vaeScaleFactor · patchSize. */
  sizeMultiple: number;
}

function mismatch(message: string): EngineError {
  return new EngineError('model-mismatch', message);
}

function positiveInteger(path: string, config: Record<string, unknown>, field: string, fallback?: number): number {
  const value = config[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw mismatch(`${path}: ${field} is ${JSON.stringify(value)}; expected a positive integer`);
  }
  return value;
}

function finiteNumber(path: string, config: Record<string, unknown>, field: string, fallback?: number): number {
  const value = config[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw mismatch(`${path}: ${field} is ${JSON.stringify(value)}; expected a number`);
  }
  return value;
}

export function readTransformerConfig(path: string, config: Record<string, unknown>): TransformerConfig {
  const inChannels = positiveInteger(path, config, 'in_channels');
  return {
    sample_size: positiveInteger(path, config, 'sample_size'),
    patch_size: positiveInteger(path, config, 'patch_size'),
    in_channels: inChannels,
    out_channels: positiveInteger(path, config, 'out_channels', inChannels),
    joint_attention_dim: positiveInteger(path, config, 'joint_attention_dim'),
    pooled_projection_dim: positiveInteger(path, config, 'pooled_projection_dim'),
    pos_embed_max_size: positiveInteger(path, config, 'pos_embed_max_size'),
    num_attention_heads: positiveInteger(path, config, 'num_attention_heads'),
    attention_head_dim: positiveInteger(path, config, 'attention_head_dim'),
  };
}

export function readVaeConfig(path: string, config: Record<string, unknown>): VaeConfig {
  const blocks = config.block_out_channels;
  if (!Array.isArray(blocks) || blocks.length === 0 || !blocks.every((b) => Number.isInteger(b) && b > 0)) {
    throw mismatch(`${path}: block_out_channels is ${JSON.stringify(blocks)}; expected a list of positive integers`);
  }
  return {
    block_out_channels: blocks as number[],
    latent_channels: positiveInteger(path, config, 'latent_channels'),
    scaling_factor: finiteNumber(path, config, 'scaling_factor'),
    // diffusers treats an absent shift_factor as 0 (SD1/SDXL VAEs have none).
    shift_factor: finiteNumber(path, config, 'shift_factor', 0),
    in_channels: positiveInteger(path, config, 'in_channels', 3),
    out_channels: positiveInteger(path, config, 'out_channels', 3),
  };
}

/** SD3's convention: text_encoder and text_encoder_2 are CLIP, text_encoder_3 is T5. */
export function textEncoderKind(name: TextEncoderName): 'clip' | 't5' {
  return name === 'text_encoder_3' ? 't5' : 'clip';
}

export function readTextEncoderConfig(path: string, name: TextEncoderName, config: Record<string, unknown>): TextEncoderConfig {
  const kind = textEncoderKind(name);
  if (kind === 't5') return { kind, hiddenSize: positiveInteger(path, config, 'd_model') };
  return { kind, hiddenSize: positiveInteger(path, config, 'hidden_size'), projectionDim: positiveInteger(path, config, 'projection_dim') };
}

export function deriveGeometry(transformer: TransformerConfig, vae: VaeConfig): Sd3Geometry {
  const vaeScaleFactor = 2 ** (vae.block_out_channels.length - 1);
  return {
    vaeScaleFactor,
    patchSize: transformer.patch_size,
    latentChannels: vae.latent_channels,
    nativeSize: transformer.sample_size * vaeScaleFactor,
    maxSide: transformer.pos_embed_max_size * transformer.patch_size * vaeScaleFactor,
    sizeMultiple: vaeScaleFactor * transformer.patch_size,
  };
}

/** The transformer and VAE must share one latent space. */
export function checkTransformerMatchesVae(transformer: TransformerConfig, transformerPath: string, vae: VaeConfig, vaePath: string): void {
  if (transformer.in_channels !== vae.latent_channels) {
    throw mismatch(
      `${transformerPath}: in_channels ${transformer.in_channels} differs from ${vaePath} latent_channels ${vae.latent_channels}`,
    );
  }
}

/**
 * What SD3's prompt assembly needs of the text encoders (diffusers encode_prompt): the CLIP
 * text_embeds concatenate to pooled_projection_dim; the CLIP hidden states, concatenated, fit in
 * joint_attention_dim (they are zero-padded to it); T5 gives joint_attention_dim-wide tokens; and
 * without a CLIP there is no pooled vector.
 */
export function checkTextEncodersMatchTransformer(
  encoders: readonly { name: TextEncoderName; configPath: string; config: TextEncoderConfig }[],
  transformer: TransformerConfig,
  transformerPath: string,
): void {
  const clips = encoders.filter((encoder) => encoder.config.kind === 'clip');
  const t5 = encoders.find((encoder) => encoder.config.kind === 't5');
  if (t5 && clips.length === 0) {
    throw mismatch(`${t5.name} (T5) without a CLIP text encoder gives no pooled embedding; SD3 needs text_encoder and/or text_encoder_2`);
  }
  if (clips.length > 0) {
    const pooled = clips.reduce((sum, clip) => sum + clip.config.projectionDim!, 0);
    if (pooled !== transformer.pooled_projection_dim) {
      const parts = clips.map((clip) => `${clip.configPath} projection_dim ${clip.config.projectionDim}`).join(' + ');
      throw mismatch(
        `${parts} = ${pooled}, but ${transformerPath} pooled_projection_dim is ${transformer.pooled_projection_dim}; these text encoders do not belong to this transformer`,
      );
    }
    const hidden = clips.reduce((sum, clip) => sum + clip.config.hiddenSize, 0);
    if (hidden > transformer.joint_attention_dim) {
      const parts = clips.map((clip) => `${clip.configPath} hidden_size ${clip.config.hiddenSize}`).join(' + ');
      throw mismatch(
        `${parts} = ${hidden}, more than ${transformerPath} joint_attention_dim ${transformer.joint_attention_dim}; these text encoders do not belong to this transformer`,
      );
    }
  }
  if (t5 && t5.config.hiddenSize !== transformer.joint_attention_dim) {
    throw mismatch(
      `${t5.configPath} d_model is ${t5.config.hiddenSize}, but ${transformerPath} joint_attention_dim is ${transformer.joint_attention_dim}; T5's tokens must be joint_attention_dim wide`,
    );
  }
}

/** The manifest's SD3 fields, checked against the package before anything runs. */
export function checkSd3Manifest(manifest: Sd3Manifest, latentChannels: number): void {
  if (manifest.latent_rgb_factors !== undefined) {
    try {
      validateLatentRgbFactors(
        { factors: manifest.latent_rgb_factors, bias: manifest.latent_rgb_bias },
        latentChannels,
        'flowfill.json latent_rgb_factors',
      );
    } catch (error) {
      throw new EngineError('model-mismatch', (error as Error).message, { cause: error });
    }
  }
  const length = manifest.max_sequence_length;
  // diffusers refuses max_sequence_length > 512 (StableDiffusion3Pipeline.check_inputs).
  if (length !== undefined && (!Number.isInteger(length) || length < 0 || length > 512)) {
    throw mismatch(
      `flowfill.json: max_sequence_length is ${JSON.stringify(length)}; expected an integer from 0 to 512 (diffusers uses 256)`,
    );
  }
}
