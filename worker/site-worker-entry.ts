/**
 * The engine worker of the hosted app (dist/site/worker.js, started by URL from app.html). Same
 * engine and API as the plugin's worker (worker-entry.ts), with the site's runtime: onnxruntime's
 * files and the built-in model are fetched from the site, WASM uses threads when the page is
 * cross-origin isolated, and the model store keeps models in the origin's OPFS.
 *
 * `?simulate-quota=<bytes>` on the worker's URL (passed on from app.html's own URL) makes the
 * store's space check use that quota instead of the browser's: tests and demonstrations of the
 * "not enough space" path; the browser's real quota still applies to every write.
 */
import * as Comlink from 'comlink';
import * as ort from 'onnxruntime-web/webgpu';
import { setEmbeddedModelProvider } from './engine/embedded-model.js';
import { createEngine } from './engine/engine.js';
import { useOrt } from './engine/ort-backend.js';
import { configureOrtForSite } from './runtime/configure-ort-site.js';
import { siteBuiltInModel } from './runtime/site-built-in-model.js';
import { createWorkerApi } from './worker-api.js';

declare const self: DedicatedWorkerGlobalScope;

configureOrtForSite(ort, self.location.href, self);
useOrt(ort);

const builtIn = siteBuiltInModel(self.location.href);
const builtInList = builtIn.list;
setEmbeddedModelProvider(builtIn.filesAsync);

const simulated = Number(new URLSearchParams(self.location.search).get('simulate-quota'));

const api = createWorkerApi({
  engine: createEngine(),
  ready: async () => {},
  ortEnv: ort.env,
  ortBuild: 'onnxruntime-web/webgpu (native WebGPU EP, asyncify .wasm), loaded from the site',
  store: {
    builtInBytesAsync: async () => (await builtInList)?.reduce((sum, file) => sum + file.size, 0),
    ...(Number.isSafeInteger(simulated) && simulated > 0 ? { simulatedQuotaBytes: simulated } : {}),
  },
});

Comlink.expose(api, self);
