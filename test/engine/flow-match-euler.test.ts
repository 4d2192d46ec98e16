import { calculateShift, FlowMatchEulerDiscreteScheduler, img2imgStartIndex } from '../../worker/engine/flow-match-euler.js';
import { combineGuidance, usesClassifierFreeGuidance } from '../../worker/engine/guidance.js';
import { maxAbsDiff, maxRelDiff, readF32, readJson } from './golden.js';

// README tolerance for sigmas/timesteps: 1e-6 relative; for latents after a step (CPU): 1e-4 absolute.
const SCHEDULE_REL_TOL = 1e-6;
const LATENT_ABS_TOL = 1e-4;
const GUIDED_ABS_TOL = 2e-5;

const schedulerConfig = readJson('scheduler/scheduler_config.json');
interface ScheduleCase {
  shift: number;
  num_inference_steps: number;
  sigmas: number[];
  timesteps: number[];
}
interface StrengthCase {
  shift: number;
  num_inference_steps: number;
  strength: number;
  t_start: number;
  num_denoising_steps: number;
  first_timestep: number;
  scale_noise_sigma: number;
}
const schedulerCases = readJson<{ cases: ScheduleCase[]; img2img_strength: StrengthCase[] }>('scheduler_cases.json');
const cases = readJson('cases.json').cases as any[];

describe('FlowMatchEulerDiscreteScheduler schedules match diffusers', () => {
  test.each(schedulerCases.cases.map((c) => [c.shift, c.num_inference_steps, c] as const))(
    'shift %s, %s steps: sigmas and timesteps',
    (shift, n, c) => {
      const scheduler = new FlowMatchEulerDiscreteScheduler({ ...schedulerConfig, shift });
      scheduler.setTimesteps(n);
      expect(scheduler.sigmas).toHaveLength(n + 1);
      expect(scheduler.sigmas[n]).toBe(0);
      expect(maxRelDiff(scheduler.sigmas, c.sigmas)).toBeLessThanOrEqual(SCHEDULE_REL_TOL);
      expect(maxRelDiff(scheduler.timesteps, c.timesteps)).toBeLessThanOrEqual(SCHEDULE_REL_TOL);
      // The port follows diffusers' float64/float32 sequence exactly, so the values are bit-identical.
      expect(Array.from(scheduler.sigmas)).toEqual(c.sigmas.map(Math.fround));
      expect(Array.from(scheduler.timesteps)).toEqual(c.timesteps.map(Math.fround));
    },
  );

  test('reproduces the diffusers quirk: the last sigma at shift 3 is 0.00893 (shift applied twice)', () => {
    const scheduler = new FlowMatchEulerDiscreteScheduler(schedulerConfig);
    expect(scheduler.sigmaMin).toBe(Math.fround(0.002994012087583542));
    scheduler.setTimesteps(28);
    expect(scheduler.sigmas[27]).toBe(Math.fround(0.008928571827709675));
    expect(scheduler.timesteps[27]).toBe(Math.fround(8.928571701049805));
  });

  test.each(cases.map((c) => [c.name, c]))('%s: full schedule files', (_name, c: any) => {
    const scheduler = new FlowMatchEulerDiscreteScheduler(schedulerConfig);
    scheduler.setTimesteps(c.num_inference_steps);
    expect(maxRelDiff(scheduler.sigmas, readF32(c.arrays.full_schedule_sigmas.file))).toBeLessThanOrEqual(SCHEDULE_REL_TOL);
    expect(maxRelDiff(scheduler.timesteps, readF32(c.arrays.full_schedule_timesteps.file))).toBeLessThanOrEqual(SCHEDULE_REL_TOL);
  });
});

