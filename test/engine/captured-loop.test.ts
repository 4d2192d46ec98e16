/**
 * The captured denoising loop's bookkeeping, on WASM tensors with stand-in sessions (graph capture
 * itself needs WebGPU: test/browser/golden-parity.test.ts runs the real thing against diffusers):
 * - the replay check passes a faithful replay and names the graph when a replay is off or NaN;
 * - one captured step leaves the next step's inputs where the next replay reads them;
 * - when RuntimeOptions.graphCapture captures, and what 'auto' decides;
 * - the computed output copy a captured transformer writes its output through.
 */
import { eulerStepModelAsync } from '../../worker/engine/euler-step-graph.js';
import {
  createDeviceTensorAsync,
  createSessionAsync,
  writeDeviceTensorAsync,
  type BackendSession,
  type DeviceTensor,
  type HostTensor,
} from '../../worker/engine/ort-backend.js';
import { readGraphSummary } from '../../worker/engine/graph-file.js';
import { appendOutputCopy } from '../../worker/engine/onnx/append-output-copy.js';
import {
  fixedDimensions,
  runCapturedStepAsync,
  verifyReplayAsync,
  type CapturedLoop,
  type LoopShape,
} from '../../worker/engine/sd3/captured-loop.js';
import { wantsCapture } from '../../worker/engine/sd3/denoise-latents.js';
import { CAPTURE_AUTO_MAX_TRANSFORMER_BYTES, resolveGraphCapture } from '../../worker/engine/sd3/runtime.js';
import type { GraphFile } from '../../worker/engine/graph-file.js';

const shape: LoopShape = { mode: 'cfg-batch', channels: 2, height: 3, width: 2, sequenceLength: 4, jointDim: 5, pooledDim: 3 };
const ROW = shape.channels * shape.height * shape.width;

function ramp(n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, (_, k) => scale * (((k * 7) % 11) - 5));
}

async function tensor(data: Float32Array, dims: number[]): Promise<DeviceTensor> {
  return createDeviceTensorAsync('wasm', { data, dims });
}

/** hidden · 0.5 + timestep / 1000 (a transformer stand-in: depends on both inputs a replay must read). */
async function fakeTransformerOutputAsync(feeds: Record<string, HostTensor | DeviceTensor>): Promise<Float32Array> {
  const hidden = await (feeds.hidden_states as DeviceTensor).readAsync();
  const t = (await (feeds.timestep as DeviceTensor).readAsync())[0];
  return hidden.map((v) => v * 0.5 + t / 1000);
}

function regularTransformer(): BackendSession {
  return {
    backend: 'wasm',
    inputNames: [],
    outputNames: ['out_hidden_states'],
    runAsync: () => Promise.reject(new Error('unused')),
    runOnDeviceAsync: async (feeds) => ({
      out_hidden_states: await tensor(await fakeTransformerOutputAsync(feeds), [2, shape.channels, shape.height, shape.width]),
    }),
    releaseAsync: async () => {},
  };
}

/**
 * A "captured" session: runs `inner` and writes its outputs into the fetched tensors, optionally
 * spoiled, or (from run `writesUntil` on) not at all, as a replay that skips an output's copy would.
 */
function capturedOf(inner: BackendSession, spoil?: (name: string, values: Float32Array) => void, writesUntil = Infinity): BackendSession {
  let runs = 0;
  return {
    ...inner,
    runOnDeviceAsync: async (feeds, fetches) => {
      if (runs++ >= writesUntil) return fetches ?? {};
      const out = await inner.runOnDeviceAsync(feeds);
      for (const [name, target] of Object.entries(fetches ?? {})) {
        // A captured graph's outputs are fetched as computed copies named <output>_replayed.
        const output = name.replace(/_replayed$/, '');
        const values = (await out[output].readAsync()).slice();
        spoil?.(output, values);
        await writeDeviceTensorAsync(target, values);
      }
      for (const t of Object.values(out)) t.dispose();
      return fetches ?? {};
    },
  };
}

let stepper: BackendSession;
beforeAll(async () => {
  stepper = await createSessionAsync({
    label: 'step',
    model: await eulerStepModelAsync('cfg-batch'),
    backend: 'wasm',
    outputsOnDevice: true,
  });
});
afterAll(async () => {
  await stepper.releaseAsync();
});

