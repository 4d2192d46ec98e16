/**
 * onnxruntime-web settings for the plugin's worker, where ORT must not touch the network.
 */
import type { OrtModule } from '../engine/ort-backend.js';

export function configureOrtForEmbeddedWasm(ort: OrtModule, wasmBinary: Uint8Array): void {
  // With the binary given, ORT instantiates it directly instead of fetching the .wasm beside its
  // script (a data: URL worker has no "beside"); the bundle build already inlines the .mjs glue.
  ort.env.wasm.wasmBinary = wasmBinary;
  // Threads need SharedArrayBuffer, i.e. a cross-origin-isolated page; Figma's null-origin iframe
  // is not one, and ORT would only warn and fall back to one thread.
  ort.env.wasm.numThreads = 1;
  // The proxy worker cannot carry WebGPU buffers (ORT docs); we already run inside a worker.
  ort.env.wasm.proxy = false;
  // Node-placement warnings ("Some nodes were not assigned to the preferred execution providers")
  // are expected for shape ops and would flood the console on every session.
  ort.env.logLevel = 'error';
}
