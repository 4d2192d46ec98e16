/**
 * Test page script: starts the real engine worker (worker/worker-entry.ts, bundled by the rig as
 * /rig/engine-worker.js), hands it the assets of the rig's ui.html with the engine settings a
 * panel may pass, and drives it over comlink as the panel does.
 */
import * as Comlink from 'comlink';
import type { Capabilities, EngineApi, GenerationResult, ModelInfo } from '../../../common/engine-types.js';
import { postEmbeddedAssets, type WorkerEngineOptions } from '../../../worker/runtime/embedded-assets.js';

export interface EngineWorkerAnswer {
  capabilities?: Capabilities;
  info?: ModelInfo;
  result?: Omit<GenerationResult, 'png'> & { pngBytes: number[] };
  error?: string;
}

async function runEngineWorkerAsync(settings: WorkerEngineOptions | undefined, generate: boolean): Promise<EngineWorkerAnswer> {
  const worker = new Worker('/rig/engine-worker.js');
  try {
    const html = await (await fetch('/dist/ui.html')).text();
    const assetsPage = new DOMParser().parseFromString(html, 'text/html');
    postEmbeddedAssets(worker, assetsPage, settings);
    const engine = Comlink.wrap<EngineApi>(worker);
    const capabilities = await engine.capabilities();
    const info = await engine.loadModel({ kind: 'embedded' });
    if (!generate) return { capabilities, info };
    const { png, ...rest } = await engine.generate({ jobId: 'w', prompt: '', width: 64, height: 64, steps: 1, guidance: 1, seed: 5 });
    return { capabilities, info, result: { ...rest, pngBytes: Array.from(png) } };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  } finally {
    worker.terminate();
  }
}

(globalThis as { runEngineWorkerAsync?: typeof runEngineWorkerAsync }).runEngineWorkerAsync = runEngineWorkerAsync;
