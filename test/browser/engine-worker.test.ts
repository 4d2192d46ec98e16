/**
 * The engine worker as the panel starts it (worker/worker-entry.ts with its assets handed over),
 * in Chromium whose only WebGPU adapter is SwiftShader, a software rasteriser:
 * - by default the engine passes it over for WASM and says why;
 * - with the worker setting { backend: 'webgpu' } (the panel's to pass) it loads the model and
 *   generates on WebGPU all the same — how the browser tests exercise WebGPU on a CPU machine.
 */
import { decode as decodePng } from 'fast-png';
import type { Browser, Page } from 'playwright-core';
import { BROWSER_TEST_TIMEOUT_MS, launchChromiumAsync, startRigAsync, type Rig } from './browser-rig.js';
import type { EngineWorkerAnswer } from './pages/engine-worker-client.js';

let rig: Rig;
let browser: Browser;

beforeAll(async () => {
  rig = await startRigAsync({
    'engine-worker': 'worker/worker-entry.ts',
    'engine-worker-client': 'test/browser/pages/engine-worker-client.ts',
  });
  browser = await launchChromiumAsync({ webgpu: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rig?.close();
});

async function runAsync(settings: { backend?: 'auto' | 'webgpu' | 'wasm' } | undefined, generate: boolean): Promise<EngineWorkerAnswer> {
  const page: Page = await browser.newPage();
  try {
    await page.goto(`${rig.server.url}rig/blank.html`);
    await page.addScriptTag({ url: '/rig/engine-worker-client.js' });
    return await page.evaluate(
      ([s, g]) =>
        (globalThis as unknown as { runEngineWorkerAsync: (s: unknown, g: boolean) => Promise<EngineWorkerAnswer> }).runEngineWorkerAsync(
          s,
          g,
        ),
      [settings, generate] as const,
    );
  } finally {
    await page.close();
  }
}

test(
  'by default a software adapter is passed over for WASM, and capabilities and the model say why',
  async () => {
    const answer = await runAsync(undefined, false);
    expect(answer.error).toBeUndefined();
    expect(answer.capabilities).toMatchObject({ backend: 'wasm', adapter: { software: true } });
    expect(answer.capabilities!.backendReason).toMatch(/software rasteriser, slower than WASM/);
    expect(answer.info!.backend).toBe('wasm');
    expect(answer.info!.notes.join('\n')).toMatch(/running on WASM: the only WebGPU adapter, .*swiftshader.*, is a software rasteriser/i);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

test(
  'with the worker setting backend "webgpu" the model loads and generates on WebGPU',
  async () => {
    const started = Date.now();
    const answer = await runAsync({ backend: 'webgpu' }, true);
    console.log(
      `engine worker on SwiftShader WebGPU: capabilities, load and a 1-step 64x64 image in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(answer.error).toBeUndefined();
    expect(answer.capabilities).toMatchObject({ backend: 'webgpu', adapter: { software: true } });
    expect(answer.capabilities!.backendReason).toMatch(/^WebGPU was asked for; its adapter, .* is a software rasteriser$/);
    expect(answer.info!.backend).toBe('webgpu');
    expect(answer.result!.backend).toBe('webgpu');
    const png = decodePng(new Uint8Array(answer.result!.pngBytes));
    expect([png.width, png.height]).toEqual([64, 64]);
  },
  BROWSER_TEST_TIMEOUT_MS,
);
