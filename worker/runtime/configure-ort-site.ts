/**
 * onnxruntime-web settings for the hosted app's worker, which runs on a real origin: ORT loads its
 * WebAssembly glue (.mjs) and binary (.wasm) from the site (ort/ beside worker.js) instead of from
 * the page, and uses threads when the page is cross-origin isolated (COOP/COEP), the only case in
 * which browsers give it SharedArrayBuffer. (Checked in Chromium 156: with 2 threads under
 * isolation, the built-in model generates on WebGPU and the self-tests pass on both backends.)
 */
import type { OrtModule } from '../engine/ort-backend.js';

/** The files the site ships for ORT, relative to the worker's URL (scripts/build.mjs copies them). */
export const SITE_ORT_FILES = { mjs: 'ort/ort-wasm-simd-threaded.asyncify.mjs', wasm: 'ort/ort-wasm-simd-threaded.asyncify.wasm' } as const;

/** Threads for ORT's WASM backend: up to 4 (its own default cap); 1 without cross-origin isolation. */
export function siteWasmThreads(crossOriginIsolated: boolean, hardwareConcurrency: number | undefined): number {
  if (!crossOriginIsolated) return 1;
  return Math.max(2, Math.min(4, hardwareConcurrency ?? 2));
}

export function configureOrtForSite(
  ort: OrtModule,
  workerUrl: string,
  scope: { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } },
): void {
  // With explicit paths the bundle imports this .mjs instead of its embedded copy: the glue must
  // have a URL of its own, because its pthread workers are started from it.
  ort.env.wasm.wasmPaths = { mjs: new URL(SITE_ORT_FILES.mjs, workerUrl).href, wasm: new URL(SITE_ORT_FILES.wasm, workerUrl).href };
  ort.env.wasm.numThreads = siteWasmThreads(scope.crossOriginIsolated === true, scope.navigator?.hardwareConcurrency);
  // The proxy worker cannot carry WebGPU buffers (ORT docs); we already run inside a worker.
  ort.env.wasm.proxy = false;
  ort.env.logLevel = 'error';
}
