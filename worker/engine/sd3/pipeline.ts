/**
 * SD3 text-to-image, read top to bottom like diffusers' `StableDiffusion3Pipeline.__call__`
 * (pipeline_stable_diffusion_3.py @58eb52c): check the request, encode the prompt, set the
 * timesteps, draw the initial latents, denoise with flow-match Euler (CFG on [uncond, cond] when
 * guidance > 1), unscale and decode with the VAE, encode a PNG.
 *
 * The helpers below `generateAsync` are shared with the sibling image-to-image.ts and with the
 * parity runner, which feeds the golden fixtures' own noise and embeddings through the same loop.
 */
import type { GenerationProgress, GenerationRequest, GenerationResult, StageTimings } from '../../../common/engine-types.js';
import { validateGenerationSize } from '../../../common/resolution-planner.js';
import { EngineError } from '../engine-error.js';
import { FlowMatchEulerDiscreteScheduler } from '../flow-match-euler.js';
import { usesClassifierFreeGuidance } from '../guidance.js';
import { latentsToVaeInput, vaeOutputToRgba } from '../image-convert.js';
import { latentToPreview } from '../latent-preview.js';
import type { JobContext } from '../model-family.js';
import type { BackendSession, HostTensor } from '../ort-backend.js';
import { denoiseLatents, throwIfNotFinite } from './denoise-latents.js';
import { encodeRgbaAsRgbPngAsync } from '../png.js';
import { initialLatentNoise } from '../prng.js';
import { checkGpuLimits } from './attention-sites.js';
import { previewFactors } from './latent-rgb-factors.js';
import { UNCONDITIONAL_NOTE, type Sd3Package } from './package.js';
import { checkMemoryBudget, type MemoryEstimate } from './memory-plan.js';
import { releaseTextEncodersAsync, textEncoderSessionsAsync, type Sd3Runtime } from './runtime.js';
import { encodePromptAsync, type PromptConditioning } from './text-encoding.js';
import { tiledDecodeAsync, type DecodeTileAsync } from './vae-tiling.js';

export { denoiseLatents, throwIfNotFinite, type DenoiseInputs, type DenoiseStep } from './denoise-latents.js';

export const MAX_STEPS = 200;

/** A request after validation: the settings actually used. */
export interface CheckedRequest {
  request: GenerationRequest;
  width: number;
  height: number;
  latentHeight: number;
  latentWidth: number;
  negativePrompt: string;
  notes: string[];
}

/** Text-to-image (no init image). */
export async function generateAsync(model: Sd3Runtime, request: GenerationRequest, job: JobContext): Promise<GenerationResult> {
  const started = performance.now();
  // 1. Check the request and the GPU limits
  const checked = checkRequest(model.pkg, request);
  if (request.init) throw new EngineError('internal', 'generateAsync got an init image; use generateFromImageAsync');
  const cfg = usesClassifierFreeGuidance(request.guidance);
  checkGpuLimits(model, checked, cfg, job);
  const memory = checkJobMemory(model, checked, cfg);

  // 2. Encode the prompt ([negative, prompt] with CFG)
  let mark = performance.now();
  const conditioning = await encodePromptPlannedAsync(model, checked, cfg, memory);
  const textEncodeMs = performance.now() - mark;

  // 3. Timesteps
  const scheduler = createScheduler(model.pkg, request.shift);
  scheduler.setTimesteps(request.steps, schedulerOptions(model.pkg, scheduler, checked));

  // 4. Initial latents: seeded Gaussian noise (prng.ts documents the algorithm)
  const channels = model.pkg.transformer.config.in_channels;
  const latents = initialLatentNoise(request.seed, channels, checked.latentHeight, checked.latentWidth);

  // 5. Denoise
  const {
    latents: finalLatents,
    stepMs,
    denoiseMs,
  } = await runDenoiseLoopAsync(model, checked, scheduler, latents, conditioning, job, started);

  // 6. Decode
  mark = performance.now();
  const image = await decodeJobLatentsAsync(model, checked, finalLatents, memory);
  const vaeDecodeMs = performance.now() - mark;

  // 7. PNG
  return finishResultAsync(
    model,
    checked,
    image,
    { textEncodeMs, denoiseStepMs: stepMs, denoiseMs, vaeDecodeMs, totalMs: 0 },
    job,
    started,
  );
}

// ---------------------------------------------------------------------------------------------
// 1. Request checks

function invalid(message: string): EngineError {
  return new EngineError('invalid-request', message);
}

