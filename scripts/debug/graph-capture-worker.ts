/**
 * Worker of scripts/debug/graph-capture-probe.ts: the Euler step graph (worker/engine/euler-step-graph.ts)
 * in a session with onnxruntime's graph capture, run four times on the same GPU buffers with a
 * new dt each time, each output checked against its exact value.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { eulerStepModelAsync } from '../../worker/engine/euler-step-graph.js';
import {
  copyDeviceTensorAsync,
  createDeviceTensorAsync,
  createSessionAsync,
  useOrt,
  writeDeviceTensorAsync,
} from '../../worker/engine/ort-backend.js';
import { configureOrtForEmbeddedWasm } from '../../worker/runtime/configure-ort.js';

declare const self: DedicatedWorkerGlobalScope;

self.onmessage = async () => {
  const runs: string[] = [];
  try {
    configureOrtForEmbeddedWasm(ort, new Uint8Array(await (await fetch('/ort/ort-wasm-simd-threaded.asyncify.wasm')).arrayBuffer()));
    useOrt(ort);
    const session = await createSessionAsync({
      label: 'Euler step graph (captured)',
      model: await eulerStepModelAsync('plain'),
      backend: 'webgpu',
      graphCapture: true,
    });
    const row = [1, 16, 4, 4];
    const filled = (value: number, dims: number[]) =>
      createDeviceTensorAsync('webgpu', { data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value), dims });
    const feeds = {
      noise_pred: await filled(1, row),
      sample: await filled(2, row),
      dt: await filled(0, [1]),
      sigma: await filled(0.25, [1]),
    };
    const fetches = { prev_sample: await filled(0, row), velocity: await filled(0, row), denoised: await filled(0, row) };
    for (let run = 1; run <= 4; run++) {
      const dt = 0.5 * run;
      await writeDeviceTensorAsync(feeds.dt, new Float32Array([dt]));
      await session.runOnDeviceAsync(feeds, fetches);
      const prev = (await fetches.prev_sample.readAsync())[0];
      runs.push(`run ${run}: prev_sample ${prev}, expected ${2 + dt}: ${prev === 2 + dt ? 'right' : 'WRONG'}`);
    }
    // A chain, as the denoising loop runs it: each run's prev_sample copied into sample on the GPU,
    // a new dt written before each run, nothing read back until the end.
    await writeDeviceTensorAsync(feeds.sample, new Float32Array(16 * 16).fill(2));
    let expected = 2;
    for (let run = 1; run <= 4; run++) {
      await writeDeviceTensorAsync(feeds.dt, new Float32Array([0.5 * run]));
      await session.runOnDeviceAsync(feeds, fetches);
      await copyDeviceTensorAsync(fetches.prev_sample, feeds.sample);
      expected += 0.5 * run;
    }
    const chained = (await feeds.sample.readAsync())[0];
    runs.push(`chain of 4 runs: sample ${chained}, expected ${expected}: ${chained === expected ? 'right' : 'WRONG'}`);
    self.postMessage({ runs });
  } catch (error) {
    self.postMessage({ runs, error: error instanceof Error ? error.message : String(error) });
  }
};
