/**
 * The panel driven as a person would, in the playground with the real engine (golden fixture
 * model, on WASM): type a prompt, press Ctrl-Enter, watch the job's progress bar and
 * live preview, see the fill land on the selected frame, then select it and load its settings
 * from the provenance card. Few steps and no CFG keep the work small.
 */
import path from 'node:path';
import type { Browser, Frame, Page } from 'playwright-core';
import { PROVENANCE_KEY } from '../../common/provenance.js';
import { STORAGE_KEYS } from '../../src/figma-host.js';

const SETTINGS_KEY = STORAGE_KEYS.settings;
import { repoRoot } from '../../scripts/build.mjs';
import { BROWSER_TEST_TIMEOUT_MS, launchChromiumAsync, startRigAsync, type Rig } from './browser-rig.js';
import { openPlaygroundAsync, panelModelAsync, pluginFrameAsync } from './playground-helpers.js';

let rig: Rig;
let browser: Browser;
let page: Page | undefined;

beforeAll(async () => {
  rig = await startRigAsync();
  // WASM: the panel's behaviour does not depend on the backend, and it skips SwiftShader's slow shader compiles.
  browser = await launchChromiumAsync({ webgpu: false });
}, 120_000);

afterAll(async () => {
  await page?.close();
  await browser?.close();
  await rig?.close();
});

/** The job rows' statuses and steps as the panel shows them. */
function jobRows(frame: Frame) {
  return frame.$$eval('.ff-job', (rows) =>
    rows.map((r) => ({ status: (r as HTMLElement).dataset.status, step: Number((r as HTMLElement).dataset.step) })),
  );
}

test(
  'type a prompt, Ctrl-Enter: a job shows progress and a preview, the fill lands, and its record loads back into the panel',
  async () => {
    page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    await openPlaygroundAsync(page, rig.server.url);
    await page.evaluate(([key]) => window.flowfill.setClientStorage(key, { steps: 2, guidance: 1, fillMode: 'replace' }), [SETTINGS_KEY]);
    const id = await page.evaluate(() => window.flowfill.createFrame({ name: 'Card', width: 96, height: 64 }));
    await page.evaluate((frameId) => window.flowfill.select([frameId]), id);
    await page.evaluate(() => window.flowfill.runCommand('open'));
    const panel = await pluginFrameAsync(page);
    const model = await panelModelAsync(panel, 3 * 60_000);
    expect(model.status).toBe('ready');
    await panel.waitForSelector('#ff-generate:not([disabled])');
    expect(await panel.textContent('#ff-generate')).toMatch(/^Fill 1 frame/);
    expect(await panel.textContent('#ff-backend')).toBe('WASM');

    await panel.fill('#ff-prompt', 'rocket, flat style, on a teal background');
    await panel.press('#ff-prompt', 'Control+Enter');

    // Progress: the row reaches step ≥ 1 with a drawn preview (the engine's latent preview) before it ends.
    await panel.waitForFunction(
      () => {
        const row = document.querySelector('.ff-job') as HTMLElement | null;
        return row !== null && (Number(row.dataset.step) >= 1 || row.dataset.status === 'done');
      },
      undefined,
      { timeout: 3 * 60_000, polling: 50 },
    );
    await panel.waitForSelector('.ff-job.is-done, .ff-job.is-failed', { timeout: 3 * 60_000 });
    const [row] = await jobRows(panel);
    expect(row).toEqual({ status: 'done', step: 2 });
    const previewSize = await panel.$eval('.ff-job canvas', (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]);
    expect(previewSize[0]).toBeGreaterThan(4); // the 4×4 placeholder was replaced by a real preview
    await page.evaluate(() => window.flowfill.waitForIdle({ timeoutMs: 60_000 }));

    const node = (await page.evaluate(() => window.flowfill.nodes()))[0];
    expect(node.fills).toEqual(['IMAGE']);
    const record = JSON.parse((await page.evaluate((frameId) => window.flowfill.pluginData(frameId), id))[PROVENANCE_KEY]) as {
      prompt: string;
      seed: number;
      steps: number;
      backend: string;
    };
    expect(record).toMatchObject({ prompt: 'rocket, flat style, on a teal background', steps: 2, backend: 'wasm' });

    // Re-selecting the frame shows its provenance; "Use these settings" loads and locks its seed.
    await page.evaluate(() => window.flowfill.select([]));
    await page.evaluate((frameId) => window.flowfill.select([frameId]), id);
    await panel.fill('#ff-prompt', 'something else');
    await panel.click('#ff-use-settings');
    expect(await panel.inputValue('#ff-prompt')).toBe(record.prompt);
    expect(await panel.inputValue('#ff-seed')).toBe(String(record.seed));
    expect(await panel.getAttribute('#ff-seed-lock', 'aria-pressed')).toBe('true');
    await panel.click('#ff-recent summary');
    expect(await panel.$$eval('.ff-history-item', (items) => items.length)).toBe(1);
  },
  BROWSER_TEST_TIMEOUT_MS,
);

