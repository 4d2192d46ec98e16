/**
 * SD3's denoising loop (diffusers StableDiffusion3Pipeline.__call__, "7. Denoising loop"), kept
 * on the device: per step one transformer call on [uncond, cond] (or two batch-1 calls, or one
 * call without guidance) and one run of the Euler/CFG step graph (../euler-step-graph.ts), whose
 * outputs are the next call's inputs. On WebGPU nothing crosses to the CPU between steps: the
 * conditioning is uploaded once, the latents are read back once at the end, and a step's values
 * are downloaded only when the caller asks (previews, parity checks). On WASM the same code runs
 * with CPU tensors, so reading is free.
 *
 * With graph capture (runtime option graphCapture) the same loop runs on buffers fixed per image
 * size, recorded once and replayed (captured-loop.ts), which removes onnxruntime's CPU cost per
 * kernel from every step.
 */
import { EngineError } from '../engine-error.js';
import type { EulerStepMode } from '../euler-step-graph.js';
import type { FlowMatchEulerDiscreteScheduler } from '../flow-match-euler.js';
import { createDeviceTensorAsync, type BackendSession, type DeviceTensor, type HostTensor } from '../ort-backend.js';
import {
  createCapturedLoopAsync,
  loadImageAsync,
  loopShapeKey,
  releaseCapturedLoopAsync,
  runCapturedStepAsync,
  verifyReplayAsync,
  type CapturedLoop,
  type LoopShape,
} from './captured-loop.js';
import { createStepSessionAsync, type Sd3Runtime } from './runtime.js';
import type { PromptConditioning } from './text-encoding.js';

export interface DenoiseStep {
  /** 1-based step number within this run, and the number of steps run. */
  step: number;
  total: number;
  /** σ of the step (the noise level it started from). */
  sigma: number;
  /**
   * CPU time of this iteration, ms. On WebGPU it is the time to queue the step's work: the GPU
   * may still be running it (the loop's total, final read included, is the honest figure).
   */
  stepMs: number;
  /** Where this step's tensors live: reading 'gpu' ones waits for the GPU and copies. */
  location: 'gpu' | 'cpu';
  /** Latents after this step, [1, C, h, w]. Every read*Async is valid until the loop resumes. */
  readLatentsAsync(): Promise<Float32Array>;
  /** The (guided) velocity the step used, [1, C, h, w]. */
  readVelocityAsync(): Promise<Float32Array>;
  /** Raw transformer output, [batch, C, h, w] ([uncond, cond] with CFG). */
  readTransformerOutputAsync(): Promise<Float32Array>;
  /** The predicted clean latent x0 = x_t − σ·v, [1, C, h, w] (for previews). */
  readDenoisedAsync(): Promise<Float32Array>;
}

export interface DenoiseInputs {
  runtime: Sd3Runtime;
  scheduler: FlowMatchEulerDiscreteScheduler;
  /** Starting latents, [1, C, h, w]. */
  latents: Float32Array;
  latentShape: { channels: number; height: number; width: number };
  conditioning: PromptConditioning;
  guidance: number;
}

const TRANSFORMER_OUTPUT = 'out_hidden_states';

/**
 * The denoising loop as an async generator: yields after every step (the caller turns steps into
 * progress, previews and timings, and stops the loop with `return()`), returns the final latents.
 * Starts at the scheduler's begin index (image-to-image).
 */
export async function* denoiseLatents(inputs: DenoiseInputs): AsyncGenerator<DenoiseStep, Float32Array> {
  const { runtime, conditioning } = inputs;
  const cfg = conditioning.batch === 2;
  const mode: EulerStepMode = !cfg ? 'plain' : runtime.options.cfgCalls === 'split' ? 'cfg-split' : 'cfg-batch';
  if (mode === 'cfg-split') return yield* deviceLoop(inputs, mode);
  const { joint_attention_dim: jointDim, pooled_projection_dim: pooledDim } = runtime.pkg.transformer.config;
  const shape: LoopShape = { mode, ...inputs.latentShape, sequenceLength: conditioning.sequenceLength, jointDim, pooledDim };
  const loop = wantsCapture(runtime) ? await capturedLoopAsync(inputs, shape) : undefined;
  return yield* loop ? replayLoop(inputs, loop) : deviceLoop(inputs, mode);
}

