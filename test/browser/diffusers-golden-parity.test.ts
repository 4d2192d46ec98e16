/**
 * The diffusers-layout golden fixtures (two tiny SD3/SD3.5 checkpoints as safetensors, run by
 * diffusers from prompt strings) on Chromium's WebGPU (SwiftShader here): graphs built in
 * TypeScript in the browser worker, every array of every case within the README's WebGPU
 * tolerances. The WASM side runs in test/engine-runtime/diffusers-parity.test.ts.
 */
import type { Browser } from 'playwright-core';
import type { DiffusersParityReport } from '../../worker/parity/run-diffusers-parity.js';
import { diffusersFixtureDir } from '../fixture-paths.js';
import { BROWSER_TEST_TIMEOUT_MS, launchChromiumAsync, runRigWorkerOnceAsync, startRigAsync, type Rig } from './browser-rig.js';

let rig: Rig;
let browser: Browser;

beforeAll(async () => {
  rig = await startRigAsync(
    { 'diffusers-parity-worker': 'test/browser/pages/diffusers-parity-worker.ts' },
    { extraMounts: { '/diffusers/': diffusersFixtureDir() } },
  );
  browser = await launchChromiumAsync({ webgpu: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await rig?.close();
});

interface ParityAnswer {
  report?: DiffusersParityReport;
  elapsedMs?: number;
  webgpuDevice?: boolean;
  error?: string;
}

test(
  'diffusers checkpoints: every golden case on WebGPU within the WebGPU tolerances',
  async () => {
    const answer = await runRigWorkerOnceAsync<ParityAnswer>(browser, rig, 'diffusers-parity-worker', { backend: 'webgpu' });
    expect(answer.error).toBeUndefined();
    const report = answer.report!;
    console.log(
      `diffusers parity on WebGPU in Chromium (${((answer.elapsedMs ?? 0) / 1000).toFixed(1)} s; attention ${report.attention.kernel}${report.attention.note ? `: ${report.attention.note}` : ''})\n` +
        report.cases
          .map(
            (c) =>
              `  ${c.name}: ${c.measures.map((m) => `${m.name} ${Number.isInteger(m.value) ? m.value : m.value.toExponential(2)}`).join(', ')}`,
          )
          .join('\n'),
    );
    expect(answer.webgpuDevice).toBe(true);
    expect(report.cases).toHaveLength(4);
    expect(
      report.cases.flatMap((c) => c.measures.filter((m) => !m.pass).map((m) => `${c.name}: ${m.name} ${m.value} (limit ${m.limit})`)),
    ).toEqual([]);
    // Every measure the format defines was taken somewhere (nothing silently skipped everywhere).
    const measured = new Set(report.cases.flatMap((c) => c.measures.map((m) => m.name.split(' ')[0])));
    for (const name of [
      'prompt_embeds',
      'step0_transformer_output',
      'latents_after_each_step',
      'image',
      'vae_encoder_mean',
      'tokenizer_3_prompt_ids',
    ])
      expect(measured).toContain(name);
    expect(report.pass).toBe(true);
  },
  BROWSER_TEST_TIMEOUT_MS,
);
