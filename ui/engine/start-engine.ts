/**
 * Starts the engine worker inside the plugin iframe. The worker's code is bundled into the UI as
 * a string (the iframe is one HTML document with a null origin, so there is no URL to load it
 * from). scripts/build.mjs measured, in Chromium inside a sandboxed srcdoc iframe: a data: URL
 * worker is a secure context (it has navigator.gpu); a blob:null/… worker starts but is not (WASM
 * only). Some Figma builds are reported to refuse blob: workers outright (vite#12002). So data:
 * comes first and blob: is the fallback, which still runs the engine on WASM.
 *
 * A worker that fails to load reports it only asynchronously (an `error` event), so each way is
 * confirmed with a first call (capabilities) before the engine is handed out.
 */
import type { DiagnosticsApi, WorkerApi } from '../../common/engine-types.js';
import { createEngineClient, type EngineClient } from './engine-client.js';

export type WorkerUrlKind = 'blob' | 'data';

export interface StartedEngine {
  engine: EngineClient;
  /** Which URL kind started the worker ('blob' means no WebGPU in Chromium: not a secure context). */
  via: WorkerUrlKind;
}

export interface WorkerFactory {
  /** Called on each new worker before any comlink call (the build's asset hand-off goes here). */
  prepare?(worker: Worker): void;
  createObjectUrl(source: string): string;
  createDataUrl(source: string): string;
  createWorker(url: string): Worker;
}

export const browserWorkerFactory: WorkerFactory = {
  createObjectUrl: (source) => URL.createObjectURL(new Blob([source], { type: 'text/javascript' })),
  // encodeURIComponent is safe for any source text, unlike btoa (Latin-1 only).
  createDataUrl: (source) => `data:text/javascript;charset=utf-8,${encodeURIComponent(source)}`,
  createWorker: (url) => new Worker(url),
};

/** Resolves with the first call's result, or rejects on the worker's load error, whichever comes first. */
function confirmStarted(worker: Worker, engine: EngineClient, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      worker.removeEventListener('error', onError);
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    const onError = (event: Event) => {
      const detail = (event as Partial<ErrorEvent>).message;
      const message = typeof detail === 'string' && detail ? detail : 'the worker script could not be loaded';
      settle(new Error(message));
    };
    // A host that silently never runs the script would otherwise leave the panel waiting forever.
    const timer = setTimeout(() => settle(new Error(`no answer from the worker within ${timeoutMs / 1000} s`)), timeoutMs);
    worker.addEventListener('error', onError);
    engine.capabilities().then(
      () => settle(),
      (error: unknown) => settle(error instanceof Error ? error : new Error(String(error))),
    );
  });
}

/** Starts the worker from its source, data: first, then blob:. Rejects with both reasons when neither works. */
export async function startEngineWorkerAsync(
  source: string,
  factory: WorkerFactory = browserWorkerFactory,
  confirmTimeoutMs = 30_000,
): Promise<StartedEngine> {
  const problems: string[] = [];
  for (const via of ['data', 'blob'] as const) {
    let worker: Worker | undefined;
    try {
      const url = via === 'blob' ? factory.createObjectUrl(source) : factory.createDataUrl(source);
      worker = factory.createWorker(url);
      factory.prepare?.(worker);
      const engine = createEngineClient(worker);
      await confirmStarted(worker, engine, confirmTimeoutMs);
      return { engine, via };
    } catch (error) {
      worker?.terminate();
      problems.push(`${via}: URL worker failed (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  throw new Error(`[internal] The engine worker could not start. ${problems.join('; ')}`);
}

/**
 * The worker's API usable at once while the real one is still starting: each call waits for it.
 * A start failure surfaces as the rejection of the first call (the panel shows it as a load error).
 */
export function deferredEngine(started: Promise<WorkerApi>): WorkerApi {
  return {
    capabilities: async () => (await started).capabilities(),
    loadModel: async (source, onProgress) => (await started).loadModel(source, onProgress),
    generate: async (request, onProgress) => (await started).generate(request, onProgress),
    cancel: async (jobId) => (await started).cancel(jobId),
    checkPrompt: async (prompt) => (await started).checkPrompt(prompt),
    setBackendPreference: async (preference) => (await started).setBackendPreference(preference),
    storeStatus: async () => (await started).storeStatus(),
    installModel: async (installId, source, options, onProgress) => (await started).installModel(installId, source, options, onProgress),
    cancelInstall: async (installId) => (await started).cancelInstall(installId),
    removeModel: async (idOrUrl) => (await started).removeModel(idOrUrl),
    setCurrentModel: async (id) => (await started).setCurrentModel(id),
    diagnostics: async () => (await started).diagnostics(),
  };
}

/**
 * Starts the worker from its URL (the hosted app: worker.js on the site) and confirms it answers,
 * as startEngineWorkerAsync does for a worker built into the page.
 */
export async function startEngineWorkerFromUrlAsync(url: string, confirmTimeoutMs = 30_000): Promise<EngineClient> {
  const worker = new Worker(url);
  const engine = createEngineClient(worker);
  try {
    await confirmStarted(worker, engine, confirmTimeoutMs);
  } catch (error) {
    worker.terminate();
    throw new Error(`[internal] The engine worker ${url} could not start: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  return engine;
}

/**
 * Diagnostics run in a second worker of the same build, started for them and ended after: it has
 * its own onnxruntime and GPU device, so the self-test times first shader compiles as a fresh
 * start has them, and cannot disturb the engine's sessions. (Measured in Chromium 156: after the
 * self-test's WebGPU sessions were released in the engine's own worker, the engine found its device
 * lost and ran the next job on WASM.)
 */
export function diagnosticsInFreshWorker(startWorker: () => Promise<EngineClient>): DiagnosticsApi {
  return {
    async diagnostics() {
      const worker = await startWorker();
      try {
        return await worker.diagnostics();
      } finally {
        worker.terminate();
      }
    },
  };
}
