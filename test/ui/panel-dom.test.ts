/**
 * The panel's DOM in headless Chromium, driven as a person would: the playground (the real main
 * thread on the Figma fake, the panel in a sandboxed null-origin iframe, the worker started from a
 * data: URL) with one change: the worker runs the FakeEngine test double, whose paced steps let a
 * test watch a job and cancel it. The real engine has its own browser suites.
 */
import { jest } from '@jest/globals';
import * as esbuild from 'esbuild';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { parseProvenance, PROVENANCE_KEY } from '../../common/provenance.js';
import { assembleUiHtml, buildMainAsync, buildPlaygroundScriptAsync } from '../../scripts/build.mjs';
import { startPlaygroundServer, type PlaygroundServer } from '../../scripts/playground-server.mjs';
import type { ProvenanceRecord } from '../../common/provenance.js';
import { openPlaygroundAsync, pluginFrameAsync } from '../browser/playground-helpers.js';

/** Budget for launching Chromium and bundling (no assertion on time; a stuck browser fails instead of hanging). */
jest.setTimeout(90_000);

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

async function bundle(entry: string, define: Record<string, string> = {}): Promise<string> {
  const out = await esbuild.build({
    entryPoints: [new URL(entry, import.meta.url).pathname],
    bundle: true,
    format: 'iife',
    write: false,
    define,
    logLevel: 'silent',
    jsx: 'automatic',
    jsxImportSource: 'preact',
  });
  return out.outputFiles[0].text;
}

let browser: Browser;
let server: PlaygroundServer;
let distDir: string;

beforeAll(async () => {
  distDir = mkdtempSync(path.join(os.tmpdir(), 'flowfill-panel-dom-'));
  const worker = await bundle('./fixtures/fake-engine-worker.ts');
  const panel = await bundle('../../ui/main.ts', { FLOWFILL_WORKER_SOURCE: JSON.stringify(worker) });
  writeFileSync(path.join(distDir, 'ui.html'), assembleUiHtml(panel, []));
  writeFileSync(path.join(distDir, 'code.js'), await buildMainAsync());
  writeFileSync(path.join(distDir, 'playground.js'), await buildPlaygroundScriptAsync());
  server = await startPlaygroundServer({ port: 0, quiet: true, distDir });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (distDir) rmSync(distDir, { recursive: true, force: true });
});

/** The playground with the plugin open on `ids` selected, the panel's model loaded. */
async function openPanel(setup: (page: Page) => Promise<string[]> = async () => []): Promise<{ page: Page; panel: Frame; ids: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  await openPlaygroundAsync(page, server.url);
  const ids = await setup(page);
  await page.evaluate((selected) => window.flowfill.select(selected), ids);
  await page.evaluate(() => window.flowfill.runCommand('open'));
  const panel = await pluginFrameAsync(page);
  await panel.waitForSelector('#ff-model-name:has-text("Fake Tiny SD3")');
  return { page, panel, ids };
}

const calls = (page: Page, method: string) =>
  page.evaluate((m) => window.flowfill.wire().filter((w) => w.kind === 'call' && w.name === m).length, method);

