/**
 * Golden parity: runs every case of a folder in the sd3-tiny-golden format (cases.json + raw
 * little-endian arrays, written by the diffusers reference) through the engine's own code — the
 * package loader, the ORT sessions, the scheduler, the denoising loop, the VAE decode and the
 * post-processing — with the case's own noise, prompt embeddings and (image-to-image) init
 * latent, and measures how far each intermediate lands from diffusers.
 *
 * Host-neutral: files come through `readFile(relPath)`, so Node (jest, `npm run parity`) and the
 * browser (Chromium WebGPU) run this same module.
 */
import type { Backend } from '../../common/engine-types.js';
import { decideAttentionKernelAsync } from '../engine/fused-attention-check.js';
import { denormalizeVaeOutput, vaeOutputToRgba } from '../engine/image-convert.js';
import { bytesSource } from '../engine/byte-source.js';
import type { RuntimeOptions } from '../engine/model-family.js';
import type { PackageFiles } from '../engine/package-source.js';
import type { Sd3Package } from '../engine/sd3/package.js';
import { forEachDenoiseStepAsync } from '../engine/sd3/denoise-latents.js';
import { createScheduler, decodeLatentsAsync, denoiseLatents } from '../engine/sd3/pipeline.js';
import { createSd3RuntimeAsync, releaseSd3RuntimeAsync, type Sd3Runtime } from '../engine/sd3/runtime.js';
import type { PromptConditioning } from '../engine/sd3/text-encoding.js';
import { readSd3PackageFilesAsync } from '../engine/sd3/read-sd3-package-files.js';
import { compareU8, concat, maxAbs, maxRelative } from './compare-arrays.js';

/** Reads a file of the fixture folder by its relative path; must reject when the file does not exist. */
export type ReadFile = (relPath: string) => Promise<Uint8Array>;

/** The tolerance table of the fixtures' README (max |difference| per case). */
export interface ParityTolerances {
  /** sigmas and timesteps, relative. */
  scheduleRelative: number;
  step0: number;
  latents: number;
  image: number;
  /** Every pixel within this many levels, and at least `u8EqualFraction` exactly equal. */
  u8MaxDiff: number;
  u8EqualFraction: number;
}

export const PARITY_TOLERANCES: Record<Backend, ParityTolerances> = {
  wasm: { scheduleRelative: 1e-6, step0: 2e-5, latents: 1e-4, image: 1e-4, u8MaxDiff: 1, u8EqualFraction: 0.999 },
  webgpu: { scheduleRelative: 1e-6, step0: 1e-4, latents: 1e-3, image: 1e-3, u8MaxDiff: 2, u8EqualFraction: 0.99 },
};

export interface ParityCaseResult {
  name: string;
  kind: string;
  steps: number;
  /** Max relative error of the denoised timesteps and sigmas. */
  schedule: number;
  step0TransformerOutput: number;
  step0Guided: number;
  /** Max over every step's latents. */
  latentsPerStep: number;
  finalLatents: number;
  image: number;
  imageU8MaxDiff: number;
  imageU8EqualFraction: number;
  /** Which measures are outside tolerance (empty: the case passes). */
  failures: string[];
}

export interface ParityReport {
  backend: Backend;
  tolerances: ParityTolerances;
  cases: ParityCaseResult[];
  pass: boolean;
  /** Images denoised by a captured (replayed) loop, and why capture stopped if it did (graphCapture). */
  capturedImages: number;
  captureFailure?: string;
}

interface ArraySpec {
  file: string;
  shape: number[];
  dtype: string;
}

interface GoldenCase {
  name: string;
  kind: 'txt2img' | 'img2img';
  num_inference_steps: number;
  guidance_scale: number;
  strength?: number;
  latent_height: number;
  latent_width: number;
  image_height: number;
  image_width: number;
  arrays: Record<string, ArraySpec>;
}