/** Whether this runtime's loop runs captured (RuntimeOptions.graphCapture). */
export function wantsCapture(runtime: Pick<Sd3Runtime, 'backend' | 'options' | 'captureFailure'>): boolean {
  return runtime.backend === 'webgpu' && runtime.options.graphCapture === 'on' && runtime.captureFailure === undefined;
}

/**
 * The runtime's captured loop for `shape`, loaded with this image: reused when the shape is the
 * last one captured, else made and checked against the regular sessions. Undefined (and graph
 * capture off for the runtime, the reason in runtime.captureFailure) when that fails.
 */
async function capturedLoopAsync(inputs: DenoiseInputs, shape: LoopShape): Promise<CapturedLoop | undefined> {
  const { runtime, conditioning, scheduler } = inputs;
  const image = { latents: inputs.latents, embeds: conditioning.embeds, pooled: conditioning.pooled, guidance: inputs.guidance };
  let loop = runtime.capturedLoop;
  if (loop && loopShapeKey(loop.shape) === loopShapeKey(shape)) {
    await loadImageAsync(loop, image);
    return loop;
  }
  runtime.capturedLoop = undefined;
  if (loop) await releaseCapturedLoopAsync(loop);
  try {
    loop = await createCapturedLoopAsync(runtime.pkg.transformer.graph, shape);
  } catch (error) {
    runtime.captureFailure = `graph capture could not start: ${error instanceof Error ? error.message : String(error)}`;
    return undefined;
  }
  try {
    await loadImageAsync(loop, image);
    const stepper = runtime.stepSessions.get(shape.mode) ?? (await stepSessionFor(runtime, shape.mode));
    const { first, dt } = schedule(scheduler);
    const values = { timestep: scheduler.timesteps[first], dt: dt(first), sigma: scheduler.sigmas[first] };
    const failure = await verifyReplayAsync(loop, { transformer: runtime.transformer, stepper }, values);
    if (failure) {
      runtime.captureFailure = failure;
      await releaseCapturedLoopAsync(loop);
      return undefined;
    }
    await loadImageAsync(loop, image);
  } catch (error) {
    await releaseCapturedLoopAsync(loop);
    throw error;
  }
  runtime.capturedLoop = loop;
  return loop;
}

/**
 * Runs a loop to the end, handing each step to `visit` (which may read it), and returns the final
 * latents: the generator's return value, which a for-await loop cannot see.
 */
export async function forEachDenoiseStepAsync(
  loop: AsyncGenerator<DenoiseStep, Float32Array>,
  visit: (step: DenoiseStep) => Promise<void> | void,
): Promise<Float32Array> {
  while (true) {
    const next = await loop.next();
    if (next.done) return next.value;
    await visit(next.value);
  }
}

/** Each step's sigma, dt and timestep, from the scheduler (dt as FlowMatchEulerDiscreteScheduler.step takes it). */
function schedule(scheduler: FlowMatchEulerDiscreteScheduler): { first: number; end: number; dt(i: number): number } {
  const first = scheduler.beginIndex ?? 0;
  return { first, end: scheduler.timesteps.length, dt: (i) => scheduler.stepDelta(i) };
}

function f32(value: number, dims: number[] = [1]): HostTensor {
  return { type: 'float32', data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value), dims };
}

function rowOf(values: Float32Array, row: number, rows: number): Float32Array {
  const size = values.length / rows;
  return values.subarray(row * size, (row + 1) * size);
}

function repeatBatch(values: Float32Array, times: number): Float32Array {
  const out = new Float32Array(values.length * times);
  for (let b = 0; b < times; b++) out.set(values, b * values.length);
  return out;
}

function outputOf(outputs: Record<string, DeviceTensor>, name: string, label: string, dims: number[]): DeviceTensor {
  const tensor = outputs[name];
  if (!tensor) throw new EngineError('model-mismatch', `${label}: no float32 output "${name}" (got ${Object.keys(outputs).join(', ')})`);
  if (tensor.dims.join() !== dims.join()) {
    throw new EngineError(
      'model-mismatch',
      `${label}: output "${name}" has shape [${tensor.dims.join(', ')}]; expected [${dims.join(', ')}]`,
    );
  }
  return tensor;
}

