/**
 * The panel's side of the engine: wraps a Worker that exposes EngineApi with comlink and gives
 * back a plain EngineApi, so the rest of the UI (and its tests) never see comlink.
 *
 * Callbacks cross the worker boundary as comlink proxies (functions cannot be structured-cloned),
 * and init pixels are transferred rather than copied (comlink v4 copies unless told to transfer).
 */
import * as Comlink from 'comlink';
import type { EngineApi, GenerationProgress, GenerationRequest, LoadProgress, ModelSource } from '../../common/engine-types.js';

export interface EngineClient extends EngineApi {
  /** Ends the worker; the client is unusable afterwards. */
  terminate(): void;
}

export function createEngineClient(worker: Worker): EngineClient {
  const remote = Comlink.wrap<EngineApi>(worker);
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
    terminate: () => {
      remote[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
