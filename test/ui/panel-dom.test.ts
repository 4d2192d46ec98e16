/**
 * The panel's DOM in headless Chromium: ui/main.ts bundled the way the build does (worker code
 * inlined, started from a data: URL), running in a sandboxed srcdoc iframe (null origin, as in
 * Figma) under a host page that plays a minimal main thread. The engine inside the worker is the
 * FakeEngine test double; the real engine has its own browser suite.
 */
import { jest } from '@jest/globals';
import * as esbuild from 'esbuild';
import { chromium, type Browser, type FrameLocator, type Page } from 'playwright-core';
import type { UiToMain } from '../../common/protocol.js';
import { validateProvenance, type ProvenanceRecord } from '../../common/provenance.js';

/** Budget for launching Chromium and bundling (no assertion on time; a stuck browser fails instead of hanging). */
jest.setTimeout(60_000);

const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

async function bundle(entry: string, define: Record<string, string> = {}): Promise<string> {
  const out = await esbuild.build({ entryPoints: [new URL(entry, import.meta.url).pathname], bundle: true, format: 'iife', write: false, define, logLevel: 'silent' });
  return out.outputFiles[0].text;
}

/** A page that hosts the panel as Figma does and answers like a small main thread. */
function hostPage(panelHtml: string): string {
  // "</" must not appear inside the host's own <script>.
  const srcdoc = JSON.stringify(panelHtml).replace(/<\//g, '<\\/');
  return `<!doctype html><html><body style="margin:0">
<iframe id="plugin" sandbox="allow-scripts" style="width:320px;height:560px;border:0"></iframe>
<script>
const frame = document.getElementById('plugin');
window.received = [];
window.jobsPerPlan = 1;
window.steps = 3;
let next = 0;
window.toPanel = (m) => frame.contentWindow.postMessage({ pluginMessage: m }, '*');
window.addEventListener('message', (event) => {
  const m = event.data && event.data.pluginMessage;
  if (!m) return;
  window.received.push(m);
  if (m.type === 'ui-ready') {
    toPanel({ type: 'init', v: 1, command: 'open', host: 'test' });
    toPanel({ type: 'settings-loaded', v: 1, settings: null });
    toPanel({ type: 'selection-changed', v: 1, targets: [] });
  }
  if (m.type === 'plan-request') {
    const jobs = Array.from({ length: window.jobsPerPlan }, (_, i) => ({
      jobId: 'job' + next++, kind: 'new-frame', nodeId: null, nodeName: 'Frame ' + next,
      target: { width: 512, height: 512 }, gen: { width: 64, height: 48 }, notes: [] }));
    toPanel({ type: 'plan', v: 1, requestId: m.requestId, batchId: 'b' + next, jobs, skipped: [] });
  }
  if (m.type === 'job-result') toPanel({ type: 'job-applied', v: 1, jobId: m.jobId, nodeId: '9:' + m.jobId, nodeName: 'Placed ' + m.jobId });
});
frame.srcdoc = ${srcdoc};
</script></body></html>`;
}

let browser: Browser;
let html: string;

beforeAll(async () => {
  const worker = await bundle('./fixtures/fake-engine-worker.ts');
  const panel = await bundle('../../ui/main.ts', { FLOWFILL_WORKER_SOURCE: JSON.stringify(worker) });
  html = hostPage(`<!doctype html><html><head><meta charset="utf-8"></head><body><div id="app"></div><script>${panel.replace(/<\/script/g, '<\\/script')}</script></body></html>`);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
});

async function openPanel(): Promise<{ page: Page; panel: FrameLocator; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 320, height: 560 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setContent(html);
  const panel = page.frameLocator('#plugin');
  await panel.locator('#ff-model-name', { hasText: 'Fake Tiny SD3' }).waitFor();
  return { page, panel, errors };
}

const received = (page: Page) => page.evaluate(() => (window as unknown as { received: UiToMain[] }).received);

describe('panel in Chromium (null-origin iframe, data: URL worker)', () => {
  test('shows the model and backend, runs in an opaque origin', async () => {
    const { page, panel, errors } = await openPanel();
    await expect(panel.locator('#ff-backend').textContent()).resolves.toBe('WASM');
    await expect(panel.locator('#ff-generate').textContent()).resolves.toMatch(/^Insert/);
    expect(await page.frames()[1].evaluate(() => self.origin)).toBe('null');
    expect(errors).toEqual([]);
    await page.close();
  });

  test('Ctrl-Enter in the prompt runs a job: progress, preview, a PNG and provenance sent to main, history', async () => {
    const { page, panel } = await openPanel();
    await panel.locator('[data-preset="flat"]').click();
    await expect(panel.locator('#ff-prompt').inputValue()).resolves.toBe('flat style');
    await panel.locator('#ff-settings summary').click();
    await panel.locator('#ff-steps').fill('100');
    await panel.locator('#ff-prompt').fill('rocket, flat style');
    await panel.locator('#ff-prompt').press('Control+Enter');

    // 100 paced steps: long enough to watch the bar move.
    const row = panel.locator('.ff-job').first();
    await row.locator('.ff-job-status', { hasText: /^Step \d+\/100$/ }).waitFor();
    const width = await row.locator('.ff-progress > div').evaluate((bar) => (bar as HTMLElement).style.width);
    expect(width).toMatch(/^\d+%$/);
    await panel.locator('.ff-job.is-done').waitFor();
    await expect(row.locator('.ff-job-status').textContent()).resolves.toMatch(/^Done/);
    await expect(row.locator('img.ff-thumb').isVisible()).resolves.toBe(true);

    const messages = await received(page);
    const result = messages.find((m): m is Extract<UiToMain, { type: 'job-result' }> => m.type === 'job-result')!;
    expect(Object.prototype.toString.call(result.png)).toBe('[object Uint8Array]');
    expect(Array.from(result.png.slice(1, 4))).toEqual([80, 78, 71]); // "PNG"
    expect(validateProvenance(result.record).ok).toBe(true);
    expect(result.record).toMatchObject({ prompt: 'rocket, flat style', width: 64, height: 48, steps: 100 });
    expect(messages.some((m) => m.type === 'history-save')).toBe(true);
    await panel.locator('#ff-recent summary').click();
    await expect(panel.locator('.ff-history-item').count()).resolves.toBe(1);
    await page.close();
  });

  test('cancel one job and cancel all: the panel tells main and keeps going', async () => {
    const { page, panel } = await openPanel();
    await page.evaluate(() => ((window as unknown as { jobsPerPlan: number }).jobsPerPlan = 3));
    await panel.locator('#ff-prompt').fill('owl');
    // 100 paced steps keep the first job running while the test clicks (no assertion on time).
    await panel.locator('#ff-settings summary').click();
    await panel.locator('#ff-steps').fill('100');
    await panel.locator('#ff-generate').click();
    await panel.locator('.ff-job.is-running .ff-job-status', { hasText: /\/100$/ }).waitFor();
    await panel.locator('.ff-job').nth(1).locator('button').click();
    await panel.locator('.ff-job').nth(1).and(panel.locator('.is-cancelled')).waitFor();
    await panel.locator('#ff-cancel-all').click();
    await panel.locator('.ff-job.is-running').waitFor({ state: 'detached' });
    const statuses = await panel.locator('.ff-job').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.status));
    expect(statuses).toEqual(['cancelled', 'cancelled', 'cancelled']);
    const cancelled = (await received(page)).filter((m) => m.type === 'job-cancelled').map((m) => (m as { jobId: string }).jobId);
    expect(cancelled.sort()).toEqual(['job0', 'job1', 'job2']);
    expect((await received(page)).some((m) => m.type === 'job-result')).toBe(false);
    await page.close();
  });

  test('a malformed message from main gets an error reply; the provenance card loads settings', async () => {
    const { page, panel } = await openPanel();
    await page.evaluate(() => (window as unknown as { toPanel: (m: unknown) => void }).toPanel({ type: 'plan', v: 1 }));
    await page.waitForFunction(() => (window as unknown as { received: Array<{ type: string }> }).received.some((m) => m.type === 'error'));
    const reply = (await received(page)).find((m) => m.type === 'error');
    expect(reply).toMatchObject({ code: 'malformed-message', inReplyTo: 'plan' });

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
    await page.evaluate(
      (r) =>
        (window as unknown as { toPanel: (m: unknown) => void }).toPanel({
          type: 'selection-changed',
          v: 1,
          targets: [{ id: '1:2', name: 'Hero', type: 'FRAME', width: 400, height: 300, hasImageFill: true, canFill: true, provenance: r }],
        }),
      record,
    );
    await panel.locator('#ff-use-settings').click();
    await expect(panel.locator('#ff-prompt').inputValue()).resolves.toBe(record.prompt);
    await expect(panel.locator('#ff-seed').inputValue()).resolves.toBe('4242');
    await expect(panel.locator('#ff-seed-lock').getAttribute('aria-pressed')).resolves.toBe('true');
    await expect(panel.locator('#ff-generate').textContent()).resolves.toMatch(/^Fill 1 frame/);
    await page.close();
  });
});
