/**
 * Without WebGPU (Chromium launched without --enable-unsafe-webgpu: no adapter), the same built
 * plugin runs its engine on WASM and says why.
 */
import type { Browser } from 'playwright-core';
import { BROWSER_TEST_TIMEOUT_MS, launchChromiumAsync, startRigAsync, type Rig } from './browser-rig.js';
import { openPlaygroundAsync, panelModelAsync, pluginFrameAsync } from './playground-helpers.js';

let rig: Rig;
let browser: Browser;

beforeAll(async () => {
  rig = await startRigAsync();
  browser = await launchChromiumAsync({ webgpu: false });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rig?.close();
});

test(
  'with WebGPU switched off the worker reports the wasm backend and loads the model on it',
  async () => {
    const page = await browser.newPage();
    await openPlaygroundAsync(page, rig.server.url);
    await page.evaluate(() => window.flowfill.runCommand('open'));
    const model = await panelModelAsync(await pluginFrameAsync(page), BROWSER_TEST_TIMEOUT_MS - 30_000);
    await page.close();
    expect(model.error).toBeUndefined();
    expect(model.capabilities?.backend).toBe('wasm');
    expect(model.capabilities?.fallbackReason).toEqual(expect.any(String));
    expect(model.info?.backend).toBe('wasm');
    console.log(`capabilities without WebGPU: ${JSON.stringify(model.capabilities)}`);
  },
  BROWSER_TEST_TIMEOUT_MS,
);
