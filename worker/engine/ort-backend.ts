/**
 * The only module that knows onnxruntime. Everything else in the engine sees `BackendSession`
 * (named feeds in, named outputs out, as plain typed arrays), `HostTensor`, and `DeviceTensor`
 * (values that stay where the backend computes: a GPU buffer on WebGPU, CPU memory on WASM), so a
 * loop of several graphs can run without a round trip through the CPU between them.
 *
 * Which ORT build runs is the host's choice: the default is the `onnxruntime-web` package import
 * (in Node its WASM-only build; in a browser bundle the JSEP build), and a host may call
 * `useOrt(await import('onnxruntime-web/webgpu'))` before the first session to get the native
 * WebGPU EP instead. Both builds expose the same InferenceSession/Tensor/env API.
 *
 * Faults can be injected (`injectBackendFault`) so tests can prove the engine's fallbacks:
 * a WebGPU session that cannot be created, and a GPU device lost in the middle of a job.
 */
import type { AdapterInfo, Backend } from '../../common/engine-types.js';
import { isSoftwareAdapter } from './choose-backend.js';
import { EngineError } from './engine-error.js';
import { DataType } from './onnx/data-types.js';
import { GraphBuilder, type BuiltGraph } from './onnx/graph-builder.js';
import { serializeGraphAsync } from './onnx/serialize-graph.js';

/** The subset of the onnxruntime-web module this engine uses (both web builds satisfy it). */
export type OrtModule = Pick<typeof import('onnxruntime-web'), 'InferenceSession' | 'Tensor' | 'env'>;

export type HostTensor = { type: 'float32'; data: Float32Array; dims: number[] } | { type: 'int64'; data: BigInt64Array; dims: number[] };

/**
 * A float32 tensor held by the backend: on WebGPU a GPU buffer (reading it waits for the GPU and
 * copies it back), on WASM plain CPU memory (reading it is free). Whoever holds one disposes it.
 */
export interface DeviceTensor {
  readonly type: 'float32';
  readonly dims: readonly number[];
  /** 'gpu' when the values live in a WebGPU buffer. */
  readonly location: 'gpu' | 'cpu';
  /** The values on the CPU (a download on the GPU: call it only when they are needed). */
  readAsync(): Promise<Float32Array>;
  dispose(): void;
}

