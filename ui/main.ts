/**
 * The plugin iframe's entry: connects to the host (Figma's main thread), starts the engine worker,
 * creates the panel and renders it.
 *
 * The build (scripts/build.mjs) bundles worker/worker-entry.ts first and defines
 * FLOWFILL_WORKER_SOURCE as its code, so the single ui.html carries the worker with it; the
 * worker's large files (ORT's .wasm, the model) are in the page as asset elements, after this script.
 */
import { postEmbeddedAssets } from '../worker/runtime/embedded-assets.js';
import { browserWorkerFactory, deferredEngine, diagnosticsInFreshWorker, startEngineWorkerAsync } from './engine/start-engine.js';
import { connectHost, figmaParentEndpoint } from './host-client.js';
import { createPanel, type Panel } from './panel.js';
import { markPanelStartup, markStartup, STARTUP_MARKS } from './startup-marks.js';
import { mountPanel } from './view/panel-view.js';

declare const FLOWFILL_WORKER_SOURCE: string | undefined;

function workerSource(): string {
  if (typeof FLOWFILL_WORKER_SOURCE !== 'string' || FLOWFILL_WORKER_SOURCE.length === 0) {
    throw new Error(
      '[internal] this ui.html was built without the engine worker (FLOWFILL_WORKER_SOURCE is not defined); run npm run build',
    );
  }
  return FLOWFILL_WORKER_SOURCE;
}

/**
 * Runs `post` once the asset elements are parsed. ui.html has the panel script before them
 * (scripts/build.mjs), so the panel paints while the browser still parses tens of MB of assets.
 */
function whenAssetsParsed(post: () => void): void {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', post, { once: true });
  else post();
}

function start(): void {
  // ORT's .wasm and the default model sit in the page (scripts/build.mjs); the worker gets them as
  // one message once they are parsed, and holds back the calls that need them until it arrives.
  const factory = { ...browserWorkerFactory, prepare: (worker: Worker) => whenAssetsParsed(() => void postEmbeddedAssets(worker)) };
  const started = (async () => {
    const { engine, via } = await startEngineWorkerAsync(workerSource(), factory);
    if (via === 'blob') console.info('[flowfill ui] engine worker started from a blob: URL (data: was refused); WebGPU may be unavailable');
    return engine;
  })();
  // Listen before the first call, so no answer is missed.
  const host = connectHost(figmaParentEndpoint());
  const api = deferredEngine(started);
  const panel = createPanel({
    host,
    engine: api,
    models: api,
    diagnostics: diagnosticsInFreshWorker(async () => (await startEngineWorkerAsync(workerSource(), factory)).engine),
    mode: 'embedded',
  });
  const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('div'));
  mountPanel(root, panel);
  markPanelStartup(panel);
  // Exposed for the browser tests and for debugging in the playground's console.
  (globalThis as { flowfillPanel?: Panel }).flowfillPanel = panel;
  panel.startAsync().catch((error: unknown) => console.error('[flowfill ui] start failed:', error));
}

markStartup(STARTUP_MARKS.script);
start();
