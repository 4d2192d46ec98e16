/**
 * Page-side helpers for the playground tests: the automation API (window.flowfill) and the
 * panel inside the plugin's iframe (reachable from playwright even though the page cannot).
 */
import type { Frame, Page } from 'playwright-core';
import type { Capabilities, ModelInfo } from '../../common/engine-types.js';
import type { PlaygroundApi } from '../../playground/playground.js';

declare global {
  interface Window {
    flowfill: PlaygroundApi;
  }
}

export async function openPlaygroundAsync(page: Page, url: string): Promise<void> {
  // ?blank: no demo frames, so every test owns its canvas.
  await page.goto(`${url}?blank`);
  await page.evaluate(() => window.flowfill.ready);
}

/** The plugin's iframe once it has a document (the panel's scripts have run). */
export async function pluginFrameAsync(page: Page): Promise<Frame> {
  const handle = await page.waitForSelector('iframe.plugin-frame');
  const frame = await handle.contentFrame();
  if (!frame) throw new Error('the plugin iframe has no frame');
  await frame.waitForFunction(() => 'flowfillPanel' in globalThis);
  return frame;
}

export interface PanelModelState {
  status: string;
  capabilities?: Capabilities;
  info?: ModelInfo;
  error?: string;
}

/** Waits until the panel's model has loaded or failed, and returns what the engine reported. */
export async function panelModelAsync(frame: Frame, timeoutMs: number): Promise<PanelModelState> {
  await frame.waitForFunction(
    () => {
      const panel = (globalThis as unknown as { flowfillPanel: { store: { get(): { model: { status: string } } } } }).flowfillPanel;
      return ['ready', 'failed'].includes(panel.store.get().model.status);
    },
    undefined,
    { timeout: timeoutMs, polling: 200 },
  );
  return frame.evaluate(() => {
    const panel = (globalThis as unknown as { flowfillPanel: { store: { get(): { model: unknown } } } }).flowfillPanel;
    return JSON.parse(JSON.stringify(panel.store.get().model)) as PanelModelState;
  });
}
