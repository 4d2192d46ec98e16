/**
 * FlowMatchEulerDiscreteScheduler — a port of diffusers'
 * `schedulers/scheduling_flow_match_euler_discrete.py` (@58eb52c), deterministic Euler only.
 *
 * Numerics follow the Python code path exactly, because SD3 fixtures are compared to 1e-6:
 * - constructor: the 1000 training sigmas are torch float32 (so `sigma_min`, already shifted, is a
 *   float32 value — for shift 3 it is 0.0029940120875835 rather than 0.001);
 * - setTimesteps: `np.linspace` and the shift run in float64, then sigmas are cast to float32 and
 *   `timesteps = sigmas * num_train_timesteps` is computed in float32;
 * - step / scaleNoise: float32 element-wise arithmetic, one rounding per torch op.
 *
 * Known diffusers quirk, reproduced on purpose: the linspace runs from σ_max to the *shifted* σ_min
 * and the shift is then applied again, so the last sigma for shift 3 is 0.00893, not 0.001·k.
 *
 * Pure TypeScript: no ORT, no DOM. Runs in Node and in a worker.
 */

const f32 = Math.fround;

/** The `scheduler_config.json` keys this port reads (diffusers names, diffusers defaults). */
export interface FlowMatchEulerConfig {
  num_train_timesteps: number;
  shift: number;
  use_dynamic_shifting: boolean;
  base_shift: number;
  max_shift: number;
  base_image_seq_len: number;
  max_image_seq_len: number;
  invert_sigmas: boolean;
  shift_terminal: number | null;
  use_karras_sigmas: boolean;
  use_exponential_sigmas: boolean;
  use_beta_sigmas: boolean;
  time_shift_type: 'exponential' | 'linear';
  stochastic_sampling: boolean;
}

/** diffusers `FlowMatchEulerDiscreteScheduler.__init__` defaults. */
export const FLOW_MATCH_EULER_DEFAULTS: Readonly<FlowMatchEulerConfig> = Object.freeze({
  num_train_timesteps: 1000,
  shift: 1.0,
  use_dynamic_shifting: false,
  base_shift: 0.5,
  max_shift: 1.15,
  base_image_seq_len: 256,
  max_image_seq_len: 4096,
  invert_sigmas: false,
  shift_terminal: null,
  use_karras_sigmas: false,
  use_exponential_sigmas: false,
  use_beta_sigmas: false,
  time_shift_type: 'exponential',
  stochastic_sampling: false,
});

export interface SetTimestepsOptions {
  /** Resolution-dependent shift (log of the effective shift); required when `use_dynamic_shifting`. */
  mu?: number;
}

/** Where image-to-image denoising starts (diffusers `StableDiffusion3Img2ImgPipeline.get_timesteps`). */
export interface Img2ImgStart {
  /** Index into the full schedule of the first step that is run. */
  tStart: number;
  /** Steps actually run: `numInferenceSteps − tStart`. */
  numSteps: number;
  /** The timesteps actually denoised (a view into `scheduler.timesteps`). */
  timesteps: Float32Array;
  /** σ used to noise the init latent: `sigmas[tStart]`. */
  noiseSigma: number;
}

/**
 * `mu` for dynamic shifting: a line through (base_image_seq_len, base_shift) and
 * (max_image_seq_len, max_shift), evaluated at `imageSeqLen` tokens.
 * Copied from diffusers.pipelines.flux.pipeline_flux.calculate_shift (float64, like Python).
 */
export function calculateShift(
  imageSeqLen: number,
  baseSeqLen = FLOW_MATCH_EULER_DEFAULTS.base_image_seq_len,
  maxSeqLen = FLOW_MATCH_EULER_DEFAULTS.max_image_seq_len,
  baseShift = FLOW_MATCH_EULER_DEFAULTS.base_shift,
  maxShift = FLOW_MATCH_EULER_DEFAULTS.max_shift,
): number {
  const m = (maxShift - baseShift) / (maxSeqLen - baseSeqLen);
  const b = baseShift - m * baseSeqLen;
  return imageSeqLen * m + b;
}

