/**
 * The playground's benchmark page (/bench) in headless Chromium: a fresh worker runs the built-in
 * model (here the rig's embedded golden fixture) on the chosen backend and fills the per-stage
 * table, cold and warm, with numbers. No timing is asserted: only that every stage was measured.
 */
import type { Browser } from 'playwright-core';
import type { BenchReport } from '../../worker/bench/bench-types.js';
import { BROWSER_TEST_TIMEOUT_MS, launchChromiumAsync, startRigAsync, type Rig } from './browser-rig.js';

declare global {
  interface Window {
    /** Set by playground/bench-page.ts. */
    flowfillBench: { report?: BenchReport; error?: string; running: boolean };
  }
}

const STAGES = [
  'session creation (all graphs)',
  'text encoding',
  'denoise step, first',
  'denoise step, median',
  'denoise loop, wall',
  'denoise loop / steps',
  'VAE decode',
  'pixels to PNG',
  'image (prompt to PNG)',
];

let rig: Rig;
let browser: Browser;

beforeAll(async () => {
  rig = await startRigAsync();
  browser = await launchChromiumAsync();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await rig?.close();
});

test(
  'on WASM at 128², 2 steps, 2 images: every stage has a cold and a warm number, and the cold start is shown',
  async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${rig.server.url}bench?backend=wasm&size=128&steps=2&images=2&autorun`);
    await page.waitForFunction(
      () => window.flowfillBench && !window.flowfillBench.running && (window.flowfillBench.report || window.flowfillBench.error),
      undefined,
      {
        timeout: BROWSER_TEST_TIMEOUT_MS - 30_000,
        polling: 250,
      },
    );
    const state = await page.evaluate(() => ({
      error: window.flowfillBench.error,
      backend: window.flowfillBench.report?.backend,
      width: window.flowfillBench.report?.width,
    }));
    expect(state).toEqual({ error: undefined, backend: 'wasm', width: 128 });
    const rows = await page.$$eval('#stages tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    expect(rows.map((row) => row[0])).toEqual(STAGES);
    for (const [stage, cold, warm] of rows) {
      expect([stage, /^\d+\.\d$/.test(cold), /^\d+\.\d$/.test(warm)]).toEqual([stage, true, true]);
    }
    expect(await page.isVisible('#stages')).toBe(true);
    const facts = await page.$$eval('#facts li', (lis) => lis.map((li) => li.textContent ?? ''));
    expect(facts[0]).toMatch(/; 128×128, 2 steps, guidance 5 \(CFG, batch 2\), 2 image\(s\)$/);
    expect(facts[1]).toMatch(/^backend wasm; WASM threads 1/);
    expect(facts[2]).toMatch(
      /^cold start: click to first PNG \d+\.\d ms; worker start to first PNG \d+\.\d ms \(built-in model read by \d+\.\d ms\)$/,
    );
    console.log(
      `bench page (WASM, 128², 2 steps, SwiftShader machine, under load):\n${rows.map((row) => row.join(' | ')).join('\n')}\n${facts.join('\n')}`,
    );
    expect(errors).toEqual([]);
    await page.close();
  },
  BROWSER_TEST_TIMEOUT_MS,
);

test(
  'on WebGPU (SwiftShader here) at 64², 1 step, 2 images, graph capture by default (auto): the adapter is named, the table fills, the replay is checked',
  async () => {
    const page = await browser.newPage();
    await page.goto(`${rig.server.url}bench?backend=webgpu&size=64&steps=1&images=2&autorun`);
    await page.waitForFunction(
      () => window.flowfillBench && !window.flowfillBench.running && (window.flowfillBench.report || window.flowfillBench.error),
      undefined,
      {
        timeout: BROWSER_TEST_TIMEOUT_MS - 30_000,
        polling: 500,
      },
    );
    const report = await page.evaluate(() => ({
      error: window.flowfillBench.error,
      backend: window.flowfillBench.report?.backend,
      adapter: window.flowfillBench.report?.adapter,
      capture: window.flowfillBench.report?.graphCapture,
    }));
    expect(report).toEqual({
      error: undefined,
      backend: 'webgpu',
      adapter: expect.stringMatching(/swiftshader/i),
      // Both images replayed, and the last one made again on the regular sessions came out the same.
      capture: { option: 'on', capturedImages: 2, checkMaxLevelDiff: 0 },
    });
    expect(await page.textContent('#facts')).toContain('graph capture on: 2 of 2 image(s) replayed');
    const rows = await page.$$eval('#stages tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    expect(rows.map((row) => row[0])).toEqual(STAGES);
    for (const [stage, cold, warm] of rows) expect([stage, /^\d+\.\d$/.test(cold), /^\d+\.\d$/.test(warm)]).toEqual([stage, true, true]);
    console.log(`bench page (WebGPU on SwiftShader, 64², 1 step, under load):\n${rows.map((row) => row.join(' | ')).join('\n')}`);
    await page.close();
  },
  BROWSER_TEST_TIMEOUT_MS,
);

test('a wrong setting is named in the status line and nothing runs', async () => {
  const page = await browser.newPage();
  await page.goto(`${rig.server.url}bench?backend=wasm&steps=0&autorun`);
  await page.waitForSelector('#status.error');
  expect(await page.textContent('#status')).toBe('steps "0": expected a whole number from 1 to 200');
  expect(await page.isHidden('#stages')).toBe(true);
  expect(await page.evaluate(() => window.flowfillBench.running)).toBe(false);
  await page.close();
}, 60_000);
