/**
 * Worker of scripts/debug/capture-bisect.ts: which of the golden transformer's values does
 * onnxruntime-web compute differently under graph capture? The named intermediate values are
 * appended as outputs (computed copies) to the graph, which then runs in a regular session and in a
 * captured one (fixed dimensions, as the captured loop makes it) on the same random inputs, and
 * each value's largest difference is reported.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { readGraphSummary } from '../../worker/engine/graph-file.js';
import { appendOutputCopy } from '../../worker/engine/onnx/append-output-copy.js';
import {
  createDeviceTensorAsync,
  createSessionAsync,
  useOrt,
  writeDeviceTensorAsync,
  type DeviceTensor,
} from '../../worker/engine/ort-backend.js';
import { fixedDimensions } from '../../worker/engine/sd3/captured-loop.js';
import { configureOrtForEmbeddedWasm } from '../../worker/runtime/configure-ort.js';

declare const self: DedicatedWorkerGlobalScope;

async function bytes(url: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetch(url)).arrayBuffer());
}

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

self.onmessage = async (event: MessageEvent<{ names: string[]; replace?: boolean; rounds?: number }>) => {
  try {
    configureOrtForEmbeddedWasm(ort, await bytes('/ort/ort-wasm-simd-threaded.asyncify.wasm'));
    useOrt(ort);
    const original = await bytes('/fixtures/transformer/model.onnx');
    let copies = event.data.names.map((name, k) => ({ name, copy: `bisect_${k}` }));
    // replace: a copied graph output stops being one (so it may alias its producer's buffer).
    const withCopies = () =>
      copies.reduce(
        (model, { name, copy }) => appendOutputCopy(model, name, copy, { replace: event.data.replace && name === 'out_hidden_states' }),
        original,
      );
    let model = withCopies();
    const summary = readGraphSummary('transformer', model);
    const dims: Record<string, number[]> = {};
    for (const input of summary.inputs) {
      dims[input.name] = (input.shape ?? []).map((d) => (typeof d === 'number' ? d : d === 'batch' ? 2 : 8));
    }
    // Values that are int64 (shape arithmetic) cannot be copied as floats: drop each one onnxruntime names.
    let regular;
    for (;;) {
      try {
        regular = await createSessionAsync({ label: 'regular', model, backend: 'webgpu', outputsOnDevice: true });
        break;
      } catch (error) {
        const bad = /\(bisect_(\d+)\)/.exec(String(error instanceof Error ? error.message : error));
        if (!bad) throw error;
        copies = copies.filter(({ copy }) => copy !== `bisect_${bad[1]}`);
        model = withCopies();
      }
    }
    const feeds: Record<string, DeviceTensor> = {};
    for (const [k, [name, shape]] of Object.entries(dims).entries()) {
      const n = shape.reduce((a, b) => a * b, 1);
      const values = random(n, 7 + k);
      if (name === 'timestep') values.fill(500);
      feeds[name] = await createDeviceTensorAsync('webgpu', { data: values, dims: shape });
    }
    let expected = await regular.runOnDeviceAsync(feeds);
    const captured = await createSessionAsync({
      label: 'captured',
      model,
      backend: 'webgpu',
      graphCapture: true,
      fixedDimensions: fixedDimensions(summary, feeds, 'transformer'),
    });
    const fetches: Record<string, DeviceTensor> = {};
    for (const { copy } of copies) {
      const want = expected[copy];
      fetches[copy] = await createDeviceTensorAsync('webgpu', {
        data: new Float32Array(want.dims.reduce((a, b) => a * b, 1)),
        dims: want.dims,
      });
    }
    await captured.runOnDeviceAsync(feeds, fetches);
    // Then new values in the inputs that change from step to step, as the denoising loop writes them.
    for (let round = 1; round <= (event.data.rounds ?? 0); round++) {
      for (const [k, name] of ['hidden_states', 'timestep'].entries()) {
        const t = feeds[name];
        const n = t.dims.reduce((a, b) => a * b, 1);
        await writeDeviceTensorAsync(t, name === 'timestep' ? new Float32Array(n).fill(500 - 100 * round) : random(n, 100 * round + k));
      }
      for (const out of Object.values(expected)) out.dispose();
      expected = await regular.runOnDeviceAsync(feeds);
      await captured.runOnDeviceAsync(feeds, fetches);
    }
    const rows: string[] = [];
    for (const { name, copy } of copies) {
      const a = await fetches[copy].readAsync();
      const b = await expected[copy].readAsync();
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < a.length; i++) {
        diff = Math.max(diff, Math.abs(a[i] - b[i]) || (Number.isNaN(a[i] - b[i]) ? Infinity : 0));
        scale = Math.max(scale, Math.abs(b[i]));
      }
      rows.push(
        `${diff > 1e-4 * Math.max(1, scale) ? 'DIFF' : 'same'} ${diff.toExponential(2)} (scale ${scale.toExponential(2)}) [${expected[copy].dims.join(',')}] ${name}`,
      );
    }
    self.postMessage({ rows, names: copies.map(({ name }) => name) });
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) });
  }
};