/**
 * First step index for image-to-image, exactly `int(max(n - min(n*strength, n), 0))`.
 * `strength` 1 runs every step; small strengths run few (possibly zero) steps.
 */
export function img2imgStartIndex(numInferenceSteps: number, strength: number): number {
  if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) {
    throw new RangeError(`numInferenceSteps must be an integer ≥ 1, got ${numInferenceSteps}`);
  }
  if (!Number.isFinite(strength) || strength < 0 || strength > 1) {
    throw new RangeError(`strength must be in [0, 1], got ${strength}; use e.g. 0.6 (diffusers' default)`);
  }
  const initTimestep = Math.min(numInferenceSteps * strength, numInferenceSteps);
  return Math.trunc(Math.max(numInferenceSteps - initTimestep, 0));
}

/** numpy.linspace(start, stop, num) in float64: start + i·step, last element forced to `stop`. */
function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const div = num - 1;
  const step = div > 0 ? (stop - start) / div : 0;
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

function readConfig(raw: Partial<FlowMatchEulerConfig> | Record<string, unknown>): FlowMatchEulerConfig {
  const cfg = { ...FLOW_MATCH_EULER_DEFAULTS } as FlowMatchEulerConfig;
  const src = raw as Record<string, unknown>;
  for (const key of Object.keys(FLOW_MATCH_EULER_DEFAULTS) as (keyof FlowMatchEulerConfig)[]) {
    if (src[key] !== undefined) (cfg as unknown as Record<string, unknown>)[key] = src[key];
  }
  const positive = ['num_train_timesteps', 'shift', 'base_image_seq_len', 'max_image_seq_len'] as const;
  for (const key of positive) {
    const v = cfg[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new RangeError(`scheduler_config.${key} must be a positive number, got ${JSON.stringify(v)}`);
    }
  }
  if (!Number.isInteger(cfg.num_train_timesteps)) {
    throw new RangeError(`scheduler_config.num_train_timesteps must be an integer, got ${cfg.num_train_timesteps}`);
  }
  if (cfg.time_shift_type !== 'exponential' && cfg.time_shift_type !== 'linear') {
    throw new RangeError(`scheduler_config.time_shift_type must be "exponential" or "linear", got ${JSON.stringify(cfg.time_shift_type)}`);
  }
  if (cfg.stochastic_sampling) {
    throw new RangeError(
      'scheduler_config.stochastic_sampling = true is not supported by this port (deterministic Euler only); set it to false',
    );
  }
  for (const key of ['use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas'] as const) {
    if (cfg[key]) {
      throw new RangeError(`scheduler_config.${key} = true is not supported by this port (SD3 uses plain shifted sigmas); set it to false`);
    }
  }
  if (cfg.shift_terminal !== null && (typeof cfg.shift_terminal !== 'number' || !(cfg.shift_terminal < 1))) {
    throw new RangeError(`scheduler_config.shift_terminal must be null or a number < 1, got ${cfg.shift_terminal}`);
  }
  return cfg;
}

export class FlowMatchEulerDiscreteScheduler {
  readonly config: Readonly<FlowMatchEulerConfig>;
  /** Timesteps fed to the transformer (σ·num_train_timesteps), float32, length N. */
  timesteps: Float32Array;
  /** σ for each step plus the terminal σ (0, or 1 with invert_sigmas), float32, length N+1. */
  sigmas: Float32Array;
  /** Shifted σ at the end of the training schedule (float32 value, as diffusers `.item()`). */
  readonly sigmaMin: number;
  readonly sigmaMax: number;

  private stepIdx: number | null = null;
  private beginIdx: number | null = null;

