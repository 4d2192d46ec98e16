/**
 * SD3 image-to-image, the sibling of pipeline.ts, as diffusers' `StableDiffusion3Img2ImgPipeline`
 * (pipeline_stable_diffusion_3_img2img.py @58eb52c): the init image is encoded by the VAE, moved
 * to model space ((z − shift_factor)·scaling_factor), noised to the first σ of the truncated
 * schedule (t_start = int(n − min(n·strength, n))), and denoised from there.
 *
 * Two deliberate differences, both stated in the result's notes:
 * - the VAE posterior is read deterministically: its mean, not mean + std·ε (diffusers samples;
 *   the mean keeps one seed → one image without a second noise draw, and the std of an SD3 VAE
 *   posterior is tiny). An encoder exported to give a latent directly is used as it is.
 * - the init image is resized to the generation size bilinearly (diffusers uses PIL Lanczos).
 *
 * Stages 1, 2, 6 and 7 read like pipeline.ts on purpose (diffusers' one-file-per-pipeline habit):
 * the shared work itself lives in pipeline.ts's helpers, called from both.
 */
import type { GenerationRequest, GenerationResult } from '../../../common/engine-types.js';
import { EngineError } from '../engine-error.js';
import { usesClassifierFreeGuidance } from '../guidance.js';
import { resizeRgbaBilinear, rgbaToVaeInput, vaeLatentsToModelSpace } from '../image-convert.js';
import type { JobContext } from '../model-family.js';
import { initialLatentNoise } from '../prng.js';
import { checkGpuLimits } from './attention-sites.js';
import {
  checkJobMemory,
  checkRequest,
  createScheduler,
  decodeJobLatentsAsync,
  encodePromptPlannedAsync,
  finishResultAsync,
  floatOutput,
  runDenoiseLoopAsync,
  schedulerOptions,
  type CheckedRequest,
} from './pipeline.js';
import { vaeEncoderSessionAsync, type Sd3Runtime } from './runtime.js';

/** diffusers' StableDiffusion3Img2ImgPipeline default strength. */
export const DEFAULT_STRENGTH = 0.6;

export async function generateFromImageAsync(model: Sd3Runtime, request: GenerationRequest, job: JobContext): Promise<GenerationResult> {
  const started = performance.now();
  // 1. Check the request, the model and the GPU limits
  const checked = checkRequest(model.pkg, request);
  const init = request.init;
  if (!init) throw new EngineError('internal', 'generateFromImageAsync needs request.init');
  if (!model.pkg.vaeEncoder) throw new EngineError('internal', 'checkRequest let an init image through without a VAE encoder');
  const strength = request.strength ?? DEFAULT_STRENGTH;
  if (request.strength === undefined) checked.notes.push(`no strength given; using ${DEFAULT_STRENGTH} (diffusers' default)`);
  const cfg = usesClassifierFreeGuidance(request.guidance);
  checkGpuLimits(model, checked, cfg, job);
  const memory = checkJobMemory(model, checked, cfg);

  // 2. Encode the prompt
  let mark = performance.now();
  const conditioning = await encodePromptPlannedAsync(model, checked, cfg, memory);
  const textEncodeMs = performance.now() - mark;

  // 3. Timesteps, truncated by strength
  const scheduler = createScheduler(model.pkg, request.shift);
  scheduler.setTimesteps(request.steps, schedulerOptions(model.pkg, scheduler, checked));
  try {
    scheduler.getImg2ImgStart(request.steps, strength);
  } catch (error) {
    throw new EngineError('invalid-request', (error as Error).message);
  }

  // 4. Init latents: VAE encode, model space, noised to σ[t_start]
  mark = performance.now();
  const initLatent = await encodeInitImageAsync(model, checked, init);
  const vaeEncodeMs = performance.now() - mark;
  const noise = initialLatentNoise(request.seed, model.pkg.transformer.config.in_channels, checked.latentHeight, checked.latentWidth);
  const latents = scheduler.scaleNoise(initLatent, noise);

  // 5. Denoise from t_start
  const {
    latents: finalLatents,
    stepMs,
    denoiseMs,
  } = await runDenoiseLoopAsync(model, checked, scheduler, latents, conditioning, job, started);

  // 6. Decode
  mark = performance.now();
  const decoded = await decodeJobLatentsAsync(model, checked, finalLatents, memory);
  const vaeDecodeMs = performance.now() - mark;

  // 7. PNG
  const result = await finishResultAsync(
    model,
    checked,
    decoded,
    { textEncodeMs, denoiseStepMs: stepMs, denoiseMs, vaeDecodeMs, vaeEncodeMs, totalMs: 0 },
    job,
    started,
  );
  result.settings.strength = strength;
  return result;
}

/** RGBA init image → model-space latent [1, C, h, w] (deterministic: the posterior mean). */
async function encodeInitImageAsync(
  model: Sd3Runtime,
  checked: CheckedRequest,
  init: NonNullable<GenerationRequest['init']>,
): Promise<Float32Array> {
  const { pkg } = model;
  const encoder = pkg.vaeEncoder!;
  const vae = pkg.vaeDecoder.config;
  const { width, height, latentWidth, latentHeight } = checked;
  let rgba = init.rgba;
  if (init.width !== width || init.height !== height) {
    rgba = resizeRgbaBilinear(init.rgba, init.width, init.height, width, height);
    checked.notes.push(`init image ${init.width}x${init.height} resized bilinearly to ${width}x${height}`);
  }
  // The encoder's session is made by the first image-to-image job (text-to-image never needs it).
  const session = await vaeEncoderSessionAsync(model);
  if (!session) throw new EngineError('internal', 'checkRequest let an init image through without a VAE encoder');
  const outputs = await session.runAsync({
    sample: { type: 'float32', data: rgbaToVaeInput(rgba, width, height), dims: [1, vae.in_channels, height, width] },
  });
  const outputName = encoder.graph.summary.outputs[0].name;
  const channels = vae.latent_channels;
  const plane = latentHeight * latentWidth;
  const parameterChannels = encoder.output === 'mean-and-logvar' ? 2 * channels : channels;
  const parameters = floatOutput(outputs, outputName, encoder.graph.path, parameterChannels * plane);
  // DiagonalGaussianDistribution: mean, logvar = chunk(parameters, 2, dim=1) → the mean is the first C channels.
  const z = parameters.subarray(0, channels * plane);
  if (encoder.output === 'mean-and-logvar') checked.notes.push('image-to-image uses the VAE posterior mean (deterministic), not a sample');
  return vaeLatentsToModelSpace(z, vae);
}
