/**
 * The engine worker of the browser build (bundled by scripts/build.mjs into dist/ui.html as a
 * string, started by the panel from a data: URL). It exposes the engine (EngineApi) with comlink.
 *
 * onnxruntime-web here is the `onnxruntime-web/webgpu` build: the native C++ WebGPU execution
 * provider compiled to WebAssembly (plus the WASM CPU provider for the fallback). The build
 * aliases plain `onnxruntime-web` to it, so one ORT lives in the bundle; the header of
 * scripts/build.mjs gives the measurements that chose it over the JSEP build.
 *
 * ORT's .wasm and the default model arrive from the panel in one message once its page has
 * parsed them (see runtime/embedded-assets.ts), with the panel's engine settings (e.g. backend
 * 'webgpu' to use a software adapter); loadModel and generate wait for the assets, capabilities
 * does not.
 * Besides the engine it exposes the model store (worker-api.ts): in Figma's null-origin frame
 * there is no storage, so models added there last for the session.
 */
import * as Comlink from 'comlink';
import * as ort from 'onnxruntime-web/webgpu';
import { setEmbeddedModelProvider } from './engine/embedded-model.js';
import { createEngine } from './engine/engine.js';
import { EngineError } from './engine/engine-error.js';
import { useOrt } from './engine/ort-backend.js';
import { configureOrtForEmbeddedWasm } from './runtime/configure-ort.js';
import { MODEL_ASSET_PREFIX, ORT_WASM_ASSET } from './runtime/embedded-assets.js';
import { receiveEmbeddedAssetsAsync } from './runtime/receive-embedded-assets.js';
import { warmUpOrtAsync } from './runtime/warm-up-ort.js';
import { createWorkerApi } from './worker-api.js';

declare const self: DedicatedWorkerGlobalScope;

useOrt(ort);
const engine = createEngine();

let settingsError: unknown;
let builtInBytes: number | undefined;
let markArrived: () => void;
const assetsArrived = new Promise<void>((resolve) => (markArrived = resolve));
let ortWarmedUp: Promise<void> | undefined;
const assetsInstalled = receiveEmbeddedAssetsAsync(
  self,
  (settings) => {
    markArrived();
    try {
      if (settings.backend !== undefined) engine.setBackendPreference(settings.backend);
    } catch (error) {
      settingsError = error;
    }
  },
  (path, bytes) => {
    if (path !== ORT_WASM_ASSET) return;
    configureOrtForEmbeddedWasm(ort, bytes);
    ortWarmedUp = warmUpOrtAsync(ort);
    // Awaited below, before any session; a failure is reported there, by the first call that needs ORT.
    ortWarmedUp.catch(() => {});
  },
).then(async (assets) => {
  if (settingsError) throw settingsError;
  // Set as ORT's .wasm was decoded (above): unset means the panel's assets lacked it.
  if (!ortWarmedUp) throw new EngineError('internal', `the panel's assets lack "${ORT_WASM_ASSET}"; rebuild with npm run build`);
  // ORT refuses a second initialisation while one runs: sessions start after the warm-up.
  await ortWarmedUp;
  const modelFiles: Record<string, Uint8Array> = {};
  for (const [path, bytes] of assets) if (path.startsWith(MODEL_ASSET_PREFIX)) modelFiles[path.slice(MODEL_ASSET_PREFIX.length)] = bytes;
  if (Object.keys(modelFiles).length > 0) {
    builtInBytes = Object.values(modelFiles).reduce((sum, bytes) => sum + bytes.byteLength, 0);
    setEmbeddedModelProvider(async () => modelFiles);
  }
});
// Reported by the first call that needs the assets; kept from being an unhandled rejection here.
assetsInstalled.catch(() => {});

/**
 * How long a call that needs ORT's binary waits for the panel's asset message. The panel posts it
 * once the page's asset elements are parsed (ui/main.ts), after its first calls; a panel that never
 * posts it is a build or start-up defect, said in the error.
 */
const ASSET_WAIT_MS = 120_000;

/** Waits for ORT's binary (and the embedded model). */
async function assetsReadyAsync(): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new EngineError(
            'internal',
            `the panel did not hand the worker its embedded assets (onnxruntime .wasm, model) within ${ASSET_WAIT_MS / 1000} s; start it with postEmbeddedAssets`,
          ),
        ),
      ASSET_WAIT_MS,
    );
  });
  try {
    await Promise.race([assetsArrived, late]);
  } finally {
    clearTimeout(timer);
  }
  await assetsInstalled;
}

const api = createWorkerApi({
  engine,
  ready: assetsReadyAsync,
  ortEnv: ort.env,
  ortBuild: 'onnxruntime-web/webgpu (native WebGPU EP, asyncify .wasm), embedded in ui.html',
  store: {
    builtInBytesAsync: async () => {
      await assetsInstalled.catch(() => undefined);
      return builtInBytes;
    },
  },
});

Comlink.expose(api, self);
