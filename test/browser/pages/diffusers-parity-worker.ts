/**
 * Test page worker: the diffusers-layout golden parity runner (worker/parity/run-diffusers-parity.ts)
 * in Chromium with the plugin's ORT build. Fixture files come from the rig server (/diffusers/):
 * small ones as bytes, checkpoint shards as Blobs, as a picked folder would give them.
 */
import * as ort from 'onnxruntime-web/webgpu';
import type { Backend } from '../../../common/engine-types.js';
import { useOrt } from '../../../worker/engine/ort-backend.js';
import { runDiffusersParityAsync } from '../../../worker/parity/run-diffusers-parity.js';
import { configureOrtForEmbeddedWasm } from '../../../worker/runtime/configure-ort.js';

declare const self: DedicatedWorkerGlobalScope;

async function fetchOk(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response;
}

self.onmessage = async (event: MessageEvent<{ backend: Backend }>) => {
  try {
    const started = performance.now();
    configureOrtForEmbeddedWasm(ort, new Uint8Array(await (await fetchOk('/ort/ort-wasm-simd-threaded.asyncify.wasm')).arrayBuffer()));
    useOrt(ort);
    const report = await runDiffusersParityAsync({
      readFile: async (rel) => new Uint8Array(await (await fetchOk(`/diffusers/${rel}`)).arrayBuffer()),
      openFile: async (rel) => (await fetchOk(`/diffusers/${rel}`)).blob(),
      backend: event.data.backend,
    });
    const device = event.data.backend === 'webgpu' ? await ort.env.webgpu.device : undefined;
    self.postMessage({ report, elapsedMs: performance.now() - started, webgpuDevice: device !== undefined && device !== null });
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
  }
};