  constructor(config: Partial<FlowMatchEulerConfig> | Record<string, unknown> = {}) {
    this.config = Object.freeze(readConfig(config));
    const { num_train_timesteps: T, shift, use_dynamic_shifting } = this.config;
    // The training schedule in torch float32: t = T..1, σ = t/T, shifted unless dynamic.
    const sigmas = new Float32Array(T);
    const timesteps = new Float32Array(T);
    const fShift = f32(shift);
    const fShiftMinus1 = f32(shift - 1);
    for (let i = 0; i < T; i++) {
      let s = f32((T - i) / T);
      if (!use_dynamic_shifting) s = f32(f32(fShift * s) / f32(1 + f32(fShiftMinus1 * s)));
      sigmas[i] = s;
      timesteps[i] = f32(s * T);
    }
    this.sigmas = sigmas;
    this.timesteps = timesteps;
    this.sigmaMin = sigmas[T - 1];
    this.sigmaMax = sigmas[0];
  }

  /** Number of steps of the current schedule. */
  get numInferenceSteps(): number {
    return this.timesteps.length;
  }

  /** Index of the next step() (null before the first step). */
  get stepIndex(): number | null {
    return this.stepIdx;
  }

  get beginIndex(): number | null {
    return this.beginIdx;
  }

  /** σ of the step that `step()` will take next (for x0 previews: x0 = x − σ·v). */
  get currentSigma(): number {
    return this.sigmas[this.stepIdx ?? this.beginIdx ?? 0];
  }

  /** `mu` for this scheduler's dynamic-shifting config at `imageSeqLen` latent tokens (h/p · w/p). */
  calculateShift(imageSeqLen: number): number {
    const c = this.config;
    return calculateShift(imageSeqLen, c.base_image_seq_len, c.max_image_seq_len, c.base_shift, c.max_shift);
  }

