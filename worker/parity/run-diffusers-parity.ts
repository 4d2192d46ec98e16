/**
 * Golden parity for checkpoints in the diffusers layout ("format": "flowfill-diffusers-golden/1"):
 * each case names a model folder of the fixture (safetensors, as on the Hub) and holds what
 * diffusers' StableDiffusion3Pipeline computed from the prompt strings. The engine loads the folder
 * as a user's checkpoint (graphs built in TypeScript, float32) and every array the case holds is
 * compared: token ids (exact), prompt embeddings, the step-0 transformer output, the schedule, the
 * latents after every step, the VAE decoder input and output, the image (float and uint8) and the
 * VAE encoder mean. Arrays a case does not hold are skipped and listed, so any folder of this
 * format runs.
 *
 * To keep one stage's error from hiding another's, the transformer runs on diffusers' own step-0
 * input and the loop on diffusers' prompt embeddings and noise; the engine's own embeddings are
 * checked separately against those.
 *
 * Host-neutral: files come through `readFile` (and `openFile` for large ones), so Node and the
 * browser run this same module.
 */
import type { Backend } from '../../common/engine-types.js';
import { decideAttentionKernelAsync } from '../engine/fused-attention-check.js';
import { blobSource, bytesSource } from '../engine/byte-source.js';
import { denormalizeVaeOutput, latentsToVaeInput, vaeOutputToRgba } from '../engine/image-convert.js';
import type { PackageFiles } from '../engine/package-source.js';
import type { Sd3Package } from '../engine/sd3/package.js';
import { forEachDenoiseStepAsync } from '../engine/sd3/denoise-latents.js';
import { createScheduler, decodeLatentsAsync, denoiseLatents, floatOutput } from '../engine/sd3/pipeline.js';
import { readSd3PackageFilesAsync } from '../engine/sd3/read-sd3-package-files.js';
import { createSd3RuntimeAsync, releaseSd3RuntimeAsync, vaeEncoderSessionAsync, type Sd3Runtime } from '../engine/sd3/runtime.js';
import { promptTokenIds } from '../engine/sd3/prompt-tokenizers.js';
import { encodePromptAsync, type PromptConditioning } from '../engine/sd3/text-encoding.js';
import { compareU8, concat, maxAbs, maxRelative } from './compare-arrays.js';
import type { ReadFile } from './run-parity.js';

export const DIFFUSERS_GOLDEN_FORMAT = 'flowfill-diffusers-golden/1';

/** Opens a file of the fixture folder as a Blob (large checkpoint shards); optional. */
export type OpenFile = (relPath: string) => Promise<Blob>;

/** The tolerance table of the format's README (max |difference| unless said). */
export interface DiffusersTolerances {
  embeddings: number;
  step0: number;
  latents: number;
  image: number;
  u8MaxDiff: number;
  u8EqualFraction: number;
  vaeEncoderMean: number;
  scheduleRelative: number;
}

export const DIFFUSERS_TOLERANCES: Record<Backend, DiffusersTolerances> = {
  wasm: {
    embeddings: 1e-4,
    step0: 1e-4,
    latents: 5e-4,
    image: 5e-4,
    u8MaxDiff: 1,
    u8EqualFraction: 0.995,
    vaeEncoderMean: 1e-4,
    scheduleRelative: 1e-6,
  },
  webgpu: {
    embeddings: 1e-3,
    step0: 1e-3,
    latents: 5e-3,
    image: 5e-3,
    u8MaxDiff: 2,
    u8EqualFraction: 0.99,
    vaeEncoderMean: 1e-3,
    scheduleRelative: 1e-6,
  },
};

export interface Measure {
  name: string;
  /** Max |difference| (ids: number of differing ids; u8: max level difference; fraction: equal pixels). */
  value: number;
  limit: number;
  /** 'max': value must be ≤ limit; 'min': ≥ limit. */
  kind: 'max' | 'min';
  pass: boolean;
}

export interface DiffusersCaseResult {
  name: string;
  model: string;
  measures: Measure[];
  /** Arrays the engine could compare but the case does not hold. */
  skipped: string[];
  pass: boolean;
}

export interface DiffusersParityReport {
  format: typeof DIFFUSERS_GOLDEN_FORMAT;
  backend: Backend;
  /** The attention kernel the graphs were built with, and why. */
  attention: { kernel: 'fused' | 'unfused'; note?: string };
  tolerances: DiffusersTolerances;
  cases: DiffusersCaseResult[];
  pass: boolean;
}

