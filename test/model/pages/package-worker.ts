/**
 * Test page worker: runs a model package (served by the rig under /rig/) through the engine on the
 * backend it is asked for, with the plugin's ORT build, and runs one graph directly on given inputs
 * (the package's transformer on the fixture's reference inputs). Used by test/model/package-webgpu.test.ts.
 */
import * as ort from 'onnxruntime-web/webgpu';
import type { Backend, GenerationRequest, StageTimings } from '../../../common/engine-types.js';
import { createEngine } from '../../../worker/engine/engine.js';
import { createSessionAsync, useOrt } from '../../../worker/engine/ort-backend.js';
import { configureOrtForEmbeddedWasm } from '../../../worker/runtime/configure-ort.js';

declare const self: DedicatedWorkerGlobalScope;

export interface PackageWorkerRequest {
  backend: Backend;
  /** Package folder URL, e.g. /rig/int8-tiny/package/. */
  baseUrl: string;
  requests: GenerationRequest[];
  /** One graph to run directly: its URL, and each float32 input's .bin URL and shape; returns the first output. */
  direct?: { graphUrl: string; inputs: Record<string, { url: string; dims: number[] }> };
}

export interface PackageWorkerAnswer {
  images?: { width: number; height: number; png: Uint8Array; backend: string; timings: StageTimings }[];
  /** The engine's loadModel (sessions created, WebGPU shaders not yet compiled), ms. */
  loadMs?: number;
  direct?: { dims: number[]; data: Float32Array };
  webgpuDevice?: boolean;
  elapsedMs?: number;
  error?: string;
}

async function fetchBytesAsync(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

self.onmessage = async (event: MessageEvent<PackageWorkerRequest>) => {
  const ask = event.data;
  try {
    const started = performance.now();
    configureOrtForEmbeddedWasm(ort, await fetchBytesAsync('/ort/ort-wasm-simd-threaded.asyncify.wasm'));
    useOrt(ort);
    const answer: PackageWorkerAnswer = { images: [] };
    // The direct session stays open until the engine is done: releasing the last session lets
    // onnxruntime drop the WebGPU device, after which this page cannot create another.
    let direct: Awaited<ReturnType<typeof createSessionAsync>> | undefined;
    if (ask.direct) {
      direct = await createSessionAsync({
        label: ask.direct.graphUrl,
        model: await fetchBytesAsync(ask.direct.graphUrl),
        backend: ask.backend,
      });
      const feeds: Record<string, { type: 'float32'; data: Float32Array; dims: number[] }> = {};
      for (const [name, input] of Object.entries(ask.direct.inputs)) {
        const bytes = await fetchBytesAsync(input.url);
        feeds[name] = { type: 'float32', data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), dims: input.dims };
      }
      const outputs = await direct.runAsync(feeds);
      const out = outputs[direct.outputNames[0]];
      answer.direct = { dims: out.dims, data: out.data as Float32Array };
    }
    if (ask.requests.length === 0) {
      await direct?.releaseAsync();
      answer.elapsedMs = performance.now() - started;
      self.postMessage(answer);
      return;
    }
    const engine = createEngine({ backend: ask.backend });
    const loadStarted = performance.now();
    await engine.loadModel({ kind: 'url', baseUrl: ask.baseUrl });
    answer.loadMs = performance.now() - loadStarted;
    for (const request of ask.requests) {
      const result = await engine.generate(request);
      answer.images!.push({
        width: result.width,
        height: result.height,
        png: result.png,
        backend: result.backend,
        timings: result.timings,
      });
    }
    const device = ask.backend === 'webgpu' ? await ort.env.webgpu.device : undefined;
    answer.webgpuDevice = device !== undefined && device !== null;
    await engine.dispose();
    await direct?.releaseAsync();
    answer.elapsedMs = performance.now() - started;
    self.postMessage(answer);
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
  }
};