async function loopWith(transformer: BackendSession, step: BackendSession): Promise<CapturedLoop> {
  const latents = ramp(ROW, 0.25);
  const both = new Float32Array(2 * ROW);
  both.set(latents);
  both.set(latents, ROW);
  const dims = [1, shape.channels, shape.height, shape.width];
  return {
    shape,
    transformer,
    stepper: step,
    tensors: {
      sample: await tensor(latents, dims),
      hidden: await tensor(both, [2, ...dims.slice(1)]),
      timestep: await tensor(new Float32Array(2), [2]),
      embeds: await tensor(new Float32Array(2 * 4 * 5), [2, 4, 5]),
      pooled: await tensor(new Float32Array(2 * 3), [2, 3]),
      noisePred: await tensor(new Float32Array(2 * ROW), [2, ...dims.slice(1)]),
      dt: await tensor(new Float32Array(1), [1]),
      sigma: await tensor(new Float32Array(1), [1]),
      guidance: await tensor(new Float32Array([4]), [1]),
      prev: await tensor(new Float32Array(ROW), dims),
      velocity: await tensor(new Float32Array(ROW), dims),
      denoised: await tensor(new Float32Array(ROW), dims),
    },
  };
}

const values = { timestep: 750, dt: -0.125, sigma: 0.75 };

test('a faithful replay passes the check', async () => {
  const loop = await loopWith(capturedOf(regularTransformer()), capturedOf(stepper));
  expect(await verifyReplayAsync(loop, { transformer: regularTransformer(), stepper }, values)).toBeUndefined();
});

test('a replay that is off by more than rounding, or NaN, fails the check and names the graph', async () => {
  const off = await loopWith(
    capturedOf(regularTransformer(), (_, v) => (v[3] += 0.01)),
    capturedOf(stepper),
  );
  expect(await verifyReplayAsync(off, { transformer: regularTransformer(), stepper }, values)).toMatch(
    /transformer differs from its regular run by 0\.0\d+/,
  );
  const nan = await loopWith(
    capturedOf(regularTransformer()),
    capturedOf(stepper, (name, v) => {
      if (name === 'velocity') v[0] = Number.NaN;
    }),
  );
  expect(await verifyReplayAsync(nan, { transformer: regularTransformer(), stepper }, values)).toMatch(
    /Euler step's velocity differs .* Infinity/,
  );
});

test('a replay that leaves an output unwritten fails the check, though the recording run wrote it right', async () => {
  const loop = await loopWith(capturedOf(regularTransformer()), capturedOf(stepper, undefined, 2));
  expect(await verifyReplayAsync(loop, { transformer: regularTransformer(), stepper }, values)).toMatch(
    /Euler step's prev_sample differs .* Infinity/,
  );
});

test("a captured step leaves prev_sample in sample and [prev, prev] in the transformer's input", async () => {
  const loop = await loopWith(capturedOf(regularTransformer()), capturedOf(stepper));
  const start = (await loop.tensors.sample.readAsync()).slice();
  await runCapturedStepAsync(loop, values);
  const noisePred = await loop.tensors.noisePred.readAsync();
  // The transformer saw this step's timestep.
  expect(noisePred[0]).toBeCloseTo(start[0] * 0.5 + values.timestep / 1000, 6);
  const prev = (await loop.tensors.prev.readAsync()).slice();
  expect(prev).not.toEqual(start);
  expect(await loop.tensors.sample.readAsync()).toEqual(prev);
  const hidden = await loop.tensors.hidden.readAsync();
  expect(hidden.subarray(0, ROW)).toEqual(prev);
  expect(hidden.subarray(ROW)).toEqual(prev);
});