/**
 * Validates every field, naming the field, the value and a valid alternative. A size that is not a
 * multiple of the model's grid is rounded to the nearest size that is (and the result says so);
 * sizes that are not positive numbers or exceed the grid or 4096 px are errors.
 * An empty prompt is allowed: it is SD3's unconditional prompt (the negative default is "" too).
 */
export function checkRequest(pkg: Sd3Package, request: GenerationRequest): CheckedRequest {
  if (typeof request.jobId !== 'string' || request.jobId === '')
    throw invalid(`jobId ${JSON.stringify(request.jobId)} must be a non-empty string`);
  if (typeof request.prompt !== 'string')
    throw invalid(`prompt must be a string (empty for an unconditional image), got ${typeof request.prompt}`);
  if (request.negativePrompt !== undefined && typeof request.negativePrompt !== 'string') {
    throw invalid(`negativePrompt must be a string or absent, got ${typeof request.negativePrompt}`);
  }
  if (!Number.isInteger(request.steps) || request.steps < 1 || request.steps > MAX_STEPS) {
    throw invalid(`steps ${request.steps} must be an integer from 1 to ${MAX_STEPS}; SD3 uses 28`);
  }
  if (typeof request.guidance !== 'number' || !Number.isFinite(request.guidance) || request.guidance < 0) {
    throw invalid(`guidance ${request.guidance} must be a finite number ≥ 0 (≤ 1 turns classifier-free guidance off); SD3 uses 7`);
  }
  if (!Number.isInteger(request.seed) || request.seed < 0 || request.seed > 0xffffffff) {
    throw invalid(`seed ${request.seed} must be an integer from 0 to 4294967295`);
  }
  if (request.shift !== undefined && (typeof request.shift !== 'number' || !Number.isFinite(request.shift) || request.shift <= 0)) {
    throw invalid(
      `shift ${request.shift} must be a positive number or absent (the model's scheduler_config.json gives ${String(pkg.schedulerConfig.shift ?? 1)})`,
    );
  }
  if (request.strength !== undefined) {
    if (!request.init) throw invalid(`strength ${request.strength} needs an init image; drop strength for text-to-image`);
    if (typeof request.strength !== 'number' || !(request.strength > 0 && request.strength <= 1)) {
      throw invalid(`strength ${request.strength} must be in (0, 1]; 0.6 keeps the layout and changes details`);
    }
  }
  if (request.init) {
    checkInitImage(request.init);
    if (!pkg.vaeEncoder)
      throw invalid(
        'init image given, but this model has no vae_encoder/model.onnx; image-to-image needs one (drop init for text-to-image)',
      );
  }

  let size;
  try {
    size = validateGenerationSize(request.width, request.height, pkg.geometry);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  const notes = size.note ? [size.note] : [];
  const { vaeScaleFactor } = pkg.geometry;
  return {
    request,
    width: size.width,
    height: size.height,
    latentHeight: size.height / vaeScaleFactor,
    latentWidth: size.width / vaeScaleFactor,
    negativePrompt: request.negativePrompt ?? '',
    notes,
  };
}

function checkInitImage(init: NonNullable<GenerationRequest['init']>): void {
  for (const field of ['width', 'height'] as const) {
    const value = init[field];
    if (!Number.isInteger(value) || value <= 0 || value > 16384) throw invalid(`init.${field} ${value} must be an integer from 1 to 16384`);
  }
  if (!(init.rgba instanceof Uint8Array) || init.rgba.length !== init.width * init.height * 4) {
    const got = init.rgba instanceof Uint8Array ? `${init.rgba.length} bytes` : typeof init.rgba;
    throw invalid(`init.rgba has ${got}; a ${init.width}x${init.height} RGBA image has ${init.width * init.height * 4} bytes`);
  }
}

/**
 * The job's memory plan (sd3/memory-plan.ts), decided before any of its sessions is created:
 * 'size-exceeds-gpu-limits' naming the need, the budget and what would fit when nothing does.
 */
export function checkJobMemory(model: Sd3Runtime, checked: CheckedRequest, cfg: boolean): MemoryEstimate {
  const estimate = checkMemoryBudget(
    model.memory,
    { width: checked.width, height: checked.height, cfg },
    model.options.memoryBudgetBytes,
    model.options,
  );
  if (estimate.tileLatentSize !== undefined)
    checked.notes.push(`the VAE decoded in ${estimate.tileLatentSize}-latent tiles to fit the memory plan`);
  return estimate;
}

/** Encodes the prompt with the text encoders loaded for it; releases them after, before the transformer needs the memory, when the plan says so. */
export async function encodePromptPlannedAsync(
  model: Sd3Runtime,
  checked: CheckedRequest,
  cfg: boolean,
  memory: MemoryEstimate,
): Promise<PromptConditioning> {
  await textEncoderSessionsAsync(model);
  try {
    const conditioning = await encodePromptAsync(model, checked.request.prompt, checked.negativePrompt, cfg);
    checked.notes.push(...(conditioning.notes ?? []));
    return conditioning;
  } finally {
    if (memory.residency === 'release-text-encoders') await releaseTextEncodersAsync(model);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Scheduler

/** The package's scheduler, with the request's shift override applied to its config. */
export function createScheduler(pkg: Sd3Package, shift?: number): FlowMatchEulerDiscreteScheduler {
  const config = shift === undefined ? pkg.schedulerConfig : { ...pkg.schedulerConfig, shift };
  try {
    return new FlowMatchEulerDiscreteScheduler(config);
  } catch (error) {
    throw new EngineError('model-mismatch', `scheduler/scheduler_config.json: ${(error as Error).message}`, { cause: error });
  }
}

/** `mu` for dynamic shifting from the latent token count, as the SD3 pipeline computes it. */
export function schedulerOptions(
  pkg: Sd3Package,
  scheduler: FlowMatchEulerDiscreteScheduler,
  size: { latentHeight: number; latentWidth: number },
): { mu?: number } {
  if (!scheduler.config.use_dynamic_shifting) return {};
  const { patchSize } = pkg.geometry;
  return { mu: scheduler.calculateShift((size.latentHeight / patchSize) * (size.latentWidth / patchSize)) };
}

// ---------------------------------------------------------------------------------------------
// 5. Denoising loop (the generator itself is in denoise-latents.ts: it keeps the loop on the device)

export function floatOutput(outputs: Record<string, HostTensor>, name: string, label: string, expectedLength: number): Float32Array {
  const tensor = outputs[name];
  if (!tensor || tensor.type !== 'float32') {
    throw new EngineError('model-mismatch', `${label}: no float32 output "${name}" (got ${Object.keys(outputs).join(', ')})`);
  }
  if (tensor.data.length !== expectedLength) {
    throw new EngineError(
      'model-mismatch',
      `${label}: output "${name}" has shape [${tensor.dims.join(', ')}] (${tensor.data.length} values); expected ${expectedLength} values`,
    );
  }
  return tensor.data;
}

/**
 * Drives `denoiseLatents` for a job: progress after every step, with a preview of the predicted
 * clean latent when one is due (every step when the latents are on the CPU; on the GPU at most one
 * per RuntimeOptions.previewIntervalMs, since each is a readback that waits for the GPU), cancel
 * between steps (the generator is closed, so nothing more runs), per-step timings.
 */
export async function runDenoiseLoopAsync(
  model: Sd3Runtime,
  checked: CheckedRequest,
  scheduler: FlowMatchEulerDiscreteScheduler,
  latents: Float32Array,
  conditioning: PromptConditioning,
  job: JobContext,
  started: number,
): Promise<{ latents: Float32Array; stepMs: number[]; denoiseMs: number }> {
  const { pkg } = model;
  const channels = pkg.transformer.config.in_channels;
  const stepMs: number[] = [];
  throwIfCancelled(checked, job);
  const loopStarted = performance.now();
  const loop = denoiseLatents({
    runtime: model,
    scheduler,
    latents,
    latentShape: { channels, height: checked.latentHeight, width: checked.latentWidth },
    conditioning,
    guidance: checked.request.guidance,
  });
  const factors = previewFactors(pkg);
  let lastPreview = -Infinity;
  let final: Float32Array | undefined;
  while (true) {
    const next = await loop.next();
    if (next.done) {
      final = next.value;
      break;
    }
    const step = next.value;
    stepMs.push(step.stepMs);
    let preview: GenerationProgress['preview'];
    const due = step.location === 'cpu' || performance.now() - lastPreview >= model.options.previewIntervalMs;
    if (factors && due && job.onProgress) {
      const x0 = await step.readDenoisedAsync();
      if (step.location === 'gpu') throwIfNotFinite(x0, `the predicted latents at step ${step.step} on ${model.backend}`);
      preview = latentToPreview(x0, channels, checked.latentHeight, checked.latentWidth, factors);
      lastPreview = performance.now();
    }
    job.onProgress?.({ jobId: checked.request.jobId, step: step.step, total: step.total, elapsedMs: performance.now() - started, preview });
    // A cancel arrives as a message, a macrotask; ORT's runs settle as microtasks only, so
    // without this yield the message would wait for the whole job.
    await nextTaskAsync();
    if (job.isCancelled()) {
      // return() runs the generator's cleanup (its device tensors): no further transformer run.
      await loop.return(new Float32Array(0));
      break;
    }
  }
  throwIfCancelled(checked, job);
  return { latents: final!, stepMs, denoiseMs: performance.now() - loopStarted };
}

/** Resolves in a later task, after the tasks already queued (messages from the panel among them). */
function nextTaskAsync(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function throwIfCancelled(checked: CheckedRequest, job: JobContext): void {
  if (job.isCancelled()) throw new EngineError('cancelled', `job ${checked.request.jobId} was cancelled`);
}

// ---------------------------------------------------------------------------------------------
// 6. Decode

/**
 * Unscales the latents as diffusers does (z / scaling_factor + shift_factor) and runs the raw VAE
 * decoder — in overlapping, blended tiles of `tileLatentSize` latents when given (vae-tiling.ts),
 * else in one call. Returns its output NCHW [1, out_channels, H, W] in ≈[−1, 1]; image-convert.ts
 * post-processes.
 */
export async function decodeLatentsAsync(
  vaeDecoder: BackendSession,
  pkg: Sd3Package,
  latents: Float32Array,
  latentHeight: number,
  latentWidth: number,
  tileLatentSize?: number,
): Promise<DecodedImage> {
  const vae = pkg.vaeDecoder.config;
  const { vaeScaleFactor } = pkg.geometry;
  const decodeTile: DecodeTileAsync = async (data, dims) => {
    const outputs = await vaeDecoder.runAsync({ latent_sample: { type: 'float32', data, dims } });
    const dimsOut = [1, vae.out_channels, dims[2] * vaeScaleFactor, dims[3] * vaeScaleFactor];
    return { data: floatOutput(outputs, 'sample', pkg.vaeDecoder.graph.path, dimsOut[1] * dimsOut[2] * dimsOut[3]), dims: dimsOut };
  };
  const input = latentsToVaeInput(latents, vae);
  const dims = [1, vae.latent_channels, latentHeight, latentWidth];
  const decoded =
    tileLatentSize === undefined
      ? await decodeTile(input, dims)
      : await tiledDecodeAsync(input, dims, decodeTile, { tileLatentSize, scaleFactor: vaeScaleFactor });
  const raw = decoded.data;
  throwIfNotFinite(raw, `${pkg.vaeDecoder.graph.path} output on ${vaeDecoder.backend}`);
  return { raw, channels: vae.out_channels, width: latentWidth * vaeScaleFactor, height: latentHeight * vaeScaleFactor };
}

/** A job's final latents decoded at its size, in tiles where its memory plan says so. */
export function decodeJobLatentsAsync(
  model: Sd3Runtime,
  checked: CheckedRequest,
  latents: Float32Array,
  memory: MemoryEstimate,
): Promise<DecodedImage> {
  return decodeLatentsAsync(model.vaeDecoder, model.pkg, latents, checked.latentHeight, checked.latentWidth, memory.tileLatentSize);
}

export interface DecodedImage {
  /** Raw VAE decoder output, NCHW, ≈[−1, 1]. */
  raw: Float32Array;
  channels: number;
  width: number;
  height: number;
}

// ---------------------------------------------------------------------------------------------
// 7. Result

export async function finishResultAsync(
  model: Sd3Runtime,
  checked: CheckedRequest,
  decoded: DecodedImage,
  timings: StageTimings,
  job: JobContext,
  started: number,
): Promise<GenerationResult> {
  const { request } = checked;
  const mark = performance.now();
  const rgba = vaeOutputToRgba(decoded.raw, decoded.channels, decoded.height, decoded.width);
  const png = await encodeRgbaAsRgbPngAsync(rgba, decoded.width, decoded.height);
  const encodeImageMs = performance.now() - mark;
  const notes = [...job.notes, ...checked.notes];
  if (model.pkg.textEncoders.length === 0) notes.push(UNCONDITIONAL_NOTE);
  return {
    jobId: request.jobId,
    png,
    width: decoded.width,
    height: decoded.height,
    seed: request.seed,
    settings: {
      prompt: request.prompt,
      negativePrompt: checked.negativePrompt,
      width: checked.width,
      height: checked.height,
      steps: request.steps,
      guidance: request.guidance,
      seed: request.seed,
      ...(request.strength !== undefined ? { strength: request.strength } : {}),
      ...(request.shift !== undefined ? { shift: request.shift } : {}),
      hasInit: request.init !== undefined,
    },
    timings: { ...timings, encodeImageMs, totalMs: performance.now() - started },
    backend: model.backend,
    modelId: model.pkg.id,
    modelHash: model.pkg.hash,
    notes,
  };
}
