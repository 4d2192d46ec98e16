/**
 * The denoising loop recorded once per latent shape and replayed (onnxruntime's graph capture on
 * WebGPU). On a fast GPU a small model's step is bound by onnxruntime's CPU work per kernel, not by
 * the GPU (the default model: ~500 kernels, 26–44 ms a step on an H200 at 15–20 % GPU busy); a
 * replay submits the recorded commands without that work.
 *
 * A captured session must be fed and must write the same GPU buffers, with the same shapes, on
 * every run, so a captured loop owns one set of buffers for its shape: the transformer's inputs and
 * output, the Euler step graph's inputs and outputs (its `next_model_input` is written straight into
 * the transformer's input), and new values (timestep, dt, σ, a new image's latents and conditioning)
 * are written into them. The step's `prev_sample` is copied into `sample` on the GPU, since a run
 * cannot read and write one buffer.
 *
 * A replay repeats the recorded kernel dispatches and nothing else. onnxruntime-web 1.30 delivers a
 * graph output that a view produces (the transformer's final Reshape) or that other nodes also read
 * (the CFG step's `prev_sample`, read by its Concat) through a plain buffer copy into the caller's
 * buffer — done while recording, never replayed — so those buffers would keep the recording run's
 * values (scripts/debug/capture-bisect.ts and graph-capture-probe.ts found both). Every output of a
 * captured graph is therefore replaced by a computed copy (appendOutputCopy), written by a dispatch.
 *
 * onnxruntime has shipped capture bugs that give wrong results without an error (onnxruntime#29594),
 * so a new captured loop is checked once against the regular sessions before it is used, with the
 * output buffers spoilt before the last replay so that an output the replay does not write fails the
 * check (verifyReplayAsync).
 */
import { EngineError } from '../engine-error.js';
import { appendOutputCopy } from '../onnx/append-output-copy.js';
import { eulerStepModelAsync } from '../euler-step-graph.js';
import { readGraphSummary, type GraphFile } from '../graph-file.js';
import type { OnnxGraphSummary } from '../onnx-graph.js';
import {
  copyDeviceTensorAsync,
  createDeviceTensorAsync,
  createSessionAsync,
  writeDeviceTensorAsync,
  type BackendSession,
  type DeviceTensor,
} from '../ort-backend.js';

/** What a captured loop is recorded for: one batch mode and one set of input shapes. */
export interface LoopShape {
  /** 'cfg-batch': one batch-2 transformer call per step; 'plain': batch 1 without guidance. */
  mode: 'cfg-batch' | 'plain';
  channels: number;
  height: number;
  width: number;
  /** Text tokens of the conditioning, and the widths of its embeddings and pooled vector. */
  sequenceLength: number;
  jointDim: number;
  pooledDim: number;
}

export function loopShapeKey(shape: LoopShape): string {
  const { mode, channels, height, width, sequenceLength, jointDim, pooledDim } = shape;
  return `${mode} ${channels}x${height}x${width} text ${sequenceLength}x${jointDim} pooled ${pooledDim}`;
}

interface LoopTensors {
  /** The transformer's hidden_states: [2, C, h, w] with CFG; `sample` itself without. */
  hidden: DeviceTensor;
  timestep: DeviceTensor;
  embeds: DeviceTensor;
  pooled: DeviceTensor;
  noisePred: DeviceTensor;
  sample: DeviceTensor;
  dt: DeviceTensor;
  sigma: DeviceTensor;
  guidance?: DeviceTensor;
  prev: DeviceTensor;
  velocity: DeviceTensor;
  denoised: DeviceTensor;
}

export interface CapturedLoop {
  readonly shape: LoopShape;
  readonly transformer: BackendSession;
  readonly stepper: BackendSession;
  readonly tensors: LoopTensors;
}

/** One step's scalars: the transformer's timestep and the Euler step's dt and σ. */
export interface StepValues {
  timestep: number;
  dt: number;
  sigma: number;
}

const TRANSFORMER_OUTPUT = 'out_hidden_states';

/** A captured graph's output `name` is fetched as this computed copy (see withComputedOutputs). */
function replayed(name: string): string {
  return `${name}_replayed`;
}

/** `model` with each of its graph outputs replaced by a computed copy named replayed(output). */
function withComputedOutputs(model: Uint8Array, outputs: readonly string[]): Uint8Array {
  return outputs.reduce((m, name) => appendOutputCopy(m, name, replayed(name), { replace: true }), model);
}

function replayedFetches(fetches: Record<string, DeviceTensor>): Record<string, DeviceTensor> {
  return Object.fromEntries(Object.entries(fetches).map(([name, tensor]) => [replayed(name), tensor]));
}

function zeros(dims: number[]): { data: Float32Array; dims: number[] } {
  return { data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims };
}

function batchOf(shape: LoopShape): number {
  return shape.mode === 'cfg-batch' ? 2 : 1;
}