describe('when the loop is captured', () => {
  const runtimeWith = (over: { backend?: 'wasm' | 'webgpu'; graphCapture?: 'on' | 'off'; failure?: string }) => ({
    backend: over.backend ?? 'webgpu',
    options: { graphCapture: over.graphCapture ?? 'on' } as never,
    captureFailure: over.failure,
  });

  test("'on' captures on WebGPU only", () => {
    expect(wantsCapture(runtimeWith({}))).toBe(true);
    expect(wantsCapture(runtimeWith({ backend: 'wasm' }))).toBe(false);
  });

  test("'off', or a replay that failed its check, never captures", () => {
    expect(wantsCapture(runtimeWith({ graphCapture: 'off' }))).toBe(false);
    expect(wantsCapture(runtimeWith({ failure: 'replay differs' }))).toBe(false);
  });

  /** A transformer graph of `bytes`, split like a real one between the model and external data (only its size is read). */
  const graphOf = (bytes: number): GraphFile =>
    ({
      path: 'transformer/model.onnx',
      model: new Uint8Array(1024),
      externalData: [{ path: 'model.onnx.data', data: { size: bytes - 1024 } as Blob }],
    }) as unknown as GraphFile;

  test("'auto' (the default) captures small transformers on WebGPU without a memory budget", () => {
    const small = graphOf(CAPTURE_AUTO_MAX_TRANSFORMER_BYTES);
    const large = graphOf(CAPTURE_AUTO_MAX_TRANSFORMER_BYTES + 1);
    expect(resolveGraphCapture(undefined, 'webgpu', small)).toBe('on');
    expect(resolveGraphCapture('auto', 'webgpu', small)).toBe('on');
    expect(resolveGraphCapture('auto', 'webgpu', large)).toBe('off');
    expect(resolveGraphCapture('auto', 'webgpu', small, 8 * 2 ** 30)).toBe('off');
    expect(resolveGraphCapture('auto', 'wasm', small)).toBe('off');
  });

  test("'on' and 'off' are obeyed on WebGPU whatever the size; WASM never captures", () => {
    const large = graphOf(CAPTURE_AUTO_MAX_TRANSFORMER_BYTES + 1);
    expect(resolveGraphCapture('on', 'webgpu', large, 2 ** 30)).toBe('on');
    expect(resolveGraphCapture('off', 'webgpu', graphOf(4096))).toBe('off');
    expect(resolveGraphCapture('on', 'wasm', large)).toBe('off');
  });
});

test('appendOutputCopy adds an output equal to the copied value, the rest of the model unchanged', async () => {
  const model = await eulerStepModelAsync('plain');
  const copied = appendOutputCopy(model, 'prev_sample', 'prev_copy');
  const summary = readGraphSummary('copied', copied);
  expect(summary.outputs.map((o) => o.name)).toEqual(['prev_sample', 'velocity', 'denoised', 'prev_copy']);
  expect(summary.nodes.at(-1)).toMatchObject({ opType: 'Max', inputs: ['prev_sample', 'prev_sample'], outputs: ['prev_copy'] });
  const session = await createSessionAsync({ label: 'copied', model: copied, backend: 'wasm' });
  try {
    const sample = ramp(ROW, 0.25);
    sample[1] = Number.NaN;
    sample[2] = -0;
    const out = await session.runAsync({
      noise_pred: { type: 'float32', data: ramp(ROW, 1), dims: [1, 2, 3, 2] },
      sample: { type: 'float32', data: sample, dims: [1, 2, 3, 2] },
      dt: { type: 'float32', data: new Float32Array([-0.125]), dims: [1] },
      sigma: { type: 'float32', data: new Float32Array([0.75]), dims: [1] },
    });
    expect(out.prev_copy.data).toEqual(out.prev_sample.data);
    expect(Number.isNaN(out.prev_copy.data[1])).toBe(true);
  } finally {
    await session.releaseAsync();
  }
  // replace: the copied value stops being a graph output (a replay must not depend on its delivery).
  const replaced = readGraphSummary('replaced', appendOutputCopy(model, 'prev_sample', 'prev_copy', { replace: true }));
  expect(replaced.outputs.map((o) => o.name)).toEqual(['velocity', 'denoised', 'prev_copy']);
  expect(() => appendOutputCopy(model, 'no_such_output', 'x', { replace: true })).toThrow(/no output "no_such_output"/);
});

test('fixedDimensions reads every symbolic dimension off the fed tensors and refuses contradictions', async () => {
  const summary = readGraphSummary('step', await eulerStepModelAsync('cfg-batch'));
  const feeds = async (h: number) => ({
    noise_pred: await tensor(new Float32Array(2 * 16 * h * 4), [2, 16, h, 4]),
    sample: await tensor(new Float32Array(16 * 3 * 4), [1, 16, 3, 4]),
  });
  expect(fixedDimensions(summary, await feeds(3), 'step')).toEqual({ channels: 16, height: 3, width: 4 });
  expect(() => fixedDimensions(summary, {}, 'step')).not.toThrow();
  await expect((async () => fixedDimensions(summary, await feeds(5), 'step'))()).rejects.toThrow(/"height" is both 5 and 3/);
});
