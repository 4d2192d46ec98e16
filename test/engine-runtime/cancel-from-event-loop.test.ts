/**
 * In the browser, cancel reaches the engine as a message (comlink over postMessage): a macrotask.
 * The denoising loop must let such a task run between steps, or a cancel waits for the whole job.
 * Here the cancel is queued as a macrotask (setTimeout) when step 1 lands, as a message would be.
 */
import type { GenerationProgress } from '../../common/engine-types.js';
import { createEngine, type Engine } from '../../worker/engine/engine.js';
import { fixturePackageFiles, rejectionOf } from './helpers.js';

let engine: Engine;

beforeAll(async () => {
  engine = createEngine({ backend: 'wasm' });
  await engine.loadModel({ kind: 'files', files: await fixturePackageFiles() });
}, 60_000);

afterAll(async () => {
  await engine.dispose();
});

test('a cancel that arrives as a macrotask stops the job within a step or two', async () => {
  const steps: number[] = [];
  const onProgress = (p: GenerationProgress): void => {
    steps.push(p.step);
    if (p.step === 1) setTimeout(() => void engine.cancel('m1'), 0);
  };
  const job = engine.generate({ jobId: 'm1', prompt: 'a rocket', width: 128, height: 128, steps: 30, guidance: 1, seed: 7 }, onProgress);
  const { code } = await rejectionOf(job);
  expect(code).toBe('cancelled');
  expect(Math.max(...steps)).toBeLessThanOrEqual(3);
}, 60_000);