test(
  'a mixed selection of 10 layers (a locked frame, text, a group, shapes, a component) fills what it can and groups every skip reason',
  async () => {
    const mixed = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    try {
      await openPlaygroundAsync(mixed, rig.server.url);
      await mixed.evaluate(
        ([key]) => window.flowfill.setClientStorage(key, { prompt: 'rocket, flat style', steps: 2, guidance: 1, fillMode: 'replace' }),
        [SETTINGS_KEY],
      );
      const ids = await mixed.evaluate(() => {
        const f = window.flowfill;
        return [
          f.createLayer({ type: 'FRAME', name: 'Frame 1', width: 64, height: 64 }),
          f.createLayer({ type: 'FRAME', name: 'Frame 2', width: 96, height: 64 }),
          f.createLayer({ type: 'FRAME', name: 'Locked frame', width: 64, height: 64, locked: true }),
          f.createLayer({ type: 'TEXT', name: 'Headline' }),
          f.createLayer({ type: 'TEXT', name: 'Caption' }),
          f.createLayer({ type: 'GROUP', name: 'Group', width: 64, height: 64 }),
          f.createLayer({ type: 'ELLIPSE', name: 'Avatar', width: 64, height: 64 }),
          f.createLayer({ type: 'RECTANGLE', name: 'Card', width: 64, height: 96 }),
          f.createLayer({ type: 'COMPONENT', name: 'Button', width: 96, height: 32 }),
          f.createLayer({ type: 'RECTANGLE', name: 'Locked rect', width: 64, height: 64, locked: true }),
        ];
      });
      await mixed.evaluate((selected) => window.flowfill.select(selected), ids);
      await mixed.evaluate(() => window.flowfill.runCommand('fill'));
      await mixed.evaluate(() => window.flowfill.waitForIdle({ timeoutMs: 4 * 60_000 }));

      const panel = await pluginFrameAsync(mixed);
      const grouped = panel.locator('.ff-notice-details').first();
      expect(await grouped.locator('summary').textContent()).toBe('5 skipped: 2 locked, 2 text, 1 group — why');
      await grouped.locator('summary').click();
      expect(await grouped.locator('li').allTextContents()).toEqual([
        '“Locked frame”: The layer is locked. Unlock it to fill it.',
        '“Headline”: Text layers are skipped: an image fill would paint the letters. Select a frame or shape instead.',
        '“Caption”: Text layers are skipped: an image fill would paint the letters. Select a frame or shape instead.',
        '“Group”: Groups have no fill of their own. Select a frame or shape inside it.',
        '“Locked rect”: The layer is locked. Unlock it to fill it.',
      ]);
      const nodes = await mixed.evaluate(() => window.flowfill.nodes());
      const filled = nodes.filter((n) => n.fills.includes('IMAGE')).map((n) => n.name);
      expect(filled).toEqual(['Frame 1', 'Frame 2', 'Avatar', 'Card', 'Button']);
      expect(await panel.$$eval('.ff-job', (rows) => rows.map((r) => (r as HTMLElement).dataset.status))).toEqual(Array(5).fill('done'));
    } finally {
      await mixed.close();
    }
  },
  BROWSER_TEST_TIMEOUT_MS,
);

