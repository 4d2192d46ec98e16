/**
 * The built plugin in the playground, on Chromium with WebGPU (SwiftShader): dist/code.js on the
 * fake Figma API in the page, dist/ui.html in a sandboxed null-origin iframe, the engine worker
 * inside it. One browser for the file; each test opens its own page.
 */
import type { Browser, Page } from 'playwright-core';
import { decode as decodePng } from 'fast-png';
import { PROVENANCE_KEY } from '../../common/provenance.js';
import { STORAGE_KEYS } from '../../src/figma-host.js';

const SETTINGS_KEY = STORAGE_KEYS.settings;
import { BROWSER_TEST_TIMEOUT_MS, launchChromiumAsync, startRigAsync, type Rig } from './browser-rig.js';
import { openPlaygroundAsync, panelModelAsync, pluginFrameAsync } from './playground-helpers.js';

let rig: Rig;
let browser: Browser;
const pages: Page[] = [];

beforeAll(async () => {
  rig = await startRigAsync();
  browser = await launchChromiumAsync({ webgpu: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rig?.close();
});

async function newPageAsync(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  pages.push(page);
  return page;
}

afterEach(async () => {
  for (const page of pages.splice(0)) await page.close();
});

test(
  'the built UI runs in a sandboxed null-origin iframe and its worker answers over comlink with a WebGPU adapter',
  async () => {
    const page = await newPageAsync();
    await openPlaygroundAsync(page, rig.server.url);
    await page.evaluate(() => window.flowfill.runCommand('open'));
    await page.evaluate(() => window.flowfill.waitForIdle({ timeoutMs: 60_000 }));

    const iframe = await page.$('iframe.plugin-frame');
    expect(await iframe!.getAttribute('sandbox')).toBe('allow-scripts');
    expect(await iframe!.getAttribute('srcdoc')).toContain('data-flowfill-asset="onnxruntime/');
    const frame = await pluginFrameAsync(page);
    const context = await frame.evaluate(() => {
      let storage = 'available';
      try {
        void localStorage.length;
      } catch (error) {
        storage = (error as Error).name;
      }
      return { origin: self.origin, secure: isSecureContext, storage };
    });
    expect(context).toEqual({ origin: 'null', secure: true, storage: 'SecurityError' });

    // The panel's capabilities and model info are the worker's answers over comlink.
    const model = await panelModelAsync(frame, BROWSER_TEST_TIMEOUT_MS - 60_000);
    expect(model.error).toBeUndefined();
    expect(model.status).toBe('ready');
    // SwiftShader is a software adapter: the engine prefers WASM unless the panel passes the worker
    // setting { backend: 'webgpu' } (test/browser/engine-worker.test.ts runs the worker that way).
    expect(model.capabilities?.adapter?.software).toBe(true);
    expect(model.capabilities?.adapter?.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(model.capabilities?.backend).toBe('wasm');
    expect(model.info?.backend).toBe('wasm');
    expect(model.info?.nativeSize).toBe(256); // the fixture: sample_size 32 × vae_scale_factor 8
    console.log(`capabilities in the plugin iframe: ${JSON.stringify(model.capabilities)}`);

    // The start-up marks npm run bench:startup reads, in the order a designer sees them.
    const marks = await frame.evaluate(() => performance.getEntriesByType('mark').map((m) => m.name));
    expect(marks.filter((name) => name.startsWith('flowfill:'))).toEqual([
      'flowfill:panel-script',
      'flowfill:panel-mounted',
      'flowfill:panel-painted',
      'flowfill:model-ready',
    ]);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

test(
  'generate fills the selected frame with a generated image, records provenance, and undo takes it back',
  async () => {
    const page = await newPageAsync();
    await openPlaygroundAsync(page, rig.server.url);
    // Settings an earlier run saved: few steps and no CFG keep SwiftShader's work small.
    await page.evaluate(
      ([key]) => window.flowfill.setClientStorage(key, { steps: 2, guidance: 1, seed: 1234, seedLocked: true, fillMode: 'replace' }),
      [SETTINGS_KEY],
    );
    const id = await page.evaluate(() => window.flowfill.createFrame({ name: 'Card', width: 96, height: 64 }));
    await page.evaluate((frameId) => window.flowfill.select([frameId]), id);
    const started = Date.now();
    await page.evaluate(() => window.flowfill.runCommand('generate', { prompt: 'rocket, flat style, on a teal background' }));
    await page.evaluate(() => window.flowfill.waitForIdle({ timeoutMs: 4 * 60_000 }));
    console.log(`generate in the playground (WebGPU, SwiftShader): ${((Date.now() - started) / 1000).toFixed(1)} s incl. model load`);
    // The quick action ran with a hidden panel, reported through a toast, and closed itself.
    expect(await page.evaluate(() => window.flowfill.uiOpen())).toBe(false);
    const toasts = await page.evaluate(() => window.flowfill.notifications().map((n) => n.message));
    expect(toasts).toContainEqual(expect.stringMatching(/generating “rocket, flat style, on a teal background”/));

    const node = (await page.evaluate(() => window.flowfill.nodes()))[0];
    expect(node.fills).toContain('IMAGE');
    const data = await page.evaluate((frameId) => window.flowfill.pluginData(frameId), id);
    const record = JSON.parse(data[PROVENANCE_KEY]) as { prompt: string; seed: number; steps: number };
    expect(record).toMatchObject({ prompt: 'rocket, flat style, on a teal background', seed: 1234, steps: 2 });

    const png = decodePng(Buffer.from(await page.evaluate((frameId) => window.flowfill.nodeFillsAsPng(frameId), id), 'base64'));
    expect([png.width, png.height]).toEqual([96, 64]);
    // The white frame became an image: its pixels differ from white and from each other.
    const pixels = png.data as Uint8Array;
    let nonWhite = 0;
    const distinct = new Set<number>();
    for (let i = 0; i < pixels.length; i += png.channels) {
      if (pixels[i] !== 255 || pixels[i + 1] !== 255 || pixels[i + 2] !== 255) nonWhite++;
      distinct.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2]);
    }
    expect(nonWhite).toBeGreaterThan((pixels.length / png.channels) * 0.9);
    expect(distinct.size).toBeGreaterThan(100);

    // What a person sees: the inspector shows the image fill and the provenance record.
    await page.evaluate((frameId) => window.flowfill.select([frameId]), id);
    await page.waitForFunction(() => document.querySelector('#inspector img.thumb') !== null);
    const inspector = await page.textContent('#inspector');
    expect(inspector).toContain('IMAGE FILL');
    expect(inspector).toContain('"seed": 1234');

    await page.evaluate(() => window.flowfill.undo());
    const afterUndo = (await page.evaluate(() => window.flowfill.nodes()))[0];
    expect(afterUndo.fills).toEqual(['SOLID']);
    expect(afterUndo.pluginDataKeys).toEqual([]);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

test(
  'Compute → WebGPU in the settings loads the model again on the software adapter, the fill runs there, and the choice is kept',
  async () => {
    const page = await newPageAsync();
    await openPlaygroundAsync(page, rig.server.url);
    await page.evaluate(
      ([key]) => window.flowfill.setClientStorage(key, { steps: 1, guidance: 1, seed: 99, seedLocked: true }),
      [SETTINGS_KEY],
    );
    await page.evaluate(() => window.flowfill.runCommand('open'));
    const frame = await pluginFrameAsync(page);
    expect((await panelModelAsync(frame, BROWSER_TEST_TIMEOUT_MS / 3)).info?.backend).toBe('wasm');

    await frame.click('#ff-settings summary');
    await frame.click('#ff-compute [data-compute="webgpu"]');
    await frame.waitForFunction(
      () => {
        const panel = (
          globalThis as unknown as { flowfillPanel: { store: { get(): { model: { status: string; info?: { backend: string } } } } } }
        ).flowfillPanel;
        const model = panel.store.get().model;
        return model.status === 'ready' && model.info?.backend === 'webgpu';
      },
      undefined,
      { timeout: BROWSER_TEST_TIMEOUT_MS / 3, polling: 200 },
    );
    expect(await frame.getAttribute('#ff-compute [data-compute="webgpu"]', 'class')).toContain('is-active');

    const id = await page.evaluate(() => window.flowfill.createFrame({ name: 'On the GPU', width: 64, height: 64 }));
    await page.evaluate((frameId) => window.flowfill.select([frameId]), id);
    await frame.fill('#ff-prompt', 'rocket, flat style, on a teal background');
    await frame.click('#ff-generate');
    await page.evaluate(() => window.flowfill.waitForIdle({ timeoutMs: 4 * 60_000 }));
    const record = JSON.parse((await page.evaluate((frameId) => window.flowfill.pluginData(frameId), id))[PROVENANCE_KEY]) as {
      backend: string;
      seed: number;
    };
    expect(record).toMatchObject({ backend: 'webgpu', seed: 99 });
    // Saved with the other settings, so the next run starts on WebGPU.
    await page.waitForFunction(
      async ([key]) => ((await window.flowfill.clientStorage(key)) as { compute?: string } | undefined)?.compute === 'webgpu',
      [SETTINGS_KEY],
      {
        timeout: 10_000,
      },
    );
  },
  BROWSER_TEST_TIMEOUT_MS,
);

test(
  'a person can add, select, shift-select, resize and undo frames on the canvas; the page logs no error (its favicon is served)',
  async () => {
    const page = await newPageAsync();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('requestfailed', (request) => problems.push(`${request.url()}: ${request.failure()?.errorText}`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.url()}: HTTP ${response.status()}`);
    });
    await openPlaygroundAsync(page, rig.server.url);
    await page.fill('#frame-width', '400');
    await page.fill('#frame-height', '200');
    await page.click('#add-layer');
    await page.fill('#frame-width', '200');
    await page.click('#add-layer');
    const [first, second] = await page.evaluate(() => window.flowfill.nodes().map((n) => n.id));
    expect(await page.evaluate(() => window.flowfill.nodes().map((n) => [n.width, n.height]))).toEqual([
      [400, 200],
      [200, 200],
    ]);

    await page.click(`[data-node-id="${first}"]`, { position: { x: 20, y: 20 } });
    await page.click(`[data-node-id="${second}"]`, { position: { x: 20, y: 20 }, modifiers: ['Shift'] });
    expect(await page.evaluate(() => window.flowfill.selection())).toEqual([first, second]);
    await page.click(`[data-node-id="${first}"]`, { position: { x: 20, y: 20 }, modifiers: ['Shift'] });
    expect(await page.evaluate(() => window.flowfill.selection())).toEqual([second]);

    // Drag the corner handle 50 screen px right and 25 down at the default 50% zoom: +100 × +50.
    const handle = (await page.$(`[data-node-id="${second}"] .resize-handle`))!;
    const box = (await handle.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 50, box.y + box.height / 2 + 25, { steps: 4 });
    await page.mouse.up();
    expect(await page.evaluate(() => window.flowfill.nodes()[1])).toMatchObject({ width: 300, height: 250 });
    await page.waitForFunction(() => document.querySelector('#inspector')?.textContent?.includes('300×250') === true, undefined, {
      timeout: 10_000,
    });

    await page.keyboard.press('Control+z');
    expect(await page.evaluate(() => window.flowfill.nodes()[1])).toMatchObject({ width: 200, height: 200 });
    await page.evaluate(() => window.flowfill.undo());
    expect(await page.evaluate(() => window.flowfill.nodes().map((n) => n.id))).toEqual([first]);

    // The toolbar makes other layer types and locks them.
    await page.selectOption('#layer-type', 'TEXT');
    await page.click('#add-layer');
    await page.click('#toggle-lock');
    const text = (await page.evaluate(() => window.flowfill.nodes())).at(-1)!;
    expect(text).toMatchObject({ type: 'TEXT', locked: true });
    // The canvas re-renders on the next animation frame: wait for it rather than read it once.
    await page.waitForFunction(
      (id) => document.querySelector(`[data-node-id="${id}"] .node-label`)?.textContent?.startsWith('🔒 ') === true,
      text.id,
      { timeout: 10_000 },
    );
    await page.waitForFunction(() => document.querySelector('link[rel=icon]') !== null);
    expect((await page.request.get(new URL('favicon.svg', rig.server.url).href)).headers()['content-type']).toBe('image/svg+xml');
    expect(problems).toEqual([]);
  },
  BROWSER_TEST_TIMEOUT_MS,
);
