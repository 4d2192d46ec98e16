/**
 * Start-up marks on the page's performance timeline: every Figma command is a fresh plugin run, so
 * the time to a usable panel and to a loaded model is paid each time. `npm run bench:startup`
 * reads these marks; a browser's performance panel shows them too. Times are from the plugin
 * document's own start (performance.timeOrigin).
 */
import type { Panel } from './panel.js';

export const STARTUP_MARKS = {
  /** The panel script began to run (the page's HTML before it has been parsed). */
  script: 'flowfill:panel-script',
  /** The panel is in the DOM. */
  mounted: 'flowfill:panel-mounted',
  /** The first frame after mounting has been presented: the designer sees the panel. */
  painted: 'flowfill:panel-painted',
  /** The engine reported the model ready (or failed: see modelFailed). */
  modelReady: 'flowfill:model-ready',
  modelFailed: 'flowfill:model-failed',
} as const;

export function markStartup(name: string): void {
  // performance.mark is absent in some test environments; the marks are diagnostics only.
  globalThis.performance?.mark?.(name);
}

/** Marks mounted now, painted after the next frame, and the model's first ready or failed state. */
export function markPanelStartup(panel: Panel): void {
  markStartup(STARTUP_MARKS.mounted);
  // A rAF callback runs before the frame is drawn; a task queued from it runs after.
  requestAnimationFrame(() => setTimeout(() => markStartup(STARTUP_MARKS.painted), 0));
  const stop = panel.store.subscribe((state) => {
    if (state.model.status !== 'ready' && state.model.status !== 'failed') return;
    markStartup(state.model.status === 'ready' ? STARTUP_MARKS.modelReady : STARTUP_MARKS.modelFailed);
    queueMicrotask(() => stop());
  });
}
