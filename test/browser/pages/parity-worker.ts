/**
 * Test page worker: runs the golden parity runner (worker/parity/run-parity.ts) in Chromium with
 * the same ORT build and settings as the plugin's worker. It fetches ORT's .wasm and the fixture
 * files from the rig server (/ort/, /fixtures/) instead of receiving embedded assets.
 */
import * as ort from 'onnxruntime-web/webgpu';
import type { Backend } from '../../../common/engine-types.js';
import type { RuntimeOptions } from '../../../worker/engine/model-family.js';
import { useOrt } from '../../../worker/engine/ort-backend.js';
import { runParityAsync } from '../../../worker/parity/run-parity.js';
import { configureOrtForEmbeddedWasm } from '../../../worker/runtime/configure-ort.js';

declare const self: DedicatedWorkerGlobalScope;

async function fetchBytesAsync(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

self.onmessage = async (event: MessageEvent<{ backend: Backend; runtime?: RuntimeOptions }>) => {
  try {
    const started = performance.now();
    configureOrtForEmbeddedWasm(ort, await fetchBytesAsync('/ort/ort-wasm-simd-threaded.asyncify.wasm'));
    useOrt(ort);
    const report = await runParityAsync({
      readFile: (rel) => fetchBytesAsync(`/fixtures/${rel}`),
      backend: event.data.backend,
      runtime: event.data.runtime,
    });
    // Proof the sessions ran on a WebGPU device, not a silent CPU fallback.
    const device = event.data.backend === 'webgpu' ? await ort.env.webgpu.device : undefined;
    self.postMessage({ report, elapsedMs: performance.now() - started, webgpuDevice: device !== undefined && device !== null });
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
  }
};