describe('image-to-image start (get_timesteps)', () => {
  test.each(schedulerCases.img2img_strength.map((c) => [c.shift, c.num_inference_steps, c.strength, c] as const))(
    'shift %s, %s steps, strength %s',
    (shift, n, strength, c) => {
      const scheduler = new FlowMatchEulerDiscreteScheduler({ ...schedulerConfig, shift });
      scheduler.setTimesteps(n);
      expect(img2imgStartIndex(n, strength)).toBe(c.t_start);
      const start = scheduler.getImg2ImgStart(n, strength);
      expect(start.tStart).toBe(c.t_start);
      expect(start.numSteps).toBe(c.num_denoising_steps);
      expect(start.timesteps).toHaveLength(c.num_denoising_steps);
      expect(Math.abs(start.timesteps[0] - c.first_timestep) / c.first_timestep).toBeLessThanOrEqual(SCHEDULE_REL_TOL);
      expect(Math.abs(start.noiseSigma - c.scale_noise_sigma) / c.scale_noise_sigma).toBeLessThanOrEqual(SCHEDULE_REL_TOL);
      expect(scheduler.beginIndex).toBe(c.t_start);
    },
  );

  test('case c: timesteps/sigmas actually used and the noised init latent', () => {
    const c = cases.find((x) => x.kind === 'img2img');
    const scheduler = new FlowMatchEulerDiscreteScheduler(schedulerConfig);
    scheduler.setTimesteps(c.num_inference_steps);
    const start = scheduler.getImg2ImgStart(c.num_inference_steps, c.strength);
    expect(start.tStart).toBe(c.t_start);
    expect(maxRelDiff(start.timesteps, readF32(c.arrays.timesteps.file))).toBeLessThanOrEqual(SCHEDULE_REL_TOL);
    expect(maxRelDiff(scheduler.sigmas.subarray(start.tStart), readF32(c.arrays.sigmas.file))).toBeLessThanOrEqual(SCHEDULE_REL_TOL);
    const noised = scheduler.scaleNoise(readF32(c.arrays.init_latent.file), readF32(c.arrays.noise.file));
    expect(maxAbsDiff(noised, readF32(c.arrays.noised_init_latent.file))).toBeLessThanOrEqual(1e-6);
  });

  test('a strength too small to run any step is an error that says what to use', () => {
    const scheduler = new FlowMatchEulerDiscreteScheduler(schedulerConfig);
    scheduler.setTimesteps(5);
    expect(() => scheduler.getImg2ImgStart(5, 0)).toThrow(/strength 0 runs no denoising step.*use a strength in \(0, 1\]/);
    expect(scheduler.getImg2ImgStart(5, 0.01).numSteps).toBe(1); // any strength > 0 runs at least one step
    expect(() => scheduler.getImg2ImgStart(28, 0.5)).toThrow(/setTimesteps\(28\) first/);
    expect(() => img2imgStartIndex(5, 1.5)).toThrow(/strength must be in \[0, 1\], got 1.5/);
  });
});

describe('step and guidance on the recorded step 0', () => {
  test.each(cases.map((c) => [c.name, c]))('%s: guided = u + g(c − u), then one Euler step', (_name, c: any) => {
    const out = readF32(c.arrays.first_step_transformer_output.file);
    const guidedRef = readF32(c.arrays.first_step_guided_noise_pred.file);
    expect(usesClassifierFreeGuidance(c.guidance_scale)).toBe(c.do_classifier_free_guidance);
    const guided = c.do_classifier_free_guidance ? combineGuidance(out, c.guidance_scale) : out;
    expect(maxAbsDiff(guided, guidedRef)).toBeLessThanOrEqual(GUIDED_ABS_TOL);
    if (c.do_classifier_free_guidance) expect(maxAbsDiff(guided, guidedRef)).toBe(0); // same float32 ops as torch

    const scheduler = new FlowMatchEulerDiscreteScheduler(schedulerConfig);
    scheduler.setTimesteps(c.num_inference_steps);
    let latents: Float32Array;
    if (c.kind === 'img2img') {
      scheduler.getImg2ImgStart(c.num_inference_steps, c.strength);
      latents = scheduler.scaleNoise(readF32(c.arrays.init_latent.file), readF32(c.arrays.noise.file));
    } else {
      latents = readF32(c.arrays.noise.file);
    }
    // The model input at step 0 is the latents (twice under CFG); the timestep is σ·1000.
    const modelInput = readF32(c.arrays.first_step_model_input.file);
    expect(maxAbsDiff(modelInput.subarray(0, latents.length), latents)).toBeLessThanOrEqual(1e-6);
    expect(readF32(c.arrays.first_step_timestep.file)[0]).toBe(scheduler.timesteps[scheduler.beginIndex ?? 0]);

    const next = scheduler.step(guidedRef, latents);
    const perStep = readF32(c.arrays.latents_after_each_step.file);
    expect(maxAbsDiff(next, perStep.subarray(0, latents.length))).toBeLessThanOrEqual(LATENT_ABS_TOL);
    expect(maxAbsDiff(next, perStep.subarray(0, latents.length))).toBeLessThanOrEqual(1e-6);
    expect(scheduler.stepIndex).toBe((c.t_start ?? 0) + 1);
  });

  test('step walks the schedule and refuses to run past its end', () => {
    const scheduler = new FlowMatchEulerDiscreteScheduler(schedulerConfig);
    scheduler.setTimesteps(2);
    const x = new Float32Array([1, -2]);
    const v = new Float32Array([0.5, 0.25]);
    const x1 = scheduler.step(v, x);
    const dt0 = Math.fround(scheduler.sigmas[1] - scheduler.sigmas[0]);
    expect(Array.from(x1)).toEqual([Math.fround(1 + Math.fround(dt0 * 0.5)), Math.fround(-2 + Math.fround(dt0 * 0.25))]);
    expect(Array.from(x)).toEqual([1, -2]); // input untouched
    const x2 = scheduler.step(v, x1);
    const dt1 = Math.fround(0 - scheduler.sigmas[1]);
    expect(x2[0]).toBe(Math.fround(x1[0] + Math.fround(dt1 * 0.5)));
    expect(() => scheduler.step(v, x2)).toThrow(/all 2 steps are done/);
    expect(() => scheduler.step(new Float32Array(3), x2)).toThrow(/modelOutput has 3 values but sample has 2/);
  });

  test('setBeginIndex starts step() there; setTimesteps resets it', () => {
    const scheduler = new FlowMatchEulerDiscreteScheduler(schedulerConfig);
    scheduler.setTimesteps(4);
    scheduler.setBeginIndex(2);
    expect(scheduler.currentSigma).toBe(scheduler.sigmas[2]);
    scheduler.step(new Float32Array([1]), new Float32Array([0]));
    expect(scheduler.stepIndex).toBe(3);
    scheduler.setTimesteps(4);
    expect(scheduler.stepIndex).toBeNull();
    expect(scheduler.beginIndex).toBeNull();
    expect(() => scheduler.setBeginIndex(4)).toThrow(/in \[0, 3\]/);
  });
});