export interface BackendSession {
  readonly backend: Backend;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph; outputs are copied to the CPU and the ORT tensors disposed. */
  runAsync(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  /**
   * Runs the graph and leaves every float32 output where it was computed (SessionSpec.outputsOnDevice
   * makes that a GPU buffer on WebGPU). Feeds may be device tensors of the same backend. With
   * `fetches`, the named outputs are written into those tensors (graph capture needs fixed buffers),
   * and the returned map holds them, not new ones.
   */
  runOnDeviceAsync(
    feeds: Record<string, HostTensor | DeviceTensor>,
    fetches?: Record<string, DeviceTensor>,
  ): Promise<Record<string, DeviceTensor>>;
  releaseAsync(): Promise<void>;
}

export interface SessionSpec {
  /** Package path of the graph, for error messages, e.g. "transformer/model.onnx". */
  label: string;
  model: Uint8Array;
  /** External-data files, keyed by the `location` the graph names (e.g. "model.onnx_data"). */
  externalData?: { path: string; data: Uint8Array | Blob }[];
  backend: Backend;
  /** WebGPU: outputs stay in GPU buffers (runAsync still downloads them). No effect on WASM. */
  outputsOnDevice?: boolean;
  /**
   * WebGPU: record the first run's GPU commands and replay them afterwards (onnxruntime's
   * enableGraphCapture). Every run must then feed and fetch the same device tensors, with the same
   * shapes; new values are written into them with writeDeviceTensor. No effect on WASM.
   */
  graphCapture?: boolean;
  /**
   * Fixed values for the graph's symbolic dimensions (onnxruntime's freeDimensionOverrides): with
   * every shape known at load, onnxruntime folds the shape arithmetic away, so no node is left on
   * the CPU, which graph capture requires.
   */
  fixedDimensions?: Record<string, number>;
}

export type BackendFault =
  /** The next WebGPU session creations throw, as when the adapter cannot create a device. */
  | { kind: 'webgpu-session-create' }
  /** The run after `afterRuns` more successful runs fails as a lost GPU device would. */
  | { kind: 'device-lost'; afterRuns: number };

let ortOverride: OrtModule | undefined;
let ortLoaded: Promise<OrtModule> | undefined;
let fault: BackendFault | undefined;
let deviceLost = false;
/** ORT tensors created by runAsync and not yet disposed: must be 0 between runs (tests check it). */
let liveTensors = 0;

/** Chooses the ORT module object (e.g. `onnxruntime-web/webgpu`). Call before the first session. */
export function useOrt(ortModule: OrtModule): void {
  ortOverride = ortModule;
  ortLoaded = Promise.resolve(ortModule);
}

async function getOrtAsync(): Promise<OrtModule> {
  if (!ortLoaded) {
    ortLoaded = import('onnxruntime-web').then((module) => {
      const ort = (module as { default?: OrtModule }).default ?? (module as OrtModule);
      // Node (tests, CLI) runs single-threaded WASM: threads need a worker-enabled build and
      // cross-origin isolation in browsers, and two shared cores gain nothing from them.
      if (isNode()) ort.env.wasm.numThreads = 1;
      return ort;
    });
  }
  return ortOverride ?? ortLoaded;
}

function isNode(): boolean {
  // Read through globalThis: the engine compiles without Node's types (it runs in workers too).
  return typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
}

/** For tests: makes the backend fail the way real hardware can. `undefined` clears it. */
export function injectBackendFault(next: BackendFault | undefined): void {
  fault = next ? { ...next } : undefined;
}

/** Number of ORT tensors this module created and has not disposed (0 whenever no run is in flight). */
export function liveTensorCount(): number {
  return liveTensors;
}

/** For tests: forgets injected faults and a lost device, as a fresh page would. */
export function resetBackendStateForTests(): void {
  fault = undefined;
  deviceLost = false;
}

/** True once the WebGPU device is gone; ORT keeps one device per page, so WebGPU is over. */
export function isGpuDeviceLost(): boolean {
  return deviceLost;
}

interface GpuAdapterLike {
  features: { has(name: string): boolean } & Iterable<string>;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  info?: {
    vendor?: string;
    architecture?: string;
    description?: string;
    isFallbackAdapter?: boolean;
    /** With `chromium-experimental-subgroup-matrix` (Chromium, Dawn): the shapes the tensor cores take. */
    subgroupMatrixConfigs?: Iterable<SubgroupMatrixConfigLike>;
  };
  /** Where browsers before GPUAdapterInfo.isFallbackAdapter kept it. */
  isFallbackAdapter?: boolean;
}
interface SubgroupMatrixConfigLike {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}
interface GpuLike {
  requestAdapter(options?: object): Promise<GpuAdapterLike | null>;
}

export interface WebGpuProbe {
  adapter?: AdapterInfo;
  shaderF16: boolean;
  /** The adapter's features, sorted (benchmarks record them: e.g. whether subgroup-matrix multiplies exist); absent without an adapter. */
  features?: string[];
  /**
   * The subgroup-matrix (tensor-core) shapes the adapter offers, as `f16→f32 16x16x16` (operand →
   * result type, M×N×K); empty when it offers none. onnxruntime's subgroup-matrix MatMul runs only
   * where its one implemented shape is listed, so this says whether fp16 MatMuls can use them.
   */
  subgroupMatrixConfigs?: string[];
  /** Why WebGPU cannot be used; undefined when it can. */
  unavailableReason?: string;
}

/** Asks the host for a WebGPU adapter, without creating a device. */
export async function probeWebGpuAsync(): Promise<WebGpuProbe> {
  if (deviceLost) return { shaderF16: false, unavailableReason: 'the WebGPU device was lost earlier in this session' };
  const gpu = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (!gpu) return { shaderF16: false, unavailableReason: 'this host has no navigator.gpu (WebGPU not available)' };
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (error) {
    return { shaderF16: false, unavailableReason: `requestAdapter failed: ${String(error)}` };
  }
  if (!adapter) return { shaderF16: false, unavailableReason: 'navigator.gpu.requestAdapter() returned no adapter' };
  // ORT requests its own (default) adapter and asks for that adapter's limits when it creates its
  // device, so the limits read here are the ceilings the sessions will run under.
  const named = {
    vendor: adapter.info?.vendor ?? '',
    architecture: adapter.info?.architecture ?? '',
    description: adapter.info?.description ?? '',
    isFallbackAdapter: adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
  };
  return {
    shaderF16: adapter.features.has('shader-f16'),
    features: [...adapter.features].sort(),
    subgroupMatrixConfigs: [...(adapter.info?.subgroupMatrixConfigs ?? [])].map(
      (c) => `${c.componentType}→${c.resultComponentType} ${c.M}x${c.N}x${c.K}`,
    ),
    adapter: {
      ...named,
      software: isSoftwareAdapter(named),
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  };
}

/**
 * Listens for the loss of ORT's WebGPU device. Never blocks or fails session creation: builds
 * differ in when `env.webgpu.device` resolves, and a missing watch only means the loss is noticed
 * by the failing run instead.
 */
function watchDevice(ort: OrtModule): void {
  Promise.resolve()
    .then(() => ort.env.webgpu.device as unknown as Promise<WatchedDevice | undefined>)
    .then((device) => {
      if (!device || watched.has(device)) return;
      watched.add(device);
      return device.lost?.then((info) => {
        // onnxruntime-web destroys its device itself when the last session is released, and makes
        // a new one for the next session: that is not a lost GPU.
        if (info?.reason !== 'destroyed') deviceLost = true;
      });
    })
    .catch(() => undefined);
}

interface WatchedDevice {
  lost?: Promise<{ reason?: string } | undefined>;
}

/** Devices whose loss is being watched (onnxruntime-web may replace its device between sessions). */
const watched = new WeakSet<object>();

/**
 * Creates an inference session on the requested backend. Throws EngineError 'model-corrupt'
 * naming the file when ORT cannot load the graph; WebGPU creation failures are thrown as they
 * are, so the caller can fall back to WASM and say why.
 */
export async function createSessionAsync(spec: SessionSpec): Promise<BackendSession> {
  const ort = await getOrtAsync();
  if (spec.backend === 'webgpu') {
    if (fault?.kind === 'webgpu-session-create') throw new Error('injected fault: WebGPU session creation failed');
    if (deviceLost) throw new Error('the WebGPU device was lost earlier in this session');
  }
  const gpu = spec.backend === 'webgpu';
  const options: import('onnxruntime-web').InferenceSession.SessionOptions = {
    // onnxruntime-web hands enableGraphCapture to the WebGPU EP only from an EP object, not from the name.
    executionProviders: [gpu ? (spec.graphCapture ? { name: 'webgpu' } : 'webgpu') : 'wasm'],
    graphOptimizationLevel: 'all',
    // ORT warns once per node that falls back from WebGPU to the CPU (shape ops, by design);
    // env.logLevel does not reach those session-level messages, so keep them at errors only.
    logSeverityLevel: 3,
    externalData: spec.externalData?.map((file) => ({ path: file.path, data: file.data })),
    ...(gpu && (spec.outputsOnDevice || spec.graphCapture) ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
    ...(gpu && spec.graphCapture ? { enableGraphCapture: true } : {}),
    ...(spec.fixedDimensions ? { freeDimensionOverrides: spec.fixedDimensions } : {}),
  };
  let session: import('onnxruntime-web').InferenceSession;
  try {
    session = await ort.InferenceSession.create(spec.model, options);
  } catch (error) {
    if (spec.backend === 'webgpu') throw error;
    throw new EngineError('model-corrupt', `${spec.label}: onnxruntime could not load the graph: ${describe(error)}`, {
      cause: error,
    });
  }
  if (spec.backend === 'webgpu') watchDevice(ort);
  return new OrtSession(ort, session, spec);
}

function dispose(tensor: import('onnxruntime-web').Tensor): void {
  tensor.dispose();
  liveTensors -= 1;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class OrtSession implements BackendSession {
  readonly backend: Backend;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private released = false;

  constructor(
    private readonly ort: OrtModule,
    private readonly session: import('onnxruntime-web').InferenceSession,
    private readonly spec: SessionSpec,
  ) {
    this.backend = spec.backend;
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
  }

  async runAsync(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    if (this.released) throw new EngineError('internal', `${this.spec.label}: session used after release`);
    this.checkInjectedDeviceLoss();
    const ortFeeds: Record<string, import('onnxruntime-web').Tensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      ortFeeds[name] = new this.ort.Tensor(tensor.type, tensor.data, tensor.dims);
      liveTensors += 1;
    }
    let results: import('onnxruntime-web').InferenceSession.OnnxValueMapType;
    try {
      results = await this.session.run(ortFeeds);
    } catch (error) {
      throw this.runError(error);
    } finally {
      for (const tensor of Object.values(ortFeeds)) dispose(tensor);
    }
    liveTensors += Object.keys(results).length;
    const outputs: Record<string, HostTensor> = {};
    try {
      for (const [name, value] of Object.entries(results)) {
        const dims = [...value.dims];
        // getData() downloads GPU-resident outputs; CPU outputs come back as they are.
        const data = await value.getData();
        if (value.type === 'float32') outputs[name] = { type: 'float32', data: (data as Float32Array).slice(), dims };
        else if (value.type === 'int64') outputs[name] = { type: 'int64', data: (data as BigInt64Array).slice(), dims };
        else throw new EngineError('model-mismatch', `${this.spec.label}: output "${name}" is ${value.type}; expected float32`);
      }
    } finally {
      for (const value of Object.values(results)) dispose(value);
    }
    return outputs;
  }

  async runOnDeviceAsync(
    feeds: Record<string, HostTensor | DeviceTensor>,
    fetches?: Record<string, DeviceTensor>,
  ): Promise<Record<string, DeviceTensor>> {
    if (this.released) throw new EngineError('internal', `${this.spec.label}: session used after release`);
    this.checkInjectedDeviceLoss();
    const ortFeeds: Record<string, import('onnxruntime-web').Tensor> = {};
    const created: import('onnxruntime-web').Tensor[] = [];
    for (const [name, tensor] of Object.entries(feeds)) {
      if (isDeviceTensor(tensor)) {
        ortFeeds[name] = ortTensorOf(tensor, this.backend, `${this.spec.label} input "${name}"`);
      } else {
        const host = new this.ort.Tensor(tensor.type, tensor.data, tensor.dims);
        liveTensors += 1;
        created.push(host);
        ortFeeds[name] = host;
      }
    }
    const ortFetches: Record<string, import('onnxruntime-web').Tensor> = {};
    for (const [name, tensor] of Object.entries(fetches ?? {}))
      ortFetches[name] = ortTensorOf(tensor, this.backend, `${this.spec.label} output "${name}"`);
    let results: import('onnxruntime-web').InferenceSession.OnnxValueMapType;
    try {
      results = fetches ? await this.session.run(ortFeeds, ortFetches) : await this.session.run(ortFeeds);
    } catch (error) {
      throw this.runError(error);
    } finally {
      for (const tensor of created) dispose(tensor);
    }
    const outputs: Record<string, DeviceTensor> = {};
    for (const [name, value] of Object.entries(results)) {
      const given = fetches?.[name];
      if (given) {
        outputs[name] = given;
        continue;
      }
      liveTensors += 1;
      if (value.type !== 'float32') {
        dispose(value);
        for (const made of Object.values(outputs)) if (!fetches || !Object.values(fetches).includes(made)) made.dispose();
        throw new EngineError('model-mismatch', `${this.spec.label}: output "${name}" is ${value.type}; expected float32`);
      }
      outputs[name] = new OrtDeviceTensor(value, this.backend, () => dispose(value));
    }
    return outputs;
  }

  private checkInjectedDeviceLoss(): void {
    if (fault?.kind === 'device-lost') {
      if (fault.afterRuns <= 0) {
        fault = undefined;
        deviceLost = true;
        throw new EngineError('gpu-device-lost', `${this.spec.label}: the GPU device was lost during the run (injected fault)`);
      }
      fault.afterRuns -= 1;
    }
  }

  private runError(error: unknown): EngineError {
    if (this.backend === 'webgpu' && (deviceLost || /device (is )?lost/i.test(describe(error)))) {
      deviceLost = true;
      return new EngineError('gpu-device-lost', `${this.spec.label}: the GPU device was lost: ${describe(error)}`, { cause: error });
    }
    return new EngineError('internal', `${this.spec.label}: run failed: ${describe(error)}`, { cause: error });
  }

  async releaseAsync(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}

// ---------------------------------------------------------------------------------------------
// Device tensors

const DEVICE_TENSOR = Symbol('flowfill device tensor');

function isDeviceTensor(value: HostTensor | DeviceTensor): value is DeviceTensor {
  return (value as { [DEVICE_TENSOR]?: boolean })[DEVICE_TENSOR] === true;
}

class OrtDeviceTensor implements DeviceTensor {
  readonly [DEVICE_TENSOR] = true;
  readonly type = 'float32' as const;
  readonly dims: readonly number[];
  readonly location: 'gpu' | 'cpu';
  private disposed = false;

  constructor(
    readonly tensor: import('onnxruntime-web').Tensor,
    readonly backend: Backend,
    private readonly release: () => void,
  ) {
    this.dims = [...tensor.dims];
    this.location = tensor.location === 'gpu-buffer' ? 'gpu' : 'cpu';
  }

  async readAsync(): Promise<Float32Array> {
    if (this.disposed) throw new EngineError('internal', 'a device tensor was read after it was disposed');
    if (this.location === 'cpu') return this.tensor.data as Float32Array;
    // Not tensor.getData(): it turns the ORT tensor into a CPU one for good, so feeding it again
    // would upload the copy instead of binding the GPU buffer (and graph capture refuses it).
    return downloadAsync(
      this.tensor.gpuBuffer as unknown as GpuBufferLike,
      this.dims.reduce((a, b) => a * b, 1),
    );
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.release();
  }
}

function ortTensorOf(tensor: DeviceTensor, backend: Backend, what: string): import('onnxruntime-web').Tensor {
  if (!(tensor instanceof OrtDeviceTensor)) throw new EngineError('internal', `${what}: not a device tensor of this backend`);
  if (tensor.backend !== backend) throw new EngineError('internal', `${what}: a ${tensor.backend} tensor fed to a ${backend} session`);
  return tensor.tensor;
}

interface GpuBufferLike {
  destroy(): void;
  readonly size: number;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
interface GpuDeviceLike {
  createBuffer(descriptor: { size: number; usage: number }): GpuBufferLike;
  createCommandEncoder(): {
    copyBufferToBuffer(src: GpuBufferLike, srcOffset: number, dst: GpuBufferLike, dstOffset: number, size: number): void;
    finish(): unknown;
  };
  queue: { writeBuffer(buffer: GpuBufferLike, offset: number, data: Float32Array): void; submit(buffers: unknown[]): void };
}

// GPUBufferUsage.MAP_READ | COPY_DST and GPUMapMode.READ (the WebGPU spec's constants: Dawn for
// Node does not define the globals).
const MAP_READ_COPY_DST = 0x0001 | 0x0008;
const MAP_MODE_READ = 0x0001;

/** Copies `count` floats of a GPU buffer into a mappable one and reads them (waits for the GPU). */
async function downloadAsync(buffer: GpuBufferLike, count: number): Promise<Float32Array> {
  const device = await ortDeviceAsync();
  const bytes = Math.ceil((count * 4) / 16) * 16;
  const staging = device.createBuffer({ size: bytes, usage: MAP_READ_COPY_DST });
  try {
    submitCopy(device, buffer, staging, bytes);
    await staging.mapAsync(MAP_MODE_READ);
    const values = new Float32Array(staging.getMappedRange().slice(0, count * 4));
    staging.unmap();
    return values;
  } finally {
    staging.destroy();
  }
}

/** Queues a copy of `bytes` bytes from the start of one GPU buffer to the start of another. */
function submitCopy(device: GpuDeviceLike, from: GpuBufferLike, to: GpuBufferLike, bytes: number): void {
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(from, 0, to, 0, bytes);
  device.queue.submit([encoder.finish()]);
}

async function ortDeviceAsync(): Promise<GpuDeviceLike> {
  const ort = await getOrtAsync();
  const device = (await (ort.env.webgpu as { device?: unknown }).device) as GpuDeviceLike | undefined;
  if (!device) throw new EngineError('internal', 'no WebGPU device yet: create a WebGPU session before its device tensors');
  return device;
}

/**
 * A device tensor holding `host`'s values: on WebGPU a GPU buffer that onnxruntime allocated
 * (create a session first), on WASM a CPU tensor. Float32 only.
 *
 * Why onnxruntime's buffer and not one from device.createBuffer: onnxruntime-web (1.30) wraps a
 * caller's buffer in a handle for each run and releases that handle when the run ends, so a
 * captured graph (enableGraphCapture), which keeps the handles it recorded, replays onto released
 * buffers and fails. Buffers that onnxruntime allocated as a run's outputs keep one handle for their
 * whole life, so they can be bound to a captured graph run after run. Tensors of the upload graph
 * below are exactly that.
 */
export async function createDeviceTensorAsync(
  backend: Backend,
  host: { data: Float32Array; dims: readonly number[] },
): Promise<DeviceTensor> {
  const ort = await getOrtAsync();
  const count = host.dims.reduce((a, b) => a * b, 1);
  if (host.data.length !== count)
    throw new EngineError('internal', `device tensor: ${host.data.length} values for shape [${host.dims.join(', ')}]`);
  if (backend === 'wasm') {
    const tensor = new ort.Tensor('float32', host.data.slice(), [...host.dims]);
    liveTensors += 1;
    return new OrtDeviceTensor(tensor, backend, () => dispose(tensor));
  }
  const upload = await uploadSessionAsync(ort);
  const x = new ort.Tensor('float32', host.data, [count]);
  const one = new ort.Tensor('float32', new Float32Array([1]), [1]);
  let uploaded: import('onnxruntime-web').Tensor;
  try {
    uploaded = (await upload.run({ x, one })).y;
  } finally {
    x.dispose();
    one.dispose();
  }
  liveTensors += 1;
  // The same buffer seen with the caller's shape; disposing the upload's output frees it.
  const tensor = ort.Tensor.fromGpuBuffer(uploaded.gpuBuffer, { dataType: 'float32', dims: [...host.dims] });
  return new OrtDeviceTensor(tensor, backend, () => dispose(uploaded));
}

let uploadSession: { ort: OrtModule; session: Promise<import('onnxruntime-web').InferenceSession> } | undefined;

/** y = x · one on WebGPU, output left on the GPU: a copy into a buffer that onnxruntime owns. */
function uploadSessionAsync(ort: OrtModule): Promise<import('onnxruntime-web').InferenceSession> {
  if (uploadSession?.ort !== ort) {
    const session = serializeGraphAsync(buildUploadGraph()).then((graph) =>
      ort.InferenceSession.create(graph.model, {
        executionProviders: ['webgpu'],
        preferredOutputLocation: 'gpu-buffer',
        logSeverityLevel: 3,
      }),
    );
    uploadSession = { ort, session };
    // A failed creation must not stick (a later device may work).
    session.catch(() => {
      if (uploadSession?.session === session) uploadSession = undefined;
    });
  }
  return uploadSession.session;
}

function buildUploadGraph(): BuiltGraph {
  const b = new GraphBuilder('flowfill_upload');
  // `one` is an input, not a constant: onnxruntime drops Mul by a constant 1, and the output would
  // then be the CPU input itself.
  const y = b.op('Mul', [b.input('x', DataType.FLOAT, ['n']), b.input('one', DataType.FLOAT, [1])]);
  b.output(y, 'y', ['n']);
  return b.build();
}

/** Copies one device tensor's values into another of the same size, on the device (queued in order). */
export async function copyDeviceTensorAsync(from: DeviceTensor, to: DeviceTensor): Promise<void> {
  const src = deviceTensorOf(from);
  const dst = deviceTensorOf(to);
  const count = src.dims.reduce((a, b) => a * b, 1);
  if (dst.dims.reduce((a, b) => a * b, 1) !== count || src.location !== dst.location)
    throw new EngineError('internal', `device tensor copy: [${src.dims.join(', ')}] into [${dst.dims.join(', ')}]`);
  if (src.location === 'cpu') {
    (dst.tensor.data as Float32Array).set(src.tensor.data as Float32Array);
    return;
  }
  submitCopy(
    await ortDeviceAsync(),
    src.tensor.gpuBuffer as unknown as GpuBufferLike,
    dst.tensor.gpuBuffer as unknown as GpuBufferLike,
    count * 4,
  );
}

/** Overwrites a device tensor's values in place (same length); queued after the work already submitted. */
export async function writeDeviceTensorAsync(tensor: DeviceTensor, values: Float32Array): Promise<void> {
  const t = deviceTensorOf(tensor);
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (values.length !== count)
    throw new EngineError('internal', `device tensor write: ${values.length} values for shape [${t.dims.join(', ')}]`);
  if (t.location === 'cpu') {
    (t.tensor.data as Float32Array).set(values);
    return;
  }
  (await ortDeviceAsync()).queue.writeBuffer(t.tensor.gpuBuffer as unknown as GpuBufferLike, 0, values);
}

function deviceTensorOf(tensor: DeviceTensor): OrtDeviceTensor {
  if (!(tensor instanceof OrtDeviceTensor)) throw new EngineError('internal', 'not a device tensor made by this backend');
  return tensor;
}