test(
  'with the built-in model the panel names the words it does not know, offers its subjects and words its chips as its captions',
  async () => {
    const defaultRig = await startRigAsync({}, { modelDir: path.join(repoRoot, 'models', 'default') });
    const other = await browser.newPage({ viewport: { width: 1400, height: 860 } });
    try {
      await openPlaygroundAsync(other, defaultRig.server.url);
      await other.evaluate(() => window.flowfill.runCommand('open'));
      const panel = await pluginFrameAsync(other);
      expect((await panelModelAsync(panel, 120_000)).status).toBe('ready');

      // The words the general chips would have added ("modern", "an") are named; the chips are the model's own.
      await panel.fill('#ff-prompt', 'rocket, modern style, on an orange background');
      await panel.waitForSelector('#ff-unknown-words');
      expect(await panel.textContent('#ff-unknown-words')).toBe('This model does not know “modern”, “an”: it cannot follow these words.');
      // The package's own test counts (flowfill.json vocabulary, from its sampler checks) say how reliably it draws the subject.
      expect(await panel.textContent('#ff-subject-hint')).toBe(
        'Draws rocket (emoji), trained in flat, glossy, twemoji; recognised in 5 of 5 test images.',
      );
      expect(await panel.getAttribute('#ff-subject-hint', 'title')).toMatch(/^Images of held-out captions .* at 256×256 /);
      const chips = () => panel.$$eval('#ff-presets .ff-chip', (found) => found.map((c) => c.textContent));
      const backgrounds = ['White bg', 'Teal bg', 'Orange bg', 'Purple bg', 'Dark blue bg'];
      expect(await chips()).toEqual(['Flat', 'Glossy', 'Twemoji', ...backgrounds]);

      // A subject picked from the list writes its kind's caption, keeping the background the prompt chose.
      await panel.fill('#ff-subject', 'shopping cart icon');
      await panel.press('#ff-subject', 'Enter');
      expect(await panel.inputValue('#ff-prompt')).toBe('shopping cart icon, line style, dark blue on orange');
      expect(await panel.inputValue('#ff-subject')).toBe('');
      await panel.waitForSelector('#ff-unknown-words', { state: 'detached' });
      expect(await panel.textContent('#ff-subject-hint')).toBe(
        'Draws shopping cart (icon), trained in line, filled, bold, thin; recognised in 4 of 5 test images.',
      );
      expect(await panel.getAttribute('#ff-subject-list option[value="shopping cart icon"]', 'label')).toBe(
        'icon · line, filled, bold, thin · 4/5 recognised',
      );
      // The chips follow the kind of subject: an icon's styles now; one replaces the other.
      expect(await chips()).toEqual(['Line', 'Filled', 'Bold', 'Thin', ...backgrounds]);
      await panel.click('[data-preset="bold"]');
      expect(await panel.inputValue('#ff-prompt')).toBe('shopping cart icon, dark blue on orange, bold style');
      expect(await panel.$('#ff-style-hint')).toBeNull();
      // The style this model draws its icons in least reliably is named, with the one that reads best.
      await panel.click('[data-preset="thin"]');
      await panel.waitForSelector('#ff-style-hint.is-warning');
      expect(await panel.textContent('#ff-style-hint')).toBe(
        'Icons in thin style are recognised least often: 48 % of test images, against 66 % over all icon styles (bold: 75 %).',
      );

      // A subject it seldom draws recognisably is a warning, not a promise.
      await panel.fill('#ff-prompt', 'bus icon, line style, dark blue on white');
      await panel.waitForSelector('#ff-subject-hint.is-warning');
      expect(await panel.textContent('#ff-subject-hint')).toBe(
        'Trained on bus (icon), but recognised in only 1 of 5 test images: expect a loose likeness.',
      );

      // A subject named only in the plural was never taught as that subject: the hint gives the singular to write.
      await panel.fill('#ff-prompt', 'stars on a teal background');
      await panel.waitForSelector('#ff-subject-hint:has-text("singular")');
      expect(await panel.textContent('#ff-subject-hint')).toBe('Trained on star (emoji) in the singular: write “star”, not “stars”.');
      expect(await panel.getAttribute('#ff-subject-hint', 'class')).toContain('is-warning');

      // A prompt naming none of the 400 says so; the hint's tooltip says how many other names the model knows.
      await panel.fill('#ff-prompt', 'a misty forest at dawn');
      await panel.waitForSelector('#ff-unknown-words:has-text("“misty”, “forest”")');
      expect(await panel.textContent('#ff-subject-hint')).toBe(
        'Names none of the subjects this model was trained on (200 emoji and 200 icons): pick one under Subject.',
      );
      expect(await panel.getAttribute('#ff-subject-hint', 'title')).toBe('2477 more subject names are known words, drawn poorly');
    } finally {
      await other.close();
      await defaultRig.close();
    }
  },
  BROWSER_TEST_TIMEOUT_MS,
);