/** Creates the captured sessions and their buffers for `shape` (WebGPU); on failure releases what it made and rethrows. */
export async function createCapturedLoopAsync(transformerGraph: GraphFile, shape: LoopShape): Promise<CapturedLoop> {
  const { channels: C, height: h, width: w } = shape;
  const batch = batchOf(shape);
  const made: DeviceTensor[] = [];
  const sessions: BackendSession[] = [];
  const tensor = async (dims: number[]) => {
    const t = await createDeviceTensorAsync('webgpu', zeros(dims));
    made.push(t);
    return t;
  };
  try {
    const sample = await tensor([1, C, h, w]);
    const tensors: LoopTensors = {
      sample,
      hidden: batch === 2 ? await tensor([2, C, h, w]) : sample,
      timestep: await tensor([batch]),
      embeds: await tensor([batch, shape.sequenceLength, shape.jointDim]),
      pooled: await tensor([batch, shape.pooledDim]),
      noisePred: await tensor([batch, C, h, w]),
      dt: await tensor([1]),
      sigma: await tensor([1]),
      ...(batch === 2 ? { guidance: await tensor([1]) } : {}),
      prev: await tensor([1, C, h, w]),
      velocity: await tensor([1, C, h, w]),
      denoised: await tensor([1, C, h, w]),
    };
    const { model, externalData, path, summary } = transformerGraph;
    const transformer = await createSessionAsync({
      label: `${path} (captured)`,
      model: withComputedOutputs(model, [TRANSFORMER_OUTPUT]),
      externalData,
      backend: 'webgpu',
      graphCapture: true,
      fixedDimensions: fixedDimensions(summary, transformerFeeds(tensors), path),
    });
    sessions.push(transformer);
    const stepModel = await eulerStepModelAsync(shape.mode);
    const stepLabel = `Euler step graph (${shape.mode}, captured)`;
    const stepSummary = readGraphSummary(stepLabel, stepModel);
    const stepper = await createSessionAsync({
      label: stepLabel,
      model: withComputedOutputs(
        stepModel,
        stepSummary.outputs.map((output) => output.name),
      ),
      backend: 'webgpu',
      graphCapture: true,
      fixedDimensions: fixedDimensions(stepSummary, stepFeeds(tensors), stepLabel),
    });
    sessions.push(stepper);
    return { shape, transformer, stepper, tensors };
  } catch (error) {
    await Promise.allSettled(sessions.map((session) => session.releaseAsync()));
    for (const t of made) t.dispose();
    throw error;
  }
}

/**
 * The value of every symbolic dimension of the graph's inputs, read off the tensors that will be
 * fed: graph capture needs a graph without CPU nodes, and onnxruntime only folds the shape
 * arithmetic (Shape → Gather → Reshape) away when every shape is known at load.
 */
export function fixedDimensions(summary: OnnxGraphSummary, feeds: Record<string, DeviceTensor>, label: string): Record<string, number> {
  const fixed: Record<string, number> = {};
  for (const input of summary.inputs) {
    const fed = feeds[input.name];
    if (!fed || !input.shape) continue;
    if (input.shape.length !== fed.dims.length)
      throw new EngineError(
        'model-mismatch',
        `${label}: input "${input.name}" has rank ${input.shape.length}; fed [${fed.dims.join(', ')}]`,
      );
    input.shape.forEach((dim, axis) => {
      if (typeof dim !== 'string' || dim === '?') return;
      if (fixed[dim] !== undefined && fixed[dim] !== fed.dims[axis])
        throw new EngineError(
          'model-mismatch',
          `${label}: dimension "${dim}" is both ${fixed[dim]} and ${fed.dims[axis]} in the fed shapes`,
        );
      fixed[dim] = fed.dims[axis];
    });
  }
  return fixed;
}

export async function releaseCapturedLoopAsync(loop: CapturedLoop): Promise<void> {
  await Promise.allSettled([loop.transformer.releaseAsync(), loop.stepper.releaseAsync()]);
  for (const t of new Set(Object.values(loop.tensors))) t?.dispose();
}

/** Writes a new image's starting state: latents [1, C, h, w], conditioning [batch, S, D] / [batch, P], guidance. */
export async function loadImageAsync(
  loop: CapturedLoop,
  image: { latents: Float32Array; embeds: Float32Array; pooled: Float32Array; guidance: number },
): Promise<void> {
  const t = loop.tensors;
  await writeDeviceTensorAsync(t.sample, image.latents);
  if (t.hidden !== t.sample) {
    const both = new Float32Array(image.latents.length * 2);
    both.set(image.latents);
    both.set(image.latents, image.latents.length);
    await writeDeviceTensorAsync(t.hidden, both);
  }
  await writeDeviceTensorAsync(t.embeds, image.embeds);
  await writeDeviceTensorAsync(t.pooled, image.pooled);
  if (t.guidance) await writeDeviceTensorAsync(t.guidance, new Float32Array([Math.fround(image.guidance)]));
}

async function writeStepValuesAsync(loop: CapturedLoop, values: StepValues): Promise<void> {
  const t = loop.tensors;
  await writeDeviceTensorAsync(t.timestep, new Float32Array(batchOf(loop.shape)).fill(values.timestep));
  await writeDeviceTensorAsync(t.dt, new Float32Array([values.dt]));
  await writeDeviceTensorAsync(t.sigma, new Float32Array([values.sigma]));
}