interface GoldenIndex {
  inputs: Record<string, ArraySpec>;
  cases: GoldenCase[];
}

/** Package reader over `readFile`: a failed read means "not in the package". */
function filesFrom(readFile: ReadFile, description: string): PackageFiles {
  return {
    description,
    async readOptionalAsync(path) {
      try {
        return await readFile(path);
      } catch {
        return undefined;
      }
    },
    async openOptionalAsync(path) {
      try {
        return bytesSource(path, await readFile(path));
      } catch {
        return undefined;
      }
    },
  };
}

export async function runParityAsync(options: {
  readFile: ReadFile;
  backend: Backend;
  description?: string;
  /** How the sessions run (graph capture, CFG as two calls): every way must land within the same tolerances. */
  runtime?: RuntimeOptions;
}): Promise<ParityReport> {
  const { readFile, backend } = options;
  const index = JSON.parse(new TextDecoder().decode(await readFile('cases.json'))) as GoldenIndex;
  const readArray = async (spec: ArraySpec): Promise<Float32Array | Uint8Array> => {
    const bytes = await readFile(spec.file);
    const expected = spec.shape.reduce((a, b) => a * b, 1) * (spec.dtype === 'uint8' ? 1 : 4);
    if (bytes.byteLength !== expected)
      throw new Error(`${spec.file}: ${bytes.byteLength} bytes; shape ${JSON.stringify(spec.shape)} ${spec.dtype} needs ${expected}`);
    if (spec.dtype === 'uint8') return bytes;
    // Copy: the file's bytes may not be 4-byte aligned inside their buffer.
    return new Float32Array(bytes.slice().buffer);
  };
  const float = async (spec: ArraySpec): Promise<Float32Array> => (await readArray(spec)) as Float32Array;

  // The fixtures' graphs bring fused attention: on a GPU whose subgroup kernels get it wrong the
  // engine hides subgroups before its first session, and so does this runner.
  await decideAttentionKernelAsync(backend);
  const pkg = await readSd3PackageFilesAsync(filesFrom(readFile, options.description ?? 'the golden fixtures'));
  // Parity is measured on exact products: int8 weights (if a package has them) are dequantised, not
  // multiplied with quantised activations, unless the caller asks otherwise.
  const runtime = await createSd3RuntimeAsync(pkg, backend, { int8MatMul: 'dequantized', ...options.runtime });
  const tolerances = PARITY_TOLERANCES[backend];
  const embeddings = {
    prompt: await float(index.inputs.prompt_embeds),
    pooled: await float(index.inputs.pooled_prompt_embeds),
    negative: await float(index.inputs.negative_prompt_embeds),
    negativePooled: await float(index.inputs.negative_pooled_prompt_embeds),
    sequenceLength: index.inputs.prompt_embeds.shape[1],
  };
  const cases: ParityCaseResult[] = [];
  try {
    for (const golden of index.cases) {
      cases.push(await runCaseAsync(runtime, pkg, golden, embeddings, float, readArray, tolerances));
    }
    return {
      backend,
      tolerances,
      cases,
      pass: cases.every((c) => c.failures.length === 0),
      capturedImages: runtime.capturedImages,
      ...(runtime.captureFailure !== undefined ? { captureFailure: runtime.captureFailure } : {}),
    };
  } finally {
    await releaseSd3RuntimeAsync(runtime);
  }
}