async function concatReadsAsync(tensors: DeviceTensor[]): Promise<Float32Array> {
  if (tensors.length === 1) return tensors[0].readAsync();
  const parts = await Promise.all(tensors.map((t) => t.readAsync()));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * NaN or ±Inf from a graph (fp16 overflow, a broken kernel) would decode to a black or noisy image
 * without any error; stop instead, naming where it happened.
 */
export function throwIfNotFinite(values: Float32Array, where: string): void {
  for (let k = 0; k < values.length; k++) {
    if (!Number.isFinite(values[k])) {
      throw new EngineError(
        'internal',
        `${where} contains ${values[k]} at index ${k}; the backend computed garbage (try the WASM backend)`,
      );
    }
  }
}

/** Reads the final latents; NaN there means some step went wrong on the device. */
async function finalLatentsAsync(sample: DeviceTensor, backend: string, steps: number): Promise<Float32Array> {
  const final = (await sample.readAsync()).slice();
  throwIfNotFinite(final, `the latents after ${steps} denoising steps on ${backend} (a transformer output went non-finite on the way)`);
  return final;
}

function disposeAll(tensors: Iterable<DeviceTensor | undefined>): void {
  const seen = new Set<DeviceTensor>();
  for (const tensor of tensors) {
    if (!tensor || seen.has(tensor)) continue;
    seen.add(tensor);
    tensor.dispose();
  }
}

/** The loop itself: sessions allocate their outputs on the device each run. */
async function* deviceLoop(inputs: DenoiseInputs, mode: EulerStepMode): AsyncGenerator<DenoiseStep, Float32Array> {
  const { runtime, scheduler, conditioning } = inputs;
  const { backend, transformer } = runtime;
  const { channels, height, width } = inputs.latentShape;
  const { joint_attention_dim: D, pooled_projection_dim: P } = runtime.pkg.transformer.config;
  const S = conditioning.sequenceLength;
  const row = [1, channels, height, width];
  const stepper = runtime.stepSessions.get(mode) ?? (await stepSessionFor(runtime, mode));
  const { first, end, dt } = schedule(scheduler);
  const total = end - first;
  const label = runtime.pkg.transformer.graph.path;

  // Conditioning once, on the device: one batch-2 tensor, or one tensor per batch-1 call.
  const calls = mode === 'cfg-split' ? 2 : 1;
  const callBatch = mode === 'cfg-batch' ? 2 : 1;
  const embeds: DeviceTensor[] = [];
  const pooled: DeviceTensor[] = [];
  const live = new Set<DeviceTensor>();
  const track = (tensor: DeviceTensor): DeviceTensor => {
    live.add(tensor);
    return tensor;
  };
  try {
    for (let c = 0; c < calls; c++) {
      embeds.push(
        track(
          await createDeviceTensorAsync(backend, {
            data: calls === 1 ? conditioning.embeds : rowOf(conditioning.embeds, c, 2),
            dims: [callBatch, S, D],
          }),
        ),
      );
      pooled.push(
        track(
          await createDeviceTensorAsync(backend, {
            data: calls === 1 ? conditioning.pooled : rowOf(conditioning.pooled, c, 2),
            dims: [callBatch, P],
          }),
        ),
      );
    }
    let sample = track(await createDeviceTensorAsync(backend, { data: inputs.latents, dims: row }));
    let modelInput =
      mode === 'cfg-batch'
        ? track(await createDeviceTensorAsync(backend, { data: repeatBatch(inputs.latents, 2), dims: [2, channels, height, width] }))
        : sample;
    const guidance = f32(Math.fround(inputs.guidance));

    for (let i = first; i < end; i++) {
      const started = performance.now();
      const where = (what: string) => `${what} at step ${i - first + 1} (timestep ${scheduler.timesteps[i]}) on ${backend}`;
      const noisePreds: DeviceTensor[] = [];
      for (let c = 0; c < calls; c++) {
        const out = await transformer.runOnDeviceAsync({
          hidden_states: modelInput,
          timestep: f32(scheduler.timesteps[i], [callBatch]),
          encoder_hidden_states: embeds[c],
          pooled_projections: pooled[c],
        });
        const noisePred = track(outputOf(out, TRANSFORMER_OUTPUT, label, [callBatch, channels, height, width]));
        for (const [name, extra] of Object.entries(out)) if (name !== TRANSFORMER_OUTPUT) extra.dispose();
        noisePreds.push(noisePred);
        // On the CPU the check is free, and it names the step; on the GPU the final read checks.
        if (noisePred.location === 'cpu') throwIfNotFinite(await noisePred.readAsync(), where(`${label} output`));
      }
      const feeds: Record<string, HostTensor | DeviceTensor> = { sample, dt: f32(dt(i)), sigma: f32(scheduler.sigmas[i]) };
      if (mode === 'cfg-split') Object.assign(feeds, { noise_pred_uncond: noisePreds[0], noise_pred_cond: noisePreds[1], guidance });
      else Object.assign(feeds, { noise_pred: noisePreds[0], ...(mode === 'cfg-batch' ? { guidance } : {}) });
      const out = await stepper.runOnDeviceAsync(feeds);
      const prev = track(outputOf(out, 'prev_sample', 'Euler step graph', row));
      const velocity = track(outputOf(out, 'velocity', 'Euler step graph', row));
      const denoised = track(outputOf(out, 'denoised', 'Euler step graph', row));
      const next = mode === 'cfg-batch' ? track(outputOf(out, 'next_model_input', 'Euler step graph', [2, channels, height, width])) : prev;
      // The step's inputs are spent (queued GPU work keeps what it still reads alive).
      for (const spent of [sample, modelInput]) {
        live.delete(spent);
        spent.dispose();
      }
      sample = prev;
      modelInput = next;
      const stepTensors = [...noisePreds, velocity, denoised];
      const step: DenoiseStep = {
        step: i - first + 1,
        total,
        sigma: scheduler.sigmas[i],
        stepMs: performance.now() - started,
        location: prev.location,
        readLatentsAsync: () => prev.readAsync(),
        readVelocityAsync: () => velocity.readAsync(),
        readTransformerOutputAsync: () => concatReadsAsync(noisePreds),
        readDenoisedAsync: () => denoised.readAsync(),
      };
      yield step;
      for (const spent of stepTensors) {
        live.delete(spent);
        spent.dispose();
      }
    }
    return await finalLatentsAsync(sample, backend, total);
  } finally {
    disposeAll(live);
  }
}

/** The loop on a captured loop's fixed buffers: each step writes its scalars and replays. */
async function* replayLoop(inputs: DenoiseInputs, loop: CapturedLoop): AsyncGenerator<DenoiseStep, Float32Array> {
  const { runtime, scheduler } = inputs;
  const { first, end, dt } = schedule(scheduler);
  const total = end - first;
  const t = loop.tensors;
  runtime.capturedImages += 1;
  for (let i = first; i < end; i++) {
    const started = performance.now();
    try {
      await runCapturedStepAsync(loop, { timestep: scheduler.timesteps[i], dt: dt(i), sigma: scheduler.sigmas[i] });
    } catch (error) {
      // A captured loop that fails once is not trusted again in this runtime.
      runtime.captureFailure = `a captured step failed: ${error instanceof Error ? error.message : String(error)}`;
      if (runtime.capturedLoop === loop) runtime.capturedLoop = undefined;
      await releaseCapturedLoopAsync(loop);
      throw error;
    }
    yield {
      step: i - first + 1,
      total,
      sigma: scheduler.sigmas[i],
      stepMs: performance.now() - started,
      location: 'gpu',
      readLatentsAsync: () => t.prev.readAsync(),
      readVelocityAsync: () => t.velocity.readAsync(),
      readTransformerOutputAsync: () => t.noisePred.readAsync(),
      readDenoisedAsync: () => t.denoised.readAsync(),
    };
  }
  return await finalLatentsAsync(t.sample, runtime.backend, total);
}

async function stepSessionFor(runtime: Sd3Runtime, mode: EulerStepMode): Promise<BackendSession> {
  const session = await createStepSessionAsync(mode, runtime.backend);
  runtime.stepSessions.set(mode, session);
  return session;
}