interface ArraySpec {
  file: string;
  shape: number[];
  dtype: 'float32' | 'int64' | 'uint8';
}

interface GoldenCase {
  name: string;
  prompt: string;
  negative: string;
  height: number;
  width: number;
  steps: number;
  guidance: number;
  max_sequence_length?: number;
  model: string;
  do_classifier_free_guidance?: boolean;
  latent_height: number;
  latent_width: number;
  arrays: Record<string, ArraySpec>;
}

interface GoldenIndex {
  format: string;
  models: Record<string, { folder: string }>;
  cases: GoldenCase[];
}

/** Package files of one model folder of the fixture. */
function modelFiles(folder: string, readFile: ReadFile, openFile: OpenFile | undefined, description: string): PackageFiles {
  const rel = (path: string) => `${folder}/${path}`;
  return {
    description,
    async readOptionalAsync(path) {
      try {
        return await readFile(rel(path));
      } catch {
        return undefined;
      }
    },
    async openOptionalAsync(path) {
      try {
        return openFile ? blobSource(path, await openFile(rel(path))) : bytesSource(path, await readFile(rel(path)));
      } catch {
        return undefined;
      }
    },
  };
}

export async function runDiffusersParityAsync(options: {
  readFile: ReadFile;
  openFile?: OpenFile;
  backend: Backend;
  description?: string;
  /** Only these cases (by name); all when absent. */
  only?: string[];
}): Promise<DiffusersParityReport> {
  const { readFile, backend } = options;
  const index = JSON.parse(new TextDecoder().decode(await readFile('cases.json'))) as GoldenIndex;
  if (index.format !== DIFFUSERS_GOLDEN_FORMAT)
    throw new Error(`cases.json has format ${JSON.stringify(index.format)}; this runner reads ${DIFFUSERS_GOLDEN_FORMAT}`);
  const tolerances = DIFFUSERS_TOLERANCES[backend];
  // As the engine does before its first WebGPU session: which attention kernel is right here.
  const attention = await decideAttentionKernelAsync(backend);
  const cases: DiffusersCaseResult[] = [];
  // One package per model folder and T5 length (the T5 tokeniser pads to the case's length).
  const loaded = new Map<string, { pkg: Sd3Package; runtime: Sd3Runtime }>();
  try {
    for (const golden of index.cases) {
      if (options.only && !options.only.includes(golden.name)) continue;
      const folder = index.models[golden.model]?.folder ?? golden.model;
      const key = `${folder}|${golden.max_sequence_length ?? ''}`;
      let model = loaded.get(key);
      if (!model) {
        const description = `${options.description ?? 'the golden fixtures'}/${folder}`;
        const read = await readSd3PackageFilesAsync(modelFiles(folder, readFile, options.openFile, description), {
          backend,
          shaderF16: false,
          precision: 'fp32',
          attention: attention.kernel,
        });
        const pkg: Sd3Package =
          golden.max_sequence_length === undefined
            ? read
            : {
                ...read,
                manifest: { ...read.manifest, max_sequence_length: golden.max_sequence_length },
                textEncoders: read.textEncoders.map((c) => ({ ...c })),
              };
        model = { pkg, runtime: await createSd3RuntimeAsync(pkg, backend, { int8MatMul: 'dequantized' }) };
        loaded.set(key, model);
      }
      cases.push(await runCaseAsync(model.runtime, golden, readFile, tolerances));
    }
  } finally {
    for (const { runtime } of loaded.values()) await releaseSd3RuntimeAsync(runtime);
  }
  return {
    format: DIFFUSERS_GOLDEN_FORMAT,
    backend,
    attention: { kernel: attention.kernel, ...(attention.note ? { note: attention.note } : {}) },
    tolerances,
    cases,
    pass: cases.every((c) => c.pass),
  };
}

