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
import { EngineError } from './engine/engine-error.js';
import { useOrt } from './engine/ort-backend.js';
import { configureOrtForSite } from './runtime/configure-ort-site.js';
import { createWorkerApi } from './worker-api.js';

declare const self: DedicatedWorkerGlobalScope;

/** The built-in model's file list, written by the build next to the model's files. */
const BUILT_IN_LIST = 'model/files.json';

configureOrtForSite(ort, self.location.href, self);
useOrt(ort);

const builtInList: Promise<{ path: string; size: number }[] | undefined> = fetch(new URL(BUILT_IN_LIST, self.location.href))
  .then(async (response) => (response.ok ? ((await response.json()) as { files: { path: string; size: number }[] }).files : undefined))
  .catch(() => undefined);

setEmbeddedModelProvider(async () => {
  const list = await builtInList;
  if (!list) throw new EngineError('model-missing-file', `this site has no built-in model (${BUILT_IN_LIST} is missing); add a model from a folder or a URL`);
  const files: Record<string, Uint8Array> = {};
  await Promise.all(
    list.map(async ({ path, size }) => {
      const url = new URL(`model/${path}`, self.location.href);
      const response = await fetch(url);
      if (!response.ok) throw new EngineError('model-missing-file', `the built-in model's ${path} answered HTTP ${response.status} at ${url}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (bytes.byteLength !== size) throw new EngineError('model-corrupt', `the built-in model's ${path} has ${bytes.byteLength} bytes; ${BUILT_IN_LIST} says ${size}`);
      files[path] = bytes;
    }),
  );
  return files;
});

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
