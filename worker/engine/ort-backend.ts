/**
 * The only module that knows onnxruntime. Everything else in the engine sees `BackendSession`
 * (named feeds in, named outputs out, as plain typed arrays) and `HostTensor`.
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
import { EngineError } from './engine-error.js';

/** The subset of the onnxruntime-web module this engine uses (both web builds satisfy it). */
export type OrtModule = Pick<typeof import('onnxruntime-web'), 'InferenceSession' | 'Tensor' | 'env'>;

export type HostTensor =
  | { type: 'float32'; data: Float32Array; dims: number[] }
  | { type: 'int64'; data: BigInt64Array; dims: number[] };

export interface BackendSession {
  readonly backend: Backend;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph; outputs are copied to the CPU and the ORT tensors disposed. */
  runAsync(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  releaseAsync(): Promise<void>;
}

export interface SessionSpec {
  /** Package path of the graph, for error messages, e.g. "transformer/model.onnx". */
  label: string;
  model: Uint8Array;
  /** External-data files, keyed by the `location` the graph names (e.g. "model.onnx_data"). */
  externalData?: { path: string; data: Uint8Array | Blob }[];
  backend: Backend;
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
let deviceWatched = false;
/** ORT tensors created by runAsync and not yet disposed: must be 0 between runs (tests check it). */
let liveTensors = 0;

/** Chooses the ORT module object (e.g. `onnxruntime-web/webgpu`). Call before the first session. */
export function useOrt(ortModule: OrtModule): void {
  ortOverride = ortModule;
  ortLoaded = Promise.resolve(ortModule);
  deviceWatched = false;
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
  features: { has(name: string): boolean };
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  info?: { vendor?: string; architecture?: string; description?: string };
}
interface GpuLike {
  requestAdapter(options?: object): Promise<GpuAdapterLike | null>;
}

export interface WebGpuProbe {
  adapter?: AdapterInfo;
  shaderF16: boolean;
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
  return {
    shaderF16: adapter.features.has('shader-f16'),
    adapter: {
      vendor: adapter.info?.vendor ?? '',
      architecture: adapter.info?.architecture ?? '',
      description: adapter.info?.description ?? '',
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
  if (deviceWatched) return;
  deviceWatched = true;
  Promise.resolve()
    .then(() => ort.env.webgpu.device as unknown as Promise<{ lost?: Promise<unknown> } | undefined>)
    .then((device) => device?.lost?.then(() => {
      deviceLost = true;
    }))
    .catch(() => undefined);
}

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
  const options: import('onnxruntime-web').InferenceSession.SessionOptions = {
    executionProviders: [spec.backend === 'webgpu' ? 'webgpu' : 'wasm'],
    graphOptimizationLevel: 'all',
    // ORT warns once per node that falls back from WebGPU to the CPU (shape ops, by design);
    // env.logLevel does not reach those session-level messages, so keep them at errors only.
    logSeverityLevel: 3,
    externalData: spec.externalData?.map((file) => ({ path: file.path, data: file.data })),
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
    if (fault?.kind === 'device-lost') {
      if (fault.afterRuns <= 0) {
        fault = undefined;
        deviceLost = true;
        throw new EngineError('gpu-device-lost', `${this.spec.label}: the GPU device was lost during the run (injected fault)`);
      }
      fault.afterRuns -= 1;
    }
    const ortFeeds: Record<string, import('onnxruntime-web').Tensor> = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      ortFeeds[name] = new this.ort.Tensor(tensor.type, tensor.data, tensor.dims);
      liveTensors += 1;
    }
    let results: import('onnxruntime-web').InferenceSession.OnnxValueMapType;
    try {
      results = await this.session.run(ortFeeds);
    } catch (error) {
      if (this.backend === 'webgpu' && (deviceLost || /device (is )?lost/i.test(describe(error)))) {
        deviceLost = true;
        throw new EngineError('gpu-device-lost', `${this.spec.label}: the GPU device was lost: ${describe(error)}`, {
          cause: error,
        });
      }
      throw new EngineError('internal', `${this.spec.label}: run failed: ${describe(error)}`, { cause: error });
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

  async releaseAsync(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }
}
