/**
 * Golden parity under WASM in Node: the engine's loop, scheduler, CFG, img2img noising and VAE
 * post-processing against the diffusers reference, within the fixtures' README tolerances.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PARITY_TOLERANCES, runParityAsync } from '../../worker/parity/run-parity.js';
import { FIXTURE_DIR } from './helpers.js';

test('every sd3-tiny-golden case matches diffusers within the WASM tolerances', async () => {
  const report = await runParityAsync({
    readFile: async (rel) => new Uint8Array(await readFile(path.join(FIXTURE_DIR, rel))),
    backend: 'wasm',
  });
  const t = PARITY_TOLERANCES.wasm;
  expect(report.cases.map((c) => c.name[0])).toEqual(['a', 'b', 'c', 'd']);
  for (const c of report.cases) {
    expect({ name: c.name, failures: c.failures }).toEqual({ name: c.name, failures: [] });
    expect(c.schedule).toBeLessThanOrEqual(t.scheduleRelative);
    expect(c.step0TransformerOutput).toBeLessThanOrEqual(t.step0);
    expect(c.step0Guided).toBeLessThanOrEqual(t.step0);
    expect(c.latentsPerStep).toBeLessThanOrEqual(t.latents);
    expect(c.finalLatents).toBeLessThanOrEqual(t.latents);
    expect(c.image).toBeLessThanOrEqual(t.image);
    expect(c.imageU8MaxDiff).toBeLessThanOrEqual(t.u8MaxDiff);
    expect(c.imageU8EqualFraction).toBeGreaterThanOrEqual(t.u8EqualFraction);
  }
  expect(report.pass).toBe(true);
}, 120_000);

test('a runner that reads wrong reference data reports a failure instead of passing', async () => {
  // Swap case a's reference final latents for its noise: the comparison must notice.
  const report = await runParityAsync({
    readFile: async (rel) => new Uint8Array(await readFile(path.join(FIXTURE_DIR, rel === 'a_final_latents.bin' ? 'a_noise.bin' : rel))),
    backend: 'wasm',
  });
  const a = report.cases.find((c) => c.name.startsWith('a_'))!;
  expect(a.failures.some((f) => f.startsWith('finalLatents'))).toBe(true);
  expect(report.pass).toBe(false);
}, 120_000);
