/**
 * The engine behind the comlink API (EngineApi). Host-neutral: the browser worker
 * exposes an instance with comlink, the CLI and benchmarks call it directly in Node.
 *
 * Backend choice, at run time: WebGPU when the host gives an adapter and the sessions can be
 * created on it, WASM otherwise; the reason for a fallback is kept and reported in
 * Capabilities.fallbackReason, ModelInfo.notes and every GenerationResult.notes.
 * A lost GPU device fails the job it happens in ('gpu-device-lost'); the next job rebuilds the
 * sessions on WASM, since onnxruntime-web keeps one WebGPU device per page and cannot replace it.
 *
 * Jobs run one at a time, in the order they were submitted. cancel(jobId) is honoured between
 * steps (and before a queued job starts): the job throws 'cancelled' and its tensors are freed.
 */
import type {
  Backend,
  Capabilities,
  EngineApi,
  GenerationProgress,
  GenerationRequest,
  GenerationResult,
  LoadProgress,
  ModelInfo,
  ModelSource,
} from '../../common/engine-types.js';
import { EngineError, engineErrorCodeOf } from './engine-error.js';
import { loadModelPackageAsync } from './load-model-package.js';
import type { FamilyPackage, FamilyRuntime, JobContext, LoadTarget } from './model-family.js';
import { isGpuDeviceLost, probeWebGpuAsync, type WebGpuProbe } from './ort-backend.js';

export interface EngineOptions {
  /** 'auto' (default): WebGPU when available, else WASM. 'webgpu' tries WebGPU and still falls back. */
  backend?: 'auto' | Backend;
  /**
   * Pretend the adapter's maxStorageBufferBindingSize is this many bytes (only ever lower in
   * practice): lets tests exercise the attention-size refusal on any GPU.
   */
  maxStorageBufferBindingSize?: number;
}

export class Engine implements EngineApi {
  private readonly preference: 'auto' | Backend;
  private readonly bindingSizeOverride?: number;
  private probe?: WebGpuProbe;
  private pkg?: FamilyPackage;
  private runtime?: FamilyRuntime;
  /** Why the current sessions are not on WebGPU, when they are not. */
  private fallbackReason?: string;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly cancelled = new Set<string>();
  private readonly pending = new Set<string>();

  constructor(options: EngineOptions = {}) {
    this.preference = options.backend ?? 'auto';
    this.bindingSizeOverride = options.maxStorageBufferBindingSize;
  }

  async capabilities(): Promise<Capabilities> {
    const probe = await this.probeAsync();
    const backend = this.runtime?.backend ?? this.preferredBackend(probe);
    const reason = backend === 'wasm' ? (this.fallbackReason ?? this.wasmReason(probe)) : undefined;
    return { backend, adapter: probe.adapter, shaderF16: probe.shaderF16, ...(reason ? { fallbackReason: reason } : {}) };
  }

  async loadModel(source: ModelSource, onProgress?: (progress: LoadProgress) => void): Promise<ModelInfo> {
    return this.enqueue(async () => {
      const probe = await this.probeAsync();
      const target: LoadTarget = {
        backend: this.preferredBackend(probe),
        shaderF16: probe.shaderF16,
        precision: 'auto',
        onConvertProgress: (component, producedBytes, totalBytes) =>
          onProgress?.({ file: `${component} (converting weights)`, loadedBytes: producedBytes, totalBytes }),
      };
      const pkg = await loadModelPackageAsync(source, onProgress, undefined, target);
      await this.releaseRuntimeAsync();
      this.pkg = pkg;
      this.runtime = await this.createRuntimeAsync(pkg);
      return this.modelInfo(pkg, this.runtime);
    });
  }

  async generate(request: GenerationRequest, onProgress?: (progress: GenerationProgress) => void): Promise<GenerationResult> {
    const jobId = request?.jobId;
    this.pending.add(jobId);
    try {
      return await this.enqueue(() => this.runJobAsync(request, onProgress));
    } finally {
      this.pending.delete(jobId);
      this.cancelled.delete(jobId);
    }
  }

  async cancel(jobId: string): Promise<void> {
    // Only jobs that are queued or running can be cancelled; others are already over.
    if (this.pending.has(jobId)) this.cancelled.add(jobId);
  }