async function runCaseAsync(
  runtime: Sd3Runtime,
  pkg: Sd3Package,
  golden: GoldenCase,
  embeddings: { prompt: Float32Array; pooled: Float32Array; negative: Float32Array; negativePooled: Float32Array; sequenceLength: number },
  float: (spec: ArraySpec) => Promise<Float32Array>,
  readArray: (spec: ArraySpec) => Promise<Float32Array | Uint8Array>,
  tolerances: ParityTolerances,
): Promise<ParityCaseResult> {
  const a = golden.arrays;
  const cfg = golden.guidance_scale > 1;
  const conditioning: PromptConditioning = cfg
    ? {
        embeds: concat(embeddings.negative, embeddings.prompt),
        pooled: concat(embeddings.negativePooled, embeddings.pooled),
        batch: 2,
        sequenceLength: embeddings.sequenceLength,
      }
    : { embeds: embeddings.prompt, pooled: embeddings.pooled, batch: 1, sequenceLength: embeddings.sequenceLength };

  // Schedule, and the starting latents exactly as the engine builds them.
  const scheduler = createScheduler(pkg);
  scheduler.setTimesteps(golden.num_inference_steps);
  const noise = await float(a.noise);
  let latents = noise;
  if (golden.kind === 'img2img') {
    scheduler.getImg2ImgStart(golden.num_inference_steps, golden.strength ?? 1);
    latents = scheduler.scaleNoise(await float(a.init_latent), noise);
  }
  const first = scheduler.beginIndex ?? 0;
  const schedule = Math.max(
    maxRelative(scheduler.timesteps.subarray(first), await float(a.timesteps)),
    maxRelative(scheduler.sigmas.subarray(first), await float(a.sigmas)),
  );

  const perStep = await float(a.latents_after_each_step);
  const stepSize = latents.length;
  let step0TransformerOutput = NaN;
  let step0Guided = NaN;
  let latentsPerStep = 0;
  const loop = denoiseLatents({
    runtime,
    scheduler,
    latents,
    latentShape: { channels: pkg.transformer.config.in_channels, height: golden.latent_height, width: golden.latent_width },
    conditioning,
    guidance: golden.guidance_scale,
  });
  const final = await forEachDenoiseStepAsync(loop, async (step) => {
    if (step.step === 1) {
      step0TransformerOutput = maxAbs(await step.readTransformerOutputAsync(), await float(a.first_step_transformer_output));
      step0Guided = maxAbs(await step.readVelocityAsync(), await float(a.first_step_guided_noise_pred));
    }
    const reference = perStep.subarray((step.step - 1) * stepSize, step.step * stepSize);
    latentsPerStep = Math.max(latentsPerStep, maxAbs(await step.readLatentsAsync(), reference));
  });
  const finalLatents = maxAbs(final, await float(a.final_latents));

  const decoded = await decodeLatentsAsync(runtime.vaeDecoder, pkg, final, golden.latent_height, golden.latent_width);
  const image = maxAbs(denormalizeVaeOutput(decoded.raw, decoded.channels, decoded.height, decoded.width), await float(a.image));
  const rgba = vaeOutputToRgba(decoded.raw, decoded.channels, decoded.height, decoded.width);
  const u8 = compareU8(rgba, (await readArray(a.image_uint8_nhwc)) as Uint8Array);

  const result: ParityCaseResult = {
    name: golden.name,
    kind: golden.kind,
    steps: golden.num_inference_steps,
    schedule,
    step0TransformerOutput,
    step0Guided,
    latentsPerStep,
    finalLatents,
    image,
    imageU8MaxDiff: u8.maxDiff,
    imageU8EqualFraction: u8.equalFraction,
    failures: [],
  };
  const check = (name: string, value: number, limit: number, above = true): void => {
    if (!(above ? value <= limit : value >= limit)) result.failures.push(`${name} ${value} (limit ${limit})`);
  };
  check('schedule', schedule, tolerances.scheduleRelative);
  check('step0TransformerOutput', step0TransformerOutput, tolerances.step0);
  check('step0Guided', step0Guided, tolerances.step0);
  check('latentsPerStep', latentsPerStep, tolerances.latents);
  check('finalLatents', finalLatents, tolerances.latents);
  check('image', image, tolerances.image);
  check('imageU8MaxDiff', u8.maxDiff, tolerances.u8MaxDiff);
  check('imageU8EqualFraction', u8.equalFraction, tolerances.u8EqualFraction, false);
  return result;
}