  /** diffusers `set_timesteps(num_inference_steps, mu=...)`; resets step and begin index. */
  setTimesteps(numInferenceSteps: number, options: SetTimestepsOptions = {}): void {
    if (!Number.isInteger(numInferenceSteps) || numInferenceSteps < 1) {
      throw new RangeError(`numInferenceSteps must be an integer ≥ 1, got ${numInferenceSteps}; SD3 uses 28 by default`);
    }
    const c = this.config;
    const { mu } = options;
    if (c.use_dynamic_shifting && (mu === undefined || !Number.isFinite(mu))) {
      throw new RangeError(
        `setTimesteps: mu is required when scheduler_config.use_dynamic_shifting is true (got ${mu}); ` +
          'compute it with scheduler.calculateShift((latentHeight / patchSize) * (latentWidth / patchSize))',
      );
    }
    const T = c.num_train_timesteps;
    // float64 from here on, like numpy.
    const ts = linspace(this.sigmaMax * T, this.sigmaMin * T, numInferenceSteps);
    let sig = ts.map((t) => t / T);
    if (c.use_dynamic_shifting) {
      const m = mu as number;
      // time_shift(mu, sigma=1.0, t): (1/t − 1) ** 1.0 is the identity, so it is left out.
      sig =
        c.time_shift_type === 'exponential'
          ? sig.map((t) => Math.exp(m) / (Math.exp(m) + (1 / t - 1)))
          : sig.map((t) => m / (m + (1 / t - 1)));
    } else {
      const shift = c.shift;
      sig = sig.map((s) => (shift * s) / (1 + (shift - 1) * s));
    }
    if (c.shift_terminal) {
      // stretch_shift_to_terminal: rescale 1−σ so the last σ lands on shift_terminal.
      const scale = (1 - sig[sig.length - 1]) / (1 - c.shift_terminal);
      sig = sig.map((s) => 1 - (1 - s) / scale);
    }
    const n = numInferenceSteps;
    const sigmas = new Float32Array(n + 1);
    const timesteps = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let s = f32(sig[i]);
      if (c.invert_sigmas) s = f32(1 - s);
      sigmas[i] = s;
      timesteps[i] = f32(s * T);
    }
    sigmas[n] = c.invert_sigmas ? 1 : 0;
    this.sigmas = sigmas;
    this.timesteps = timesteps;
    this.stepIdx = null;
    this.beginIdx = null;
  }

  /** diffusers `set_begin_index`: the first `step()` will use `sigmas[beginIndex]`. */
  setBeginIndex(beginIndex: number): void {
    if (!Number.isInteger(beginIndex) || beginIndex < 0 || beginIndex >= this.timesteps.length) {
      throw new RangeError(
        `beginIndex must be an integer in [0, ${this.timesteps.length - 1}] for this ${this.timesteps.length}-step schedule, got ${beginIndex}`,
      );
    }
    this.beginIdx = beginIndex;
  }

  /**
   * Image-to-image start, as diffusers' SD3 img2img `get_timesteps`: call after `setTimesteps(n)`.
   * Sets the begin index to `tStart` and returns the timesteps to denoise and the σ for `scaleNoise`.
   */
  getImg2ImgStart(numInferenceSteps: number, strength: number): Img2ImgStart {
    if (numInferenceSteps !== this.timesteps.length) {
      throw new RangeError(
        `getImg2ImgStart(${numInferenceSteps}, …) needs setTimesteps(${numInferenceSteps}) first; the current schedule has ${this.timesteps.length} steps`,
      );
    }
    const tStart = img2imgStartIndex(numInferenceSteps, strength);
    const numSteps = numInferenceSteps - tStart;
    if (numSteps === 0) {
      throw new RangeError(
        `strength ${strength} runs no denoising step (the init image would be returned as is); use a strength in (0, 1], e.g. 0.6`,
      );
    }
    this.setBeginIndex(tStart);
    return { tStart, numSteps, timesteps: this.timesteps.subarray(tStart), noiseSigma: this.sigmas[tStart] };
  }

  /**
   * Forward process for image-to-image: σ·noise + (1 − σ)·sample, float32, with σ at the current
   * step index, else the begin index, else the first step (diffusers `scale_noise`).
   */
  scaleNoise(sample: Float32Array, noise: Float32Array): Float32Array {
    if (sample.length !== noise.length) {
      throw new RangeError(`scaleNoise: sample has ${sample.length} values but noise has ${noise.length}; they must match`);
    }
    const sigma = this.sigmas[this.stepIdx ?? this.beginIdx ?? 0];
    const oneMinus = f32(1 - sigma);
    const out = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) out[k] = f32(f32(sigma * noise[k]) + f32(oneMinus * sample[k]));
    return out;
  }

  /** dt = σ[i+1] − σ[i] (float32) of step `i`: what step() multiplies the velocity by. */
  stepDelta(i: number): number {
    if (!Number.isInteger(i) || i < 0 || i >= this.timesteps.length) {
      throw new RangeError(`stepDelta: step ${i} is outside this ${this.timesteps.length}-step schedule`);
    }
    return f32(this.sigmas[i + 1] - this.sigmas[i]);
  }

  /**
   * One Euler step of the flow ODE: prev = sample + (σ_next − σ)·v, float32, returned as a new array.
   * The first call starts at the begin index (0 unless set); each call advances the step index.
   */
  step(modelOutput: Float32Array, sample: Float32Array): Float32Array {
    if (modelOutput.length !== sample.length) {
      throw new RangeError(
        `step: modelOutput has ${modelOutput.length} values but sample has ${sample.length}; pass the guided velocity for one batch row`,
      );
    }
    if (this.stepIdx === null) this.stepIdx = this.beginIdx ?? 0;
    const i = this.stepIdx;
    if (i >= this.timesteps.length) {
      throw new RangeError(`step: all ${this.timesteps.length} steps are done; call setTimesteps() again to start a new schedule`);
    }
    const dt = this.stepDelta(i);
    const out = new Float32Array(sample.length);
    for (let k = 0; k < sample.length; k++) out[k] = f32(sample[k] + f32(dt * modelOutput[k]));
    this.stepIdx = i + 1;
    return out;
  }
}
