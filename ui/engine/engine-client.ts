/**
 * The panel's side of the engine: wraps a Worker that exposes EngineApi with comlink and gives
 * back a plain EngineApi, so the rest of the UI (and its tests) never see comlink.
 *
 * Callbacks cross the worker boundary as comlink proxies (functions cannot be structured-cloned),
 * and init pixels are transferred rather than copied (comlink v4 copies unless told to transfer).
 */
import * as Comlink from 'comlink';
import type {
  GenerationProgress,
  GenerationRequest,
  InstallProgress,
  LoadProgress,
  ModelSource,
  WorkerApi,
} from '../../common/engine-types.js';

/** The worker's API (engine, model store, diagnostics) as plain async functions. */
export interface EngineClient extends WorkerApi {
  /** Ends the worker; the client is unusable afterwards. */
  terminate(): void;
}

export function createEngineClient(worker: Worker): EngineClient {
  const remote = Comlink.wrap<WorkerApi>(worker);
  return {
    capabilities: () => remote.capabilities(),
    loadModel: (source: ModelSource, onProgress?: (p: LoadProgress) => void) =>
      remote.loadModel(source, onProgress ? Comlink.proxy(onProgress) : undefined),
    generate: (request: GenerationRequest, onProgress?: (p: GenerationProgress) => void) => {
      const callback = onProgress ? Comlink.proxy(onProgress) : undefined;
      // The init pixels are made for this one request, so handing their buffer over is safe.
      const transferable = request.init ? Comlink.transfer(request, [request.init.rgba.buffer]) : request;
      return remote.generate(transferable, callback);
    },
    cancel: (jobId: string) => remote.cancel(jobId),
    checkPrompt: (prompt: string) => remote.checkPrompt(prompt),
    setBackendPreference: (preference) => remote.setBackendPreference(preference),
    storeStatus: () => remote.storeStatus(),
    // Picked files travel as File objects: structured-cloned as references to the same files, not copied.
    installModel: (installId, source, options, onProgress?: (p: InstallProgress) => void) =>
      remote.installModel(installId, source, options, onProgress ? Comlink.proxy(onProgress) : undefined),
    cancelInstall: (installId) => remote.cancelInstall(installId),
    removeModel: (idOrUrl) => remote.removeModel(idOrUrl),
    setCurrentModel: (id) => remote.setCurrentModel(id),
    diagnostics: () => remote.diagnostics(),
    terminate: () => {
      remote[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