function transformerFeeds(t: LoopTensors): Record<string, DeviceTensor> {
  return { hidden_states: t.hidden, timestep: t.timestep, encoder_hidden_states: t.embeds, pooled_projections: t.pooled };
}

function stepFeeds(t: LoopTensors): Record<string, DeviceTensor> {
  return { noise_pred: t.noisePred, sample: t.sample, dt: t.dt, sigma: t.sigma, ...(t.guidance ? { guidance: t.guidance } : {}) };
}

function stepFetches(t: LoopTensors): Record<string, DeviceTensor> {
  return {
    prev_sample: t.prev,
    velocity: t.velocity,
    denoised: t.denoised,
    ...(t.hidden !== t.sample ? { next_model_input: t.hidden } : {}),
  };
}

/**
 * One denoising step on the loop's buffers: the transformer, then the Euler/CFG step, whose
 * `prev_sample` becomes the next step's `sample` (and, with CFG, whose `next_model_input` is already
 * the next transformer input). All queued on the GPU; nothing is read back.
 */
export async function runCapturedStepAsync(loop: CapturedLoop, values: StepValues): Promise<void> {
  const t = loop.tensors;
  await writeStepValuesAsync(loop, values);
  await loop.transformer.runOnDeviceAsync(transformerFeeds(t), replayedFetches({ [TRANSFORMER_OUTPUT]: t.noisePred }));
  await loop.stepper.runOnDeviceAsync(stepFeeds(t), replayedFetches(stepFetches(t)));
  await copyDeviceTensorAsync(t.prev, t.sample);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = a.length === b.length ? 0 : Number.POSITIVE_INFINITY;
  let scale = 0;
  for (let k = 0; k < Math.min(a.length, b.length); k++) {
    const d = Math.abs(a[k] - b[k]);
    // NaN on either side is a failure, not a small difference.
    diff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[k]));
  }
  return { diff, scale };
}

/**
 * Replay is wrong when it differs from a regular run by more than rounding noise: the same kernels
 * on the same inputs give the same values, so anything past this is a broken replay.
 */
const REPLAY_TOLERANCE = 1e-4;

/**
 * onnxruntime runs a captured session normally once, records on the second run and replays from the
 * third; the fetched buffers are filled with NaN before the third, so an output the replay leaves
 * unwritten cannot pass for a right one.
 */
async function runThriceAsync(
  session: BackendSession,
  feeds: Record<string, DeviceTensor>,
  fetches: Record<string, DeviceTensor>,
): Promise<void> {
  for (let run = 0; run < 3; run++) {
    if (run === 2) {
      for (const tensor of new Set(Object.values(fetches)))
        await writeDeviceTensorAsync(tensor, new Float32Array(tensor.dims.reduce((a, b) => a * b, 1)).fill(Number.NaN));
    }
    await session.runOnDeviceAsync(feeds, replayedFetches(fetches));
  }
}

/**
 * Checks a new captured loop against the regular sessions on the loaded image and `values`: each
 * captured session is run three times (onnxruntime runs normally, then records, then replays) and
 * its last output compared with the regular session's. Returns why it failed, or undefined. The
 * loop's buffers hold the step's results afterwards: load the image again before denoising.
 */
export async function verifyReplayAsync(
  loop: CapturedLoop,
  regular: { transformer: BackendSession; stepper: BackendSession },
  values: StepValues,
): Promise<string | undefined> {
  const t = loop.tensors;
  await writeStepValuesAsync(loop, values);
  const compare = async (what: string, captured: DeviceTensor, reference: DeviceTensor): Promise<string | undefined> => {
    const { diff, scale } = maxAbsDiff(await captured.readAsync(), await reference.readAsync());
    if (diff <= REPLAY_TOLERANCE * Math.max(1, scale)) return undefined;
    return `under graph capture the ${what} differs from its regular run by ${diff} (values up to ${scale})`;
  };

  const reference = await regular.transformer.runOnDeviceAsync(transformerFeeds(t));
  try {
    const expected = reference[TRANSFORMER_OUTPUT];
    if (!expected) throw new EngineError('model-mismatch', `the transformer has no output "${TRANSFORMER_OUTPUT}"`);
    await runThriceAsync(loop.transformer, transformerFeeds(t), { [TRANSFORMER_OUTPUT]: t.noisePred });
    const failure = await compare('transformer', t.noisePred, expected);
    if (failure) return failure;
  } finally {
    for (const out of Object.values(reference)) out.dispose();
  }

  const stepReference = await regular.stepper.runOnDeviceAsync(stepFeeds(t));
  try {
    await runThriceAsync(loop.stepper, stepFeeds(t), stepFetches(t));
    for (const [name, captured] of Object.entries(stepFetches(t))) {
      const failure = await compare(`Euler step's ${name}`, captured, stepReference[name]);
      if (failure) return failure;
    }
  } finally {
    for (const out of Object.values(stepReference)) out.dispose();
  }
  return undefined;
}
