/**
 * The benchmark page's worker (dist/site/bench-worker.js, started by bench.html): the site's
 * onnxruntime files and built-in model, and one call, `runAsync`, that times the pipeline's stages
 * (worker/bench/stage-bench.ts, the same table as `npm run bench`). The page starts a fresh worker
 * for each benchmark, so "cold" is what a new plugin run pays: onnxruntime's .wasm compiled (or
 * taken from the browser's code cache) and every shader compiled on first use.
 */
import * as Comlink from 'comlink';
import * as ort from 'onnxruntime-web/webgpu';
import type { BenchReport, BenchRequest, BenchWorkerApi } from './bench/bench-types.js';
import { runStageBenchAsync } from './bench/stage-bench.js';
import { setEmbeddedModelProvider } from './engine/embedded-model.js';
import { EngineError } from './engine/engine-error.js';
import { useOrt } from './engine/ort-backend.js';
import { openPackageAsync } from './engine/package-source.js';
import { readSd3PackageFilesAsync } from './engine/sd3/read-sd3-package-files.js';
import { configureOrtForSite } from './runtime/configure-ort-site.js';
import { siteBuiltInModel } from './runtime/site-built-in-model.js';

declare const self: DedicatedWorkerGlobalScope;

configureOrtForSite(ort, self.location.href, self);
useOrt(ort);
setEmbeddedModelProvider(siteBuiltInModel(self.location.href).filesAsync);

const api: BenchWorkerApi = {
  async runAsync(request: BenchRequest): Promise<BenchReport> {
    if (request.backend === 'webgpu' && !('gpu' in self.navigator)) {
      throw new EngineError(
        'invalid-request',
        'this browser gives the worker no WebGPU (navigator.gpu); choose WASM, or a browser with WebGPU',
      );
    }
    const pkg = await readSd3PackageFilesAsync(await openPackageAsync({ kind: 'embedded' }));
    const modelReadMs = performance.now();
    const side = request.size ?? pkg.geometry.nativeSize;
    const started = performance.now();
    const result = await runStageBenchAsync(pkg, {
      backend: request.backend,
      width: side,
      height: side,
      steps: request.steps,
      guidance: request.guidance,
      images: request.images,
      runtimeOptions: { graphCapture: request.graphCapture ?? 'auto' },
    });
    let adapter: string | undefined;
    if (request.backend === 'webgpu') {
      // The default adapter, as onnxruntime requested it (its own object is not exposed by every build).
      const gpu = (
        self.navigator as {
          gpu?: { requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; description?: string } } | null> };
        }
      ).gpu;
      const info = (await gpu?.requestAdapter())?.info;
      if (info) adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ');
    }
    return {
      ...result,
      modelReadMs,
      workerStartToFirstPngMs: started + result.firstPngMs,
      workerTimeOrigin: performance.timeOrigin,
      wasmThreads: ort.env.wasm.numThreads ?? 1,
      crossOriginIsolated: self.crossOriginIsolated,
      userAgent: self.navigator.userAgent,
      ...(adapter ? { adapter } : {}),
    };
  },
};

Comlink.expose(api, self);
