/**
 * config.json of the real SD3-family components, as published in the diffusers repositories on
 * the Hugging Face Hub (stabilityai/stable-diffusion-3-medium-diffusers,
 * stabilityai/stable-diffusion-3.5-medium, stabilityai/stable-diffusion-3.5-large: transformer/
 * and vae/). The weights are not in this repository; the structure tests build these graphs from
 * synthetic tensor headers.
 */
const common = {
  _class_name: 'SD3Transformer2DModel',
  sample_size: 128,
  patch_size: 2,
  in_channels: 16,
  out_channels: 16,
  attention_head_dim: 64,
  joint_attention_dim: 4096,
  pooled_projection_dim: 2048,
};

export const SD3_MEDIUM_TRANSFORMER = {
  ...common,
  num_layers: 24,
  num_attention_heads: 24,
  caption_projection_dim: 1536,
  pos_embed_max_size: 192,
  qk_norm: null,
  dual_attention_layers: [],
};

export const SD35_MEDIUM_TRANSFORMER = {
  ...common,
  num_layers: 24,
  num_attention_heads: 24,
  caption_projection_dim: 1536,
  pos_embed_max_size: 384,
  qk_norm: 'rms_norm',
  dual_attention_layers: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
};

export const SD35_LARGE_TRANSFORMER = {
  ...common,
  num_layers: 38,
  num_attention_heads: 38,
  caption_projection_dim: 2432,
  pos_embed_max_size: 192,
  qk_norm: 'rms_norm',
  dual_attention_layers: [],
};

/** The VAE shared by SD3 and SD3.5. */
export const SD3_VAE = {
  _class_name: 'AutoencoderKL',
  act_fn: 'silu',
  block_out_channels: [128, 256, 512, 512],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  force_upcast: true,
  in_channels: 3,
  latent_channels: 16,
  latents_mean: null,
  latents_std: null,
  layers_per_block: 2,
  norm_num_groups: 32,
  out_channels: 3,
  sample_size: 1024,
  scaling_factor: 1.5305,
  shift_factor: 0.0609,
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  use_post_quant_conv: false,
  use_quant_conv: false,
};
