/**
 * Diagnostics in Chromium: what a first Figma user sends us. The embedded plugin's menu command
 * opens the panel's Diagnostics and runs them (null origin, no storage, WebGPU through
 * SwiftShader); the hosted app opened on its own is cross-origin isolated, so its WASM runs with
 * threads. The self-test's numbers are reported, not asserted (SwiftShader's are not a GPU's).
 */
import type { Browser, Frame } from 'playwright-core';
import { BROWSER_TEST_TIMEOUT_MS, launchChromiumAsync, startRigAsync, type Rig } from './browser-rig.js';
import { openPlaygroundAsync, pluginFrameAsync } from './playground-helpers.js';

let rig: Rig;

beforeAll(async () => {
  rig = await startRigAsync();
}, 180_000);

afterAll(async () => {
  await rig?.close();
});

async function reportTextAsync(frame: Frame): Promise<string> {
  await frame.waitForSelector('#ff-diagnostics-report', { timeout: BROWSER_TEST_TIMEOUT_MS });
  return (await frame.locator('#ff-diagnostics-report').textContent()) ?? '';
}

test(
  'embedded plugin: the Diagnostics menu command reports the null origin, the refused storage, the WebGPU adapter and a self-test on each backend',
  async () => {
    const browser: Browser = await launchChromiumAsync({ webgpu: true });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await openPlaygroundAsync(page, rig.server.url);
      await page.evaluate(() => window.flowfill.runCommand('diagnostics'));
      const frame = await pluginFrameAsync(page);
      const text = await reportTextAsync(frame);
      expect(await frame.locator('#ff-diagnostics').getAttribute('open')).not.toBeNull();
      console.log(text);
      expect(text).toContain('mode: embedded (in a frame)');
      expect(text).toContain('origin: null');
      expect(text).toMatch(/^OPFS: refused: SecurityError: .*; IndexedDB: refused: SecurityError/m);
      expect(text).toContain('cross-origin isolated: no');
      expect(text).toMatch(/^WebAssembly: compiles; SIMD: yes; threads: no$/m);
      expect(text).toMatch(/^onnxruntime-web 1\.\d+\.\d+: onnxruntime-web\/webgpu .*; WASM threads: 1; proxy worker: no$/m);
      expect(text).toMatch(/^adapter: google \/ swiftshader.*; fallback adapter: yes$/m);
      expect(text).toMatch(/^shader-f16: (yes|no); subgroups: (yes|no); subgroup sizes: /m);
      expect(text).toMatch(/^limits: maxBufferSize \d+, maxStorageBufferBindingSize \d+/m);
      expect(text).toMatch(/^wasm: ok; load [\d.]+ ms, first run [\d.]+ ms, step [\d.]+ ms; max \|error\| /m);
      expect(text).toMatch(/^webgpu: (ok|FAILED); load /m);
      expect(text).toMatch(/^wasm, 48 tokens, 2×32: ok; max \|error\| /m);
      expect(text).toMatch(/^webgpu, 48 tokens, 2×32: (ok|WRONG); max \|error\| [\d.e+-]+/m);
      expect(text).toMatch(/^models last for the session only: this panel runs with no origin of its own/m);
      // No batch starts: nothing else happened on the canvas.
      expect(await page.evaluate(() => window.flowfill.wire().filter((w) => w.kind === 'call' && w.name === 'readTargets').length)).toBe(0);
    } finally {
      await browser.close();
    }
  },
  BROWSER_TEST_TIMEOUT_MS,
);

/**
 * Opens the Diagnostics section. Once, in a full run on the loaded 2-core machine, the first click
 * on the summary left the section closed for 30 s (likely the panel still re-rendering as it
 * started; not reproduced alone), so click again until the section shows.
 */
async function openDiagnosticsAsync(frame: Frame): Promise<void> {
  const button = frame.locator('#ff-run-diagnostics');
  for (let attempt = 0; attempt < 10 && !(await button.isVisible()); attempt++) {
    if (!(await frame.locator('#ff-diagnostics').evaluate((details) => (details as HTMLDetailsElement).open)))
      await frame.locator('#ff-diagnostics > summary').click();
    await button.waitFor({ state: 'visible', timeout: 2_000 }).catch(() => undefined);
  }
}

test(
  'hosted app on its own: cross-origin isolated, so WASM runs with threads; Copy report puts the report on the clipboard',
  async () => {
    const browser: Browser = await launchChromiumAsync({ webgpu: false });
    try {
      const context = await browser.newContext();
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: rig.appOrigin });
      const page = await context.newPage();
      await page.goto(`${rig.appOrigin}/app.html`);
      const frame = page.mainFrame();
      await frame.waitForFunction(() => 'flowfillPanel' in globalThis);
      await openDiagnosticsAsync(frame);
      await frame.locator('#ff-run-diagnostics').click();
      const text = await reportTextAsync(frame);
      console.log(text);
      expect(text).toContain('mode: hosted (top-level page)');
      expect(text).toMatch(/^secure context: yes; cross-origin isolated: yes$/m);
      expect(text).toMatch(/^WebAssembly: compiles; SIMD: yes; threads: yes$/m);
      expect(text).toMatch(/; WASM threads: [234]; proxy worker: no$/m);
      expect(text).toMatch(/^no adapter: /m);
      expect(text).toMatch(/^wasm: ok; /m);
      expect(text).toMatch(/^wasm, 48 tokens, 2×32: ok; /m);
      expect(text).toMatch(/^models kept in this origin's OPFS; persisted: (yes|no); .* used of /m);
      await frame.locator('#ff-copy-report').click();
      await frame.waitForSelector('#ff-copy-result');
      expect(await frame.locator('#ff-copy-result').textContent()).toBe('Copied.');
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(text);
    } finally {
      await browser.close();
    }
  },
  BROWSER_TEST_TIMEOUT_MS,
);
