/**
 * The hosted app's entry (dist/site/app.html): the same panel as the plugin's ui.html, delivered
 * from a real origin, so its engine worker has the origin's private file system for the model
 * store. The worker is worker.js beside this page; onnxruntime's files and the built-in model come
 * from the site too.
 *
 * Where it runs:
 *   - in the Figma plugin's frame (the hosted plugin's ui.html sends the frame here): Figma is the
 *     parent, reached with postMessage as from the embedded panel;
 *   - in the playground's hosted mode: the playground plays Figma the same way;
 *   - opened on its own: a standalone host without a canvas (standalone-host.ts).
 * `?simulate-quota=<bytes>` is passed on to the worker (see worker/site-worker-entry.ts).
 */
import { deferredEngine, diagnosticsInFreshWorker, startEngineWorkerFromUrlAsync } from './engine/start-engine.js';
import { connectHost, figmaParentEndpoint } from './host-client.js';
import { createPanel, type Panel } from './panel.js';
import { standaloneHostEndpoint } from './standalone-host.js';
import { markPanelStartup, markStartup, STARTUP_MARKS } from './startup-marks.js';
import { mountPanel } from './view/panel-view.js';

function workerUrl(): string {
  const url = new URL('worker.js', location.href);
  const simulated = new URLSearchParams(location.search).get('simulate-quota');
  if (simulated) url.searchParams.set('simulate-quota', simulated);
  return url.href;
}

function start(): void {
  const api = deferredEngine(startEngineWorkerFromUrlAsync(workerUrl()));
  const framed = window.parent !== window;
  const host = connectHost(framed ? figmaParentEndpoint({ hosted: true }) : standaloneHostEndpoint());
  const panel = createPanel({
    host,
    engine: api,
    models: api,
    diagnostics: diagnosticsInFreshWorker(() => startEngineWorkerFromUrlAsync(workerUrl())),
    mode: 'hosted',
    requestPersistence: () => navigator.storage.persist(),
  });
  const root = document.getElementById('app') ?? document.body.appendChild(document.createElement('div'));
  mountPanel(root, panel);
  markPanelStartup(panel);
  (globalThis as { flowfillPanel?: Panel }).flowfillPanel = panel;
  panel.startAsync().catch((error: unknown) => console.error('[flowfill app] start failed:', error));
}

markStartup(STARTUP_MARKS.script);
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start, { once: true });
else start();
