/**
 * The plugin iframe's entry: starts the engine worker, wires the panel to the main thread
 * (Figma's parent.postMessage / window "message" with { pluginMessage }) and mounts the DOM.
 *
 * The build (scripts/build.mjs) bundles worker/worker-entry.ts first and defines
 * FLOWFILL_WORKER_SOURCE as its code, so the single ui.html carries the worker with it; the
 * worker's large files (ORT's .wasm, the model) are in the page as asset elements.
 */
import type { UiToMain } from '../common/protocol.js';
import { PanelController } from './panel-controller.js';
import { mountPanel } from './panel-view.js';
import { postEmbeddedAssets } from '../worker/runtime/embedded-assets.js';
import { browserWorkerFactory, deferredEngine, startEngineWorkerAsync } from './start-engine.js';

declare const FLOWFILL_WORKER_SOURCE: string | undefined;

function workerSource(): string {
  if (typeof FLOWFILL_WORKER_SOURCE !== 'string' || FLOWFILL_WORKER_SOURCE.length === 0) {
    throw new Error('[internal] this ui.html was built without the engine worker (FLOWFILL_WORKER_SOURCE is not defined); run npm run build');
  }
  return FLOWFILL_WORKER_SOURCE;
}

/** UI → main, the way Figma expects it. PNG bytes are structured-cloned as Uint8Array. */
function postToMain(message: UiToMain): void {
  parent.postMessage({ pluginMessage: message }, '*');
}

function start(): void {
  const started = (async () => {
    // ORT's .wasm and the default model sit in the page (scripts/build.mjs); the worker gets them
    // as its first message, before any comlink call.
    const factory = { ...browserWorkerFactory, prepare: (worker: Worker) => void postEmbeddedAssets(worker) };
    const { engine, via } = await startEngineWorkerAsync(workerSource(), factory);
    if (via === 'blob') console.info('[flowfill ui] engine worker started from a blob: URL (data: was refused); WebGPU may be unavailable');
    return engine;
  })();
  const controller = new PanelController({ engine: deferredEngine(started), post: postToMain });

  // Listen before announcing ourselves, so main's first answers are not missed.
  window.addEventListener('message', (event: MessageEvent) => {
    const data: unknown = event.data;
    // Only Figma's envelope is ours; other frames' messages (extensions, devtools) are ignored.
    if (typeof data !== 'object' || data === null || !('pluginMessage' in data)) return;
    controller.receive((data as { pluginMessage: unknown }).pluginMessage);
  });

  const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('div'));
  mountPanel(root, controller);
  // Exposed for the browser tests and for debugging in the playground's console.
  (globalThis as { flowfillPanel?: PanelController }).flowfillPanel = controller;
  void controller.startAsync();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
else start();
