/**
 * SD3 text conditioning on Chromium's WebGPU (SwiftShader here), built in the browser from a
 * diffusers folder: tokenisers, CLIP-L, CLIP-G and T5 graphs from config.json + safetensors (their
 * default, unfused attention with the causal / relative-position bias) on the WebGPU EP. Checked against the
 * fixture's golden conditioning within its WebGPU tolerance (1e-3) at fp32; the int4 error is
 * printed and bounded. (SwiftShader has no shader-f16, so fp16 is not run here.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildWorkerSourceAsync, repoRoot } from '../../scripts/build.mjs';
import { startPlaygroundServer, type PlaygroundServer } from '../../scripts/playground-server.mjs';
import { CASES, FIXTURE, goldenFloat32, goldenIds, maxAbsDiff, relativeL2 } from '../sd3-graphs/text-encoder-fixture.js';
import { BROWSER_TEST_TIMEOUT_MS, launchChromiumAsync } from './browser-rig.js';
import type { TextEncoderAnswer, TextEncoderRequest } from './pages/text-encoder-worker.js';

const WEBGPU_TOLERANCE = 1e-3;

let server: PlaygroundServer;
let browser: Browser;
let page: Page;
let outDir: string;

beforeAll(async () => {
  outDir = mkdtempSync(path.join(os.tmpdir(), 'flowfill-text-encoders-'));
  writeFileSync(
    path.join(outDir, 'text-encoder-worker.js'),
    await buildWorkerSourceAsync(path.join(repoRoot, 'test/browser/pages/text-encoder-worker.ts')),
  );
  writeFileSync(path.join(outDir, 'blank.html'), '<!doctype html><meta charset="utf-8"><title>rig</title>');
  server = await startPlaygroundServer({
    port: 0,
    quiet: true,
    distDir: outDir,
    mounts: { '/diffusers/': FIXTURE, '/ort/': path.join(repoRoot, 'node_modules/onnxruntime-web/dist'), '/rig/': outDir },
  });
  browser = await launchChromiumAsync({ webgpu: true });
  page = await browser.newPage();
  await page.goto(`${server.url}rig/blank.html`);
  // One worker for every request, as the engine keeps one: ORT and its WebGPU device are set up once.
  await page.evaluate(() => {
    (self as unknown as { textWorker: Worker }).textWorker = new Worker('/rig/text-encoder-worker.js');
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

function encodeInBrowserAsync(request: TextEncoderRequest): Promise<TextEncoderAnswer> {
  return page.evaluate(
    (message) =>
      new Promise<TextEncoderAnswer>((resolve) => {
        const worker = (self as unknown as { textWorker: Worker }).textWorker;
        worker.onmessage = (event) => resolve(event.data as TextEncoderAnswer);
        worker.onerror = (event) => resolve({ error: `worker error: ${event.message}` });
        worker.postMessage(message);
      }),
    request,
  );
}

test(
  'p1 (sd35m_style: CLIP-L, CLIP-G, T5; no tokenizer.json) on WebGPU: ids exact, fp32 within 1e-3, int4 bounded',
  async () => {
    const c = CASES[0];
    const golden = {
      embeds: [...goldenFloat32(c.arrays.negative_prompt_embeds), ...goldenFloat32(c.arrays.prompt_embeds)],
      pooled: [...goldenFloat32(c.arrays.negative_pooled_prompt_embeds), ...goldenFloat32(c.arrays.pooled_prompt_embeds)],
    };
    const lines: string[] = [];
    for (const [precision, bound] of [
      ['fp32', undefined],
      // int8 runs the same MatMulNBits kernel as int4 (bits 8); WASM tests it, and SwiftShader's slow shader compiles make each precision here cost ~15 s.
      ['int4', 0.3],
    ] as const) {
      const answer = await encodeInBrowserAsync({
        model: c.model,
        texts: [c.negative, c.prompt],
        maxSequenceLength: c.max_sequence_length,
        precision,
      });
      expect(answer.error).toBeUndefined();
      expect(answer.webgpuDevice).toBe(true);
      for (const folder of ['tokenizer', 'tokenizer_2', 'tokenizer_3']) {
        expect({ folder, ids: answer.ids![folder] }).toEqual({
          folder,
          ids: [goldenIds(c.arrays[`${folder}_negative_ids`]), goldenIds(c.arrays[`${folder}_prompt_ids`])],
        });
      }
      const embeds = answer.promptEmbeds!;
      const pooled = answer.pooledEmbeds!;
      const errors = {
        embedsMax: maxAbsDiff(embeds, golden.embeds),
        pooledMax: maxAbsDiff(pooled, golden.pooled),
        embedsRel: relativeL2(embeds, golden.embeds),
        pooledRel: relativeL2(pooled, golden.pooled),
      };
      lines.push(
        `${precision}: max |err| embeds ${errors.embedsMax.toExponential(2)}, pooled ${errors.pooledMax.toExponential(2)}; rel. L2 embeds ${errors.embedsRel.toExponential(2)}, pooled ${errors.pooledRel.toExponential(2)} (${((answer.elapsedMs ?? 0) / 1000).toFixed(1)} s)`,
      );
      if (bound === undefined) {
        expect(errors.embedsMax).toBeLessThan(WEBGPU_TOLERANCE);
        expect(errors.pooledMax).toBeLessThan(WEBGPU_TOLERANCE);
      } else {
        expect(errors.embedsRel).toBeLessThan(bound);
        expect(errors.pooledRel).toBeLessThan(bound);
      }
    }
    console.log(`text encoders on WebGPU in Chromium, ${c.name} [negative, prompt]:\n  ${lines.join('\n  ')}`);
  },
  BROWSER_TEST_TIMEOUT_MS,
);
