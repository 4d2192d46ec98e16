/**
 * What a browser engine worker exposes over comlink (WorkerApi): the engine, the model store and
 * the diagnostics, put together the same way by both worker builds (worker-entry.ts: the
 * self-contained plugin; site-worker-entry.ts: the hosted app). `ready` gates the calls that need
 * onnxruntime's binary (and the built-in model) until the build's runtime has it.
 *
 * The store opens on its first use, not when the worker starts: the panel runs diagnostics in a
 * second, short-lived worker of the same build, which must not tidy the store (removing folders
 * the index does not name) while the first worker is writing one.
 */
import type { EngineApi, WorkerApi } from '../common/engine-types.js';
import { runDiagnosticsAsync, type DiagnosticsContext } from './diagnostics/run-diagnostics.js';
import { setStoredPackageOpener } from './engine/package-source.js';
import { ModelStore, type ModelStoreDeps } from './store/model-store.js';

export interface WorkerApiOptions {
  engine: EngineApi;
  /** Resolves once onnxruntime (and the built-in model, when there is one) can be used. */
  ready(): Promise<void>;
  ortEnv: DiagnosticsContext['ortEnv'];
  ortBuild: string;
  store?: Pick<ModelStoreDeps, 'builtInBytesAsync' | 'simulatedQuotaBytes'>;
}

export function createWorkerApi(options: WorkerApiOptions): WorkerApi {
  const { engine, ready } = options;
  let opened: Promise<ModelStore> | undefined;
  const storeAsync = () =>
    (opened ??= ModelStore.openAsync({
      ...options.store,
      loadModelAsync: async (source, onProgress) => {
        await ready();
        return engine.loadModel(source, onProgress);
      },
      async loadTargetAsync() {
        const capabilities = await engine.capabilities();
        return { backend: capabilities.backend, shaderF16: capabilities.shaderF16, precision: 'auto' };
      },
    }));
  setStoredPackageOpener(async (id) => (await storeAsync()).openPackageAsync(id));

  return {
    capabilities: () => engine.capabilities(),
    loadModel: async (source, onProgress) => {
      await ready();
      return engine.loadModel(source, onProgress);
    },
    generate: async (request, onProgress) => {
      await ready();
      return engine.generate(request, onProgress);
    },
    cancel: (jobId) => engine.cancel(jobId),
    checkPrompt: async (prompt) => {
      if (!engine.checkPrompt) return { unknownWords: [], truncated: false };
      return engine.checkPrompt(prompt);
    },
    setBackendPreference: async (preference) => {
      await engine.setBackendPreference?.(preference);
    },
    storeStatus: async () => (await storeAsync()).storeStatus(),
    installModel: async (installId, source, installOptions, onProgress) =>
      (await storeAsync()).installModel(installId, source, installOptions, onProgress),
    cancelInstall: async (installId) => (await storeAsync()).cancelInstall(installId),
    removeModel: async (idOrUrl) => (await storeAsync()).removeModel(idOrUrl),
    setCurrentModel: async (id) => (await storeAsync()).setCurrentModel(id),
    diagnostics: async () => {
      await ready();
      return runDiagnosticsAsync({ capabilities: () => engine.capabilities(), ortEnv: options.ortEnv, ortBuild: options.ortBuild });
    },
  };
}