describe('dynamic shifting and other config paths', () => {
  test('calculateShift follows the diffusers line (base 256 → 0.5, max 4096 → 1.15)', () => {
    expect(calculateShift(256)).toBeCloseTo(0.5, 15);
    expect(calculateShift(4096)).toBeCloseTo(1.15, 15);
    const scheduler = new FlowMatchEulerDiscreteScheduler({ ...schedulerConfig, use_dynamic_shifting: true });
    expect(scheduler.calculateShift(4096)).toBeCloseTo(1.15, 15);
  });

  test('dynamic exponential shift with mu equals static shift exp(mu) on the unshifted grid', () => {
    const mu = Math.log(3);
    const dynamic = new FlowMatchEulerDiscreteScheduler({ ...schedulerConfig, use_dynamic_shifting: true });
    expect(dynamic.sigmaMin).toBe(Math.fround(0.001)); // constructor does not shift when dynamic
    expect(() => dynamic.setTimesteps(4)).toThrow(/mu is required/);
    dynamic.setTimesteps(4, { mu });
    // Reference: float64 linspace(1000, 1, 4)/1000, then e^mu / (e^mu + 1/t − 1), cast to float32.
    const expected = [0, 1, 2, 3].map((i) => {
      const t = (i === 3 ? 1 : 1000 + (i * (1 - 1000)) / 3) / 1000;
      return Math.fround(Math.exp(mu) / (Math.exp(mu) + (1 / t - 1)));
    });
    expect(Array.from(dynamic.sigmas.subarray(0, 4))).toEqual(expected);
    const linear = new FlowMatchEulerDiscreteScheduler({
      ...schedulerConfig,
      use_dynamic_shifting: true,
      time_shift_type: 'linear',
    });
    linear.setTimesteps(4, { mu: 3 });
    expect(maxRelDiff(linear.sigmas, dynamic.sigmas)).toBeLessThan(1e-6);
  });

  test('shift_terminal stretches the schedule to end at the terminal value', () => {
    const s = new FlowMatchEulerDiscreteScheduler({ ...schedulerConfig, shift_terminal: 0.1 });
    s.setTimesteps(10);
    expect(s.sigmas[9]).toBe(Math.fround(0.1));
    expect(s.sigmas[0]).toBe(1);
  });

  test('invert_sigmas gives 1 − σ and a trailing 1', () => {
    const plain = new FlowMatchEulerDiscreteScheduler(schedulerConfig);
    plain.setTimesteps(4);
    const inv = new FlowMatchEulerDiscreteScheduler({ ...schedulerConfig, invert_sigmas: true });
    inv.setTimesteps(4);
    expect(inv.sigmas[4]).toBe(1);
    for (let i = 0; i < 4; i++) expect(inv.sigmas[i]).toBe(Math.fround(1 - plain.sigmas[i]));
  });

  test('unsupported or invalid config fails with the key and a fix', () => {
    expect(() => new FlowMatchEulerDiscreteScheduler({ stochastic_sampling: true })).toThrow(/stochastic_sampling.*set it to false/);
    expect(() => new FlowMatchEulerDiscreteScheduler({ use_karras_sigmas: true })).toThrow(/use_karras_sigmas/);
    expect(() => new FlowMatchEulerDiscreteScheduler({ shift: 0 })).toThrow(/scheduler_config.shift must be a positive number, got 0/);
    expect(() => new FlowMatchEulerDiscreteScheduler({ time_shift_type: 'cubic' })).toThrow(/time_shift_type/);
    const s = new FlowMatchEulerDiscreteScheduler(schedulerConfig);
    expect(() => s.setTimesteps(0)).toThrow(/integer ≥ 1, got 0/);
  });
});
