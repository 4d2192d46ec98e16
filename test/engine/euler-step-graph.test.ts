/**
 * The Euler/CFG step graph computes, on onnxruntime (WASM here), bit for bit what the JavaScript
 * reference computes: combineGuidance (guidance.ts), FlowMatchEulerDiscreteScheduler.step and
 * predictCleanLatent — the same float32 operations in the same order.
 */
import { buildEulerStepGraph, eulerStepModelAsync, type EulerStepMode } from '../../worker/engine/euler-step-graph.js';
import { FlowMatchEulerDiscreteScheduler } from '../../worker/engine/flow-match-euler.js';
import { combineGuidance } from '../../worker/engine/guidance.js';
import { predictCleanLatent } from '../../worker/engine/latent-preview.js';
import { createDeviceTensorAsync, createSessionAsync, liveTensorCount } from '../../worker/engine/ort-backend.js';

const C = 16;
const H = 6;
const W = 10;
const N = C * H * W;

function values(seed: number, n: number): Float32Array {
  // A small LCG: varied magnitudes and signs, reproducible.
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = ((state / 2 ** 32) * 2 - 1) * (1 + (i % 7));
  }
  return out;
}

async function runStepAsync(mode: EulerStepMode, feeds: Record<string, Float32Array>, dims: Record<string, number[]>) {
  const session = await createSessionAsync({
    label: `step ${mode}`,
    model: await eulerStepModelAsync(mode),
    backend: 'wasm',
    outputsOnDevice: true,
  });
  try {
    const tensors = Object.fromEntries(
      await Promise.all(
        Object.entries(feeds).map(
          async ([name, data]) => [name, await createDeviceTensorAsync('wasm', { data, dims: dims[name] })] as const,
        ),
      ),
    );
    const out = await session.runOnDeviceAsync(tensors);
    const read = Object.fromEntries(
      await Promise.all(Object.entries(out).map(async ([name, t]) => [name, (await t.readAsync()).slice()] as const)),
    );
    for (const t of [...Object.values(tensors), ...Object.values(out)]) t.dispose();
    return read;
  } finally {
    await session.releaseAsync();
  }
}

describe('Euler/CFG step graph', () => {
  const scheduler = new FlowMatchEulerDiscreteScheduler({ shift: 3 });
  scheduler.setTimesteps(8);
  const i = 3;
  const dt = scheduler.stepDelta(i);
  const sigma = scheduler.sigmas[i];
  const sample = values(1, N);
  const uncond = values(2, N);
  const cond = values(3, N);
  const row = [1, C, H, W];

  function reference(velocity: Float32Array) {
    const stepper = new FlowMatchEulerDiscreteScheduler({ shift: 3 });
    stepper.setTimesteps(8);
    stepper.setBeginIndex(i);
    return { prev: stepper.step(velocity, sample), denoised: predictCleanLatent(sample, velocity, sigma) };
  }

  test.each([['cfg-batch'], ['cfg-split']] as const)(
    '%s equals combineGuidance + scheduler.step + predictCleanLatent exactly',
    async (mode) => {
      const guidance = 4.5;
      const batch = new Float32Array(2 * N);
      batch.set(uncond, 0);
      batch.set(cond, N);
      const velocity = combineGuidance(batch, guidance);
      const feeds: Record<string, Float32Array> =
        mode === 'cfg-batch' ? { noise_pred: batch } : { noise_pred_uncond: uncond, noise_pred_cond: cond };
      Object.assign(feeds, {
        sample,
        guidance: new Float32Array([guidance]),
        dt: new Float32Array([dt]),
        sigma: new Float32Array([sigma]),
      });
      const dims = {
        noise_pred: [2, C, H, W],
        noise_pred_uncond: row,
        noise_pred_cond: row,
        sample: row,
        guidance: [1],
        dt: [1],
        sigma: [1],
      };
      const out = await runStepAsync(mode, feeds, dims);
      const want = reference(velocity);
      expect(out.velocity).toEqual(velocity);
      expect(out.prev_sample).toEqual(want.prev);
      expect(out.denoised).toEqual(want.denoised);
      if (mode === 'cfg-batch') {
        expect(out.next_model_input.subarray(0, N)).toEqual(want.prev);
        expect(out.next_model_input.subarray(N)).toEqual(want.prev);
      } else {
        expect(out.next_model_input).toBeUndefined();
      }
      expect(liveTensorCount()).toBe(0);
    },
  );

  test('plain (no guidance) steps with the transformer output as the velocity', async () => {
    const out = await runStepAsync(
      'plain',
      { noise_pred: cond, sample, dt: new Float32Array([dt]), sigma: new Float32Array([sigma]) },
      { noise_pred: row, sample: row, dt: [1], sigma: [1] },
    );
    const want = reference(cond);
    expect(out.velocity).toEqual(cond);
    expect(out.prev_sample).toEqual(want.prev);
    expect(out.denoised).toEqual(want.denoised);
  });

  test('each mode names its inputs and outputs as the loop feeds them', () => {
    const names = (mode: EulerStepMode) => {
      const graph = buildEulerStepGraph(mode);
      return { inputs: graph.inputs.map((v) => v.name), outputs: graph.outputs.map((v) => v.name) };
    };
    expect(names('cfg-batch')).toEqual({
      inputs: ['noise_pred', 'guidance', 'sample', 'dt', 'sigma'],
      outputs: ['prev_sample', 'velocity', 'denoised', 'next_model_input'],
    });
    expect(names('cfg-split')).toEqual({
      inputs: ['noise_pred_uncond', 'noise_pred_cond', 'guidance', 'sample', 'dt', 'sigma'],
      outputs: ['prev_sample', 'velocity', 'denoised'],
    });
    expect(names('plain')).toEqual({ inputs: ['noise_pred', 'sample', 'dt', 'sigma'], outputs: ['prev_sample', 'velocity', 'denoised'] });
  });
});