async function runCaseAsync(
  runtime: Sd3Runtime,
  golden: GoldenCase,
  readFile: ReadFile,
  t: DiffusersTolerances,
): Promise<DiffusersCaseResult> {
  const { pkg } = runtime;
  const a = golden.arrays;
  const measures: Measure[] = [];
  const skipped: string[] = [];
  const measure = (name: string, value: number, limit: number, kind: 'max' | 'min' = 'max') =>
    measures.push({ name, value, limit, kind, pass: kind === 'max' ? value <= limit : value >= limit });
  const array = async (name: string): Promise<Float32Array | BigInt64Array | Uint8Array | undefined> => {
    const spec = a[name];
    if (!spec) {
      skipped.push(name);
      return undefined;
    }
    const bytes = (await readFile(spec.file)).slice();
    const count = spec.shape.reduce((x, y) => x * y, 1);
    const width = spec.dtype === 'int64' ? 8 : spec.dtype === 'uint8' ? 1 : 4;
    if (bytes.byteLength !== count * width)
      throw new Error(`${spec.file}: ${bytes.byteLength} bytes; ${spec.dtype} ${JSON.stringify(spec.shape)} needs ${count * width}`);
    if (spec.dtype === 'int64') return new BigInt64Array(bytes.buffer);
    if (spec.dtype === 'uint8') return bytes;
    return new Float32Array(bytes.buffer);
  };
  const float = async (name: string) => (await array(name)) as Float32Array | undefined;

  // 1. Token ids, per tokenizer, exactly
  for (const component of pkg.textEncoders) {
    const folder = component.name.replace('text_encoder', 'tokenizer');
    for (const [which, text] of [
      ['prompt', golden.prompt],
      ['negative', golden.negative],
    ] as const) {
      const expected = (await array(`${folder}_${which}_ids`)) as BigInt64Array | undefined;
      if (!expected) continue;
      const ids = promptTokenIds(pkg, component, text);
      let differing = ids.length === expected.length ? 0 : Math.max(ids.length, expected.length);
      for (let i = 0; i < Math.min(ids.length, expected.length); i++) if (BigInt(ids[i]) !== expected[i]) differing++;
      measure(`${folder}_${which}_ids (differing)`, differing, 0);
    }
  }

  // 2. Prompt embeddings from the engine's own text encoders
  const goldenPrompt = await float('prompt_embeds');
  const goldenPooled = await float('pooled_prompt_embeds');
  const goldenNegative = await float('negative_prompt_embeds');
  const goldenNegativePooled = await float('negative_pooled_prompt_embeds');
  if (goldenPrompt || goldenNegative) {
    const ours = await encodePromptAsync(runtime, golden.prompt, golden.negative, true);
    const half = ours.embeds.length / 2;
    const halfPooled = ours.pooled.length / 2;
    if (goldenNegative) measure('negative_prompt_embeds', maxAbs(ours.embeds.subarray(0, half), goldenNegative), t.embeddings);
    if (goldenNegativePooled)
      measure('negative_pooled_prompt_embeds', maxAbs(ours.pooled.subarray(0, halfPooled), goldenNegativePooled), t.embeddings);
    if (goldenPrompt) measure('prompt_embeds', maxAbs(ours.embeds.subarray(half), goldenPrompt), t.embeddings);
    if (goldenPooled) measure('pooled_prompt_embeds', maxAbs(ours.pooled.subarray(halfPooled), goldenPooled), t.embeddings);
  }

  // diffusers' own conditioning drives the transformer from here on ([negative, prompt] with CFG)
  const cfg = golden.do_classifier_free_guidance ?? golden.guidance > 1;
  const conditioning = goldenConditioning(cfg, a.prompt_embeds?.shape[1], goldenPrompt, goldenPooled, goldenNegative, goldenNegativePooled);
  const { in_channels: channels, joint_attention_dim, pooled_projection_dim } = pkg.transformer.config;
  const latentShape = { channels, height: golden.latent_height, width: golden.latent_width };

  // 3. Step-0 transformer output on diffusers' step-0 input
  const step0Input = await float('step0_transformer_input');
  const step0Timestep = await float('step0_timestep');
  const step0Output = await float('step0_transformer_output');
  if (step0Input && step0Timestep && step0Output && conditioning) {
    const batch = step0Timestep.length;
    const outputs = await runtime.transformer.runAsync({
      hidden_states: { type: 'float32', data: step0Input, dims: [batch, channels, golden.latent_height, golden.latent_width] },
      timestep: { type: 'float32', data: step0Timestep, dims: [batch] },
      encoder_hidden_states: {
        type: 'float32',
        data: conditioning.embeds,
        dims: [batch, conditioning.sequenceLength, joint_attention_dim],
      },
      pooled_projections: { type: 'float32', data: conditioning.pooled, dims: [batch, pooled_projection_dim] },
    });
    measure(
      'step0_transformer_output',
      maxAbs(floatOutput(outputs, 'out_hidden_states', pkg.transformer.graph.path, step0Output.length), step0Output),
      t.step0,
    );
  }

  // 4. Schedule and the denoising loop from diffusers' noise
  const scheduler = createScheduler(pkg);
  scheduler.setTimesteps(golden.steps);
  const sigmas = await float('sigmas');
  const timesteps = await float('timesteps');
  if (sigmas) measure('sigmas (relative)', maxRelative(scheduler.sigmas.subarray(0, sigmas.length), sigmas), t.scheduleRelative);
  if (timesteps)
    measure('timesteps (relative)', maxRelative(scheduler.timesteps.subarray(0, timesteps.length), timesteps), t.scheduleRelative);
  const noise = await float('noise');
  const perStep = await float('latents_after_each_step');
  let final: Float32Array | undefined;
  if (noise && conditioning) {
    let worst = 0;
    const loop = denoiseLatents({ runtime, scheduler, latents: noise, latentShape, conditioning, guidance: golden.guidance });
    final = await forEachDenoiseStepAsync(loop, async (step) => {
      if (perStep)
        worst = Math.max(
          worst,
          maxAbs(await step.readLatentsAsync(), perStep.subarray((step.step - 1) * noise.length, step.step * noise.length)),
        );
    });
    if (perStep) measure('latents_after_each_step', worst, t.latents);
  }

  // 5. Decode
  const vaeInput = await float('vae_decoder_input');
  if (final && vaeInput) measure('vae_decoder_input', maxAbs(latentsToVaeInput(final, pkg.vaeDecoder.config), vaeInput), t.latents);
  const vaeOutput = await float('vae_decoder_output');
  const image = await float('image');
  const imageU8 = (await array('image_uint8_nhwc')) as Uint8Array | undefined;
  if (final && (vaeOutput || image || imageU8)) {
    const decoded = await decodeLatentsAsync(runtime.vaeDecoder, pkg, final, golden.latent_height, golden.latent_width);
    if (vaeOutput) measure('vae_decoder_output', maxAbs(decoded.raw, vaeOutput), t.image);
    if (image) measure('image', maxAbs(denormalizeVaeOutput(decoded.raw, decoded.channels, decoded.height, decoded.width), image), t.image);
    if (imageU8) {
      const u8 = compareU8(vaeOutputToRgba(decoded.raw, decoded.channels, decoded.height, decoded.width), imageU8);
      measure('image_uint8 max level difference', u8.maxDiff, t.u8MaxDiff);
      measure('image_uint8 equal fraction', u8.equalFraction, t.u8EqualFraction, 'min');
    }
  }

  // 6. VAE encoder mean (image-to-image)
  const encoderInput = await float('vae_encoder_input');
  const encoderMean = await float('vae_encoder_mean');
  if (encoderInput && encoderMean) {
    const vaeEncoder = await vaeEncoderSessionAsync(runtime);
    if (!vaeEncoder || !pkg.vaeEncoder) {
      measure('vae_encoder_mean (no VAE encoder in the package)', Infinity, t.vaeEncoderMean);
    } else {
      const spec = golden.arrays.vae_encoder_input;
      const outputs = await vaeEncoder.runAsync({ sample: { type: 'float32', data: encoderInput, dims: spec.shape } });
      const name = vaeEncoder.outputNames[0];
      const out = outputs[name].data as Float32Array;
      // mean ‖ logvar: the mean is the first half of the channels, image by image
      const mean = pkg.vaeEncoder.output === 'mean-and-logvar' ? firstHalfChannels(out, outputs[name].dims) : out;
      measure('vae_encoder_mean', maxAbs(mean, encoderMean), t.vaeEncoderMean);
    }
  }

  return { name: golden.name, model: golden.model, measures, skipped, pass: measures.every((m) => m.pass) };
}

/** diffusers' conditioning as the transformer takes it: [negative, prompt] with CFG, else the prompt alone. */
function goldenConditioning(
  cfg: boolean,
  sequenceLength: number | undefined,
  prompt?: Float32Array,
  pooled?: Float32Array,
  negative?: Float32Array,
  negativePooled?: Float32Array,
): PromptConditioning | undefined {
  if (!prompt || !pooled || sequenceLength === undefined) return undefined;
  if (!cfg) return { embeds: prompt, pooled, batch: 1, sequenceLength };
  if (!negative || !negativePooled) return undefined;
  return { embeds: concat(negative, prompt), pooled: concat(negativePooled, pooled), batch: 2, sequenceLength };
}

function firstHalfChannels(values: Float32Array, dims: readonly number[]): Float32Array {
  const [batch, channels, height, width] = dims;
  const plane = height * width;
  const half = channels / 2;
  const out = new Float32Array(batch * half * plane);
  for (let b = 0; b < batch; b++) out.set(values.subarray(b * channels * plane, (b * channels + half) * plane), b * half * plane);
  return out;
}