  /** Releases every session (tests, CLI exit). */
  async dispose(): Promise<void> {
    await this.enqueue(() => this.releaseRuntimeAsync());
    this.pkg = undefined;
  }

  // -------------------------------------------------------------------------------------------

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runJobAsync(request: GenerationRequest, onProgress?: (p: GenerationProgress) => void): Promise<GenerationResult> {
    if (typeof request !== 'object' || request === null) throw new EngineError('invalid-request', 'request must be a GenerationRequest object');
    if (this.cancelled.has(request.jobId)) throw new EngineError('cancelled', `job ${request.jobId} was cancelled before it started`);
    if (!this.pkg) throw new EngineError('invalid-request', 'no model is loaded; call loadModel first');
    if (!this.runtime || (this.runtime.backend === 'webgpu' && isGpuDeviceLost())) {
      await this.releaseRuntimeAsync();
      this.runtime = await this.createRuntimeAsync(this.pkg);
    }
    const runtime = this.runtime;
    const job: JobContext = {
      onProgress,
      isCancelled: () => this.cancelled.has(request.jobId),
      maxStorageBufferBindingSize:
        runtime.backend === 'webgpu' ? (this.bindingSizeOverride ?? this.probe?.adapter?.maxStorageBufferBindingSize) : undefined,
      notes: this.fallbackReason && runtime.backend === 'wasm' ? [`running on WASM: ${this.fallbackReason}`] : [],
    };
    try {
      return request.init ? await runtime.generateFromImageAsync(request, job) : await runtime.generateAsync(request, job);
    } catch (error) {
      if (engineErrorCodeOf(error) === 'gpu-device-lost') {
        // The sessions are unusable now; the next job builds new ones (on WASM after a real loss).
        this.fallbackReason = 'the GPU device was lost during an earlier job';
        await this.releaseRuntimeAsync();
      }
      if (error instanceof EngineError) throw error;
      throw new EngineError('internal', `job ${request.jobId} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  private async probeAsync(): Promise<WebGpuProbe> {
    if (this.preference === 'wasm') return { shaderF16: false, unavailableReason: 'the WASM backend was requested' };
    if (!this.probe || isGpuDeviceLost()) this.probe = await probeWebGpuAsync();
    return this.probe;
  }

  private preferredBackend(probe: WebGpuProbe): Backend {
    if (this.preference === 'wasm' || isGpuDeviceLost()) return 'wasm';
    if (this.preference === 'webgpu') return 'webgpu';
    return probe.adapter ? 'webgpu' : 'wasm';
  }

  private wasmReason(probe: WebGpuProbe): string | undefined {
    if (isGpuDeviceLost()) return 'the GPU device was lost during an earlier job';
    return probe.unavailableReason;
  }

  /** Sessions on the preferred backend; WebGPU failures fall back to WASM with the reason kept. */
  private async createRuntimeAsync(pkg: FamilyPackage): Promise<FamilyRuntime> {
    const probe = await this.probeAsync();
    const backend = this.preferredBackend(probe);
    if (backend === 'webgpu') {
      try {
        const runtime = await pkg.createRuntimeAsync('webgpu');
        this.fallbackReason = undefined;
        return runtime;
      } catch (error) {
        this.fallbackReason = `WebGPU session creation failed (${error instanceof Error ? error.message : String(error)})`;
      }
    } else {
      // Asking for WASM is a choice, not a fallback: nothing to report then.
      this.fallbackReason = this.preference === 'wasm' ? undefined : this.wasmReason(probe);
    }
    return pkg.createRuntimeAsync('wasm');
  }

  private async releaseRuntimeAsync(): Promise<void> {
    const runtime = this.runtime;
    this.runtime = undefined;
    if (runtime) await runtime.releaseAsync();
  }

  private modelInfo(pkg: FamilyPackage, runtime: FamilyRuntime): ModelInfo {
    const notes = [...pkg.summary.notes];
    if (runtime.backend === 'wasm' && this.fallbackReason && this.preference !== 'wasm') notes.push(`running on WASM: ${this.fallbackReason}`);
    return { ...pkg.summary, backend: runtime.backend, notes };
  }
}

/** The engine with default options: WebGPU when the host has it, WASM otherwise. */
export function createEngine(options?: EngineOptions): Engine {
  return new Engine(options);
}
