/**
 * Golden parity on Chromium's WebGPU (SwiftShader here): the engine's own parity runner
 * (worker/parity/run-parity.ts) in a dedicated worker, with the plugin's ORT build, over every
 * case of the sd3-tiny-golden fixtures, within the fixtures' WebGPU tolerances.
 */
import type { Browser } from 'playwright-core';
import type { ParityReport } from '../../worker/parity/run-parity.js';
import { BROWSER_TEST_TIMEOUT_MS, launchChromiumAsync, runRigWorkerOnceAsync, startRigAsync, type Rig } from './browser-rig.js';

let rig: Rig;
let browser: Browser;

beforeAll(async () => {
  rig = await startRigAsync({ 'parity-worker': 'test/browser/pages/parity-worker.ts' });
  browser = await launchChromiumAsync({ webgpu: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rig?.close();
});

interface ParityAnswer {
  report?: ParityReport;
  elapsedMs?: number;
  webgpuDevice?: boolean;
  error?: string;
}

test(
  "the engine's regular loop (graph capture off) reproduces every golden case on WebGPU within the fixtures' WebGPU tolerances",
  async () => {
    const answer = await runRigWorkerOnceAsync<ParityAnswer>(browser, rig, 'parity-worker', {
      backend: 'webgpu',
      runtime: { graphCapture: 'off' },
    });
    expect(answer.error).toBeUndefined();
    const report = answer.report!;
    // Numbers for the log (no timing assertions): how far each case lands from diffusers.
    console.log(
      `WebGPU parity in Chromium (${((answer.elapsedMs ?? 0) / 1000).toFixed(1)} s incl. sessions and shader compiles)\n` +
        report.cases
          .map(
            (c) =>
              `  case ${c.name} (${c.kind}, ${c.steps} steps): step0 ${c.step0TransformerOutput.toExponential(2)}, latents ${c.latentsPerStep.toExponential(2)}, image ${c.image.toExponential(2)}, u8 max ${c.imageU8MaxDiff} equal ${(c.imageU8EqualFraction * 100).toFixed(2)}%`,
          )
          .join('\n'),
    );
    expect(answer.webgpuDevice).toBe(true);
    expect(report.backend).toBe('webgpu');
    // Case names start with the README's letter: a, b, c (image-to-image), d (28 steps).
    expect(report.cases.map((c) => c.name.charAt(0)).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(report.cases.flatMap((c) => c.failures.map((f) => `${c.name}: ${f}`))).toEqual([]);
    expect(report.pass).toBe(true);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

test(
  'by default (graph capture auto, on for a small transformer) every case runs on a replayed loop and lands within the same tolerances',
  async () => {
    const answer = await runRigWorkerOnceAsync<ParityAnswer>(browser, rig, 'parity-worker', { backend: 'webgpu' });
    expect(answer.error).toBeUndefined();
    const report = answer.report!;
    console.log(
      `WebGPU parity, graph capture auto: ${report.capturedImages} images replayed${report.captureFailure ? `; capture off after: ${report.captureFailure}` : ''}\n` +
        report.cases
          .map(
            (c) =>
              `  case ${c.name}: step0 ${c.step0TransformerOutput.toExponential(2)}, latents ${c.latentsPerStep.toExponential(2)}, image ${c.image.toExponential(2)}, u8 max ${c.imageU8MaxDiff}`,
          )
          .join('\n'),
    );
    // None fell back to the regular sessions (the check before use passed for every shape).
    expect(report.captureFailure).toBeUndefined();
    expect(report.capturedImages).toBe(report.cases.length);
    expect(report.cases.flatMap((c) => c.failures.map((f) => `${c.name}: ${f}`))).toEqual([]);
    expect(report.pass).toBe(true);
  },
  BROWSER_TEST_TIMEOUT_MS,
);
