/**
 * Debug page worker for scripts/debug/webgpu-bisect.ts: runs one graph (every intermediate exposed
 * as an output) on WASM and on WebGPU in the same browser and reports, per output, how far the two
 * backends are apart.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { configureOrtForEmbeddedWasm } from '../../../worker/runtime/configure-ort.js';

declare const self: DedicatedWorkerGlobalScope;

interface Job {
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  feeds: Record<string, { type: 'float32' | 'int64'; dims: number[]; file: string }>;
  externalData: string[];
}

async function bytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function runOn(backend: 'wasm' | 'webgpu', model: Uint8Array, externalData: { path: string; data: Uint8Array }[], job: Job) {
  const session = await ort.InferenceSession.create(model, {
    executionProviders: [backend],
    externalData,
    graphOptimizationLevel: job.optimization ?? 'all',
    logSeverityLevel: 3,
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, feed] of Object.entries(job.feeds)) {
    const raw = (await bytes(`/rig/bisect/${feed.file}`)).slice();
    feeds[name] =
      feed.type === 'int64'
        ? new ort.Tensor('int64', new BigInt64Array(raw.buffer), feed.dims)
        : new ort.Tensor('float32', new Float32Array(raw.buffer), feed.dims);
  }
  const results = await session.run(feeds);
  const out: Record<string, { data: Float32Array | BigInt64Array | Int32Array | Uint8Array; dims: readonly number[]; type: string }> = {};
  for (const [name, value] of Object.entries(results))
    out[name] = { data: (await value.getData()) as Float32Array, dims: value.dims, type: value.type };
  await session.release();
  return { order: session.outputNames, out };
}

self.onmessage = async (event: MessageEvent<Job>) => {
  try {
    configureOrtForEmbeddedWasm(ort, await bytes('/ort/ort-wasm-simd-threaded.asyncify.wasm'));
    const job = event.data;
    const model = await bytes('/rig/bisect/model.onnx');
    const externalData = await Promise.all(job.externalData.map(async (path) => ({ path, data: await bytes(`/rig/bisect/${path}`) })));
    const wasm = await runOn('wasm', model, externalData, job);
    const webgpu = await runOn('webgpu', model, externalData, job);
    const rows = wasm.order.map((name) => {
      const a = wasm.out[name];
      const b = webgpu.out[name];
      if (!b) return { name, error: 'missing on webgpu' };
      if (a.data.length !== b.data.length)
        return { name, error: `lengths ${a.data.length} vs ${b.data.length}`, dims: [...a.dims], gpuDims: [...b.dims] };
      let maxDiff = 0;
      let maxRef = 0;
      for (let i = 0; i < a.data.length; i++) {
        const x = Number(a.data[i]);
        const y = Number(b.data[i]);
        const d = Math.abs(x - y);
        if (!(d <= maxDiff)) maxDiff = Number.isNaN(d) ? Infinity : d;
        maxRef = Math.max(maxRef, Math.abs(x));
      }
      return { name, type: a.type, dims: [...a.dims], maxDiff, maxRef };
    });
    self.postMessage({ rows });
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
  }
};