describe('panel in Chromium (null-origin iframe, data: URL worker)', () => {
  test('shows the model and backend, in an opaque origin, at 340×600', async () => {
    const { page, panel } = await openPanel();
    expect(await panel.textContent('#ff-backend')).toBe('WASM');
    expect(await panel.textContent('#ff-generate')).toMatch(/^Insert/);
    expect(await panel.evaluate(() => [self.origin, innerWidth, innerHeight])).toEqual(['null', 340, 600]);
    await page.close();
  });

  test('Ctrl-Enter runs a job: progress with a time estimate, a preview, the fill lands with its record, history', async () => {
    const { page, panel, ids } = await openPanel((p) =>
      p.evaluate(() => [window.flowfill.createFrame({ name: 'Card', width: 128, height: 96 })]),
    );
    await panel.click('[data-preset="flat"]');
    expect(await panel.inputValue('#ff-prompt')).toBe('flat style');
    await panel.click('#ff-settings summary');
    await panel.fill('#ff-steps', '60');
    await panel.fill('#ff-prompt', 'rocket, flat style');
    await panel.press('#ff-prompt', 'Control+Enter');

    // 60 paced steps: long enough to watch the bar move and the estimate appear.
    const status = await panel.waitForSelector('.ff-job-status:text-matches("^Step \\\\d+/60 · ~\\\\d+ s left$")');
    expect(await status.textContent()).toMatch(/ left$/);
    expect(await panel.$eval('.ff-progress > div', (bar) => (bar as HTMLElement).style.width)).toMatch(/^\d+%$/);
    await panel.waitForSelector('.ff-job.is-done');
    expect(await panel.textContent('.ff-job-status')).toMatch(/^Done/);
    expect(await panel.isVisible('img.ff-thumb')).toBe(true);
    await page.evaluate(() => window.flowfill.waitForIdle({ timeoutMs: 30_000 }));

    const data = await page.evaluate((id) => window.flowfill.pluginData(id), ids[0]);
    const record = parseProvenance(data[PROVENANCE_KEY]);
    expect(record.ok && record.value).toMatchObject({ prompt: 'rocket, flat style', steps: 60 });
    expect(await calls(page, 'readTargets')).toBe(1);
    expect(await calls(page, 'placeImage')).toBe(1);
    await panel.click('#ff-recent summary');
    expect(await panel.$$eval('.ff-history-item', (items) => items.length)).toBe(1);
    await page.close();
  });

  test('cancel one job and cancel all: nothing is placed, every row says cancelled', async () => {
    const { page, panel } = await openPanel((p) =>
      p.evaluate(() => ['A', 'B', 'C'].map((name) => window.flowfill.createFrame({ name, width: 64, height: 64 }))),
    );
    await panel.fill('#ff-prompt', 'owl');
    await panel.click('#ff-settings summary');
    await panel.fill('#ff-steps', '100');
    await panel.click('#ff-generate');
    await panel.waitForSelector('.ff-job.is-running .ff-job-status:text-matches("/100")');
    await panel.click('.ff-job:nth-child(2) button');
    await panel.waitForSelector('.ff-job:nth-child(2).is-cancelled');
    await panel.click('#ff-cancel-all');
    await panel.waitForSelector('.ff-job.is-running', { state: 'detached' });
    expect(await panel.$$eval('.ff-job', (rows) => rows.map((r) => (r as HTMLElement).dataset.status))).toEqual([
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    await page.evaluate(() => window.flowfill.waitForIdle({ timeoutMs: 30_000 }));
    expect(await calls(page, 'placeImage')).toBe(0);
    expect(await calls(page, 'commitUndo')).toBe(1);
    await page.close();
  });

  test('the provenance card loads a record’s settings and locks its seed', async () => {
    const record: ProvenanceRecord = {
      format: 'flowfill-provenance',
      version: 1,
      prompt: 'cat, modern style, on an orange background',
      negativePrompt: '',
      seed: 4242,
      steps: 12,
      guidance: 3.5,
      width: 512,
      height: 384,
      model: { id: 'fake-tiny', hash: 'cd' },
      backend: 'wasm',
      createdAt: '2026-01-31T12:00:00.000Z',
    };
    const { page, panel } = await openPanel(async (p) => {
      const id = await p.evaluate(() => window.flowfill.createFrame({ name: 'Hero', width: 400, height: 300 }));
      await p.evaluate(([nodeId, text]) => window.flowfill.setPluginData(nodeId, 'flowfill', text), [id, JSON.stringify(record)] as const);
      return [id];
    });
    expect(await panel.textContent('#ff-provenance')).toContain('Guidance 3.5');
    await panel.click('#ff-use-settings');
    expect(await panel.inputValue('#ff-prompt')).toBe(record.prompt);
    expect(await panel.inputValue('#ff-seed')).toBe('4242');
    expect(await panel.getAttribute('#ff-seed-lock', 'aria-pressed')).toBe('true');
    expect(await panel.textContent('#ff-generate')).toMatch(/^Fill 1 frame/);

    // The record's steps and guidance are not the model's: Settings offers the model's, one click away.
    await panel.click('#ff-settings summary');
    expect(await panel.textContent('#ff-recommendation')).toContain('Fake Tiny SD3 recommends 20 steps, guidance 4.5.');
    await panel.click('#ff-use-recommended');
    expect([await panel.inputValue('#ff-steps'), await panel.inputValue('#ff-guidance')]).toEqual(['20', '4.5']);
    expect(await panel.locator('#ff-recommendation').count()).toBe(0);
    expect(await panel.inputValue('#ff-seed')).toBe('4242');
    await page.close();
  });

  test('at 340×600, many notices (grouped skips opened, errors) never push the prompt or the Fill button out of view', async () => {
    const { page, panel } = await openPanel((p) =>
      p.evaluate(() => {
        const ids = [window.flowfill.createLayer({ type: 'FRAME', name: 'Ok', width: 64, height: 64 })];
        for (let i = 0; i < 6; i++) ids.push(window.flowfill.createLayer({ type: 'TEXT', name: `Caption ${i}` }));
        ids.push(window.flowfill.createLayer({ type: 'FRAME', name: 'Locked', width: 64, height: 64, locked: true }));
        ids.push(window.flowfill.createLayer({ type: 'GROUP', name: 'Group', width: 64, height: 64 }));
        return ids;
      }),
    );
    await panel.fill('#ff-prompt', 'owl');
    await panel.click('#ff-settings summary');
    await panel.fill('#ff-steps', '1');
    for (let i = 0; i < 4; i++) {
      await panel.click('#ff-generate');
      await page.evaluate(() => window.flowfill.waitForIdle({ timeoutMs: 30_000 }));
    }
    // An error too, several times.
    await panel.fill('#ff-prompt', '');
    for (let i = 0; i < 6; i++) await panel.press('#ff-prompt', 'Control+Enter');
    // Four grouped notices, and the repeated error once, counted.
    expect(await panel.$$eval('.ff-notice', (n) => n.length)).toBe(5);
    expect(await panel.textContent('.ff-notice.is-error')).toBe('Describe the image first: the prompt is empty. ×6');
    const grouped = panel.locator('.ff-notice-details', { hasText: '8 skipped: 6 text, 1 locked, 1 group' }).first();
    await grouped.locator('summary').click();
    expect(await grouped.locator('li').count()).toBe(8);
    await panel.fill('#ff-prompt', 'owl, flat style');

    const inView = (selector: string) =>
      panel.$eval(selector, (element) => {
        const box = element.getBoundingClientRect();
        return box.top >= 0 && box.bottom <= innerHeight && box.height > 0;
      });
    expect(await inView('#ff-prompt')).toBe(true);
    expect(await inView('#ff-generate')).toBe(true);
    expect(await panel.evaluate(() => document.scrollingElement!.scrollTop)).toBe(0);
    await page.screenshot({
      path: path.join(os.tmpdir(), 'flowfill-panel-notices.png'),
      clip: (await (await page.$('iframe.plugin-frame'))!.boundingBox())!,
    });
    await page.close();
  });
});
