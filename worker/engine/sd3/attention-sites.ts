/**
 * Where an SD3 job builds attention-score tensors, for the WebGPU binding-size check in
 * ../attention-limits.ts: the MM-DiT's joint attention over image and text tokens, and the VAE
 * decoder's mid-block attention over every latent pixel.
 */
import { checkAttentionFitsGpu, countAttention, type AttentionSite } from '../attention-limits.js';
import type { JobContext } from '../model-family.js';
import type { Sd3Runtime } from './runtime.js';
import { conditioningSequenceLength } from './prompt-tokenizers.js';

/** A job's planned size: pixels and latent cells. */
export interface JobSize {
  width: number;
  height: number;
  latentHeight: number;
  latentWidth: number;
}

/** The unfused-attention score tensors this job would build. */
export function attentionSites(model: Sd3Runtime, size: JobSize, cfg: boolean): AttentionSite[] {
  const { pkg } = model;
  const { patchSize } = pkg.geometry;
  const imageTokens = (size.latentHeight / patchSize) * (size.latentWidth / patchSize);
  const textTokens = conditioningSequenceLength(pkg);
  return [
    {
      label: pkg.transformer.graph.path,
      census: countAttention(pkg.transformer.graph.summary),
      batch: cfg ? 2 : 1,
      heads: pkg.transformer.config.num_attention_heads,
      tokens: imageTokens + textTokens,
      fixedTokens: textTokens,
    },
    {
      // AutoencoderKL's mid-block attention: one head over every latent pixel.
      label: pkg.vaeDecoder.graph.path,
      census: countAttention(pkg.vaeDecoder.graph.summary),
      batch: 1,
      heads: 1,
      tokens: size.latentHeight * size.latentWidth,
      fixedTokens: 0,
    },
  ];
}

/** On WebGPU, 'size-exceeds-gpu-limits' when an unfused attention of this job would not fit one binding. */
export function checkGpuLimits(model: Sd3Runtime, size: JobSize, cfg: boolean, job: JobContext): void {
  if (model.backend !== 'webgpu' || job.maxStorageBufferBindingSize === undefined) return;
  checkAttentionFitsGpu(
    attentionSites(model, size, cfg),
    { width: size.width, height: size.height, sizeMultiple: model.pkg.geometry.sizeMultiple },
    job.maxStorageBufferBindingSize,
  );
}
