/**
 * The engine behind the comlink API (EngineApi). Host-neutral: the browser worker
 * exposes an instance with comlink, the CLI and benchmarks call it directly in Node.
 *
 * Backend choice (choose-backend.ts): WebGPU on a hardware adapter, WASM otherwise or when asked;
 * a software adapter only when WebGPU is asked for. The reason is reported in
 * Capabilities.backendReason, ModelInfo.notes and every GenerationResult.notes.
 * A lost GPU device fails the job it happens in ('gpu-device-lost'); the next job rebuilds the
 * sessions on WASM, since onnxruntime-web keeps one WebGPU device per page and cannot replace it.
 *
 * Jobs run one at a time, in the order they were submitted. cancel(jobId) is honoured between
 * steps (and before a queued job starts): the job throws 'cancelled' and its tensors are freed.
 */
import type {
  Backend,
  BackendPreference,
  Capabilities,
  EngineApi,
  GenerationProgress,
  GenerationRequest,
  GenerationResult,
  LoadProgress,
  ModelInfo,
  ModelSource,
  PromptCheck,
} from '../../common/engine-types.js';
import { chooseBackend, type BackendChoice } from './choose-backend.js';
import { EngineError, engineErrorCodeOf } from './engine-error.js';
import { decideAttentionKernelAsync, type AttentionKernelDecision } from './fused-attention-check.js';
import { loadModelPackageAsync } from './load-model-package.js';
import type { FamilyPackage, FamilyRuntime, JobContext, LoadTarget, RuntimeOptions } from './model-family.js';
import { isGpuDeviceLost, probeWebGpuAsync, type WebGpuProbe } from './ort-backend.js';

export interface EngineOptions {
  /**
   * 'auto' (default): WebGPU on a hardware adapter, else WASM. 'webgpu': WebGPU on any adapter,
   * a software one included, and WASM only when there is none or its sessions fail. 'wasm': WASM.
   */
  backend?: BackendPreference;
  /**
   * Pretend the adapter's maxStorageBufferBindingSize is this many bytes (only ever lower in
   * practice): lets tests exercise the attention-size refusal on any GPU.
   */
  maxStorageBufferBindingSize?: number;
  /** How sessions run the graphs (graph capture, CFG calls, text-encoder placement, preview rate). */
  runtime?: RuntimeOptions;
}

export class Engine implements EngineApi {
  private preference: BackendPreference;
  private readonly bindingSizeOverride?: number;
  private readonly runtimeOptions: RuntimeOptions;
  private probe?: WebGpuProbe;
  private pkg?: FamilyPackage;
  /** How attention runs on this page's GPU (decided once, before the first WebGPU session). */
  private attention?: AttentionKernelDecision;
  private runtime?: FamilyRuntime;
  /** Why the current sessions are not on WebGPU although WASM was not asked for. */
  private fallbackReason?: string;
  /** Why the current sessions run where they do. */
  private runtimeReason?: string;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly cancelled = new Set<string>();
  private readonly pending = new Set<string>();

  constructor(options: EngineOptions = {}) {
    this.preference = options.backend ?? 'auto';
    this.bindingSizeOverride = options.maxStorageBufferBindingSize;
    this.runtimeOptions = options.runtime ?? {};
  }

  async capabilities(): Promise<Capabilities> {
    const probe = await this.probeAsync();
    const planned = this.choose(probe);
    const backend = this.runtime?.backend ?? planned.backend;
    const reason = this.runtime ? (this.runtimeReason ?? planned.reason) : planned.reason;
    const fallback = backend === 'wasm' ? (this.runtime ? this.fallbackReason : planned.fallback) : undefined;
    return {
      backend,
      backendReason: reason,
      ...(probe.adapter ? { adapter: probe.adapter } : {}),
      shaderF16: probe.shaderF16,
      ...(fallback ? { fallbackReason: fallback } : {}),
    };
  }

  async loadModel(source: ModelSource, onProgress?: (progress: LoadProgress) => void): Promise<ModelInfo> {
    return this.enqueue(async () => {
      // Packages whose graphs are built here (diffusers checkpoints) are built for where they will run.
      const probe = await this.probeAsync();
      const choice = this.choose(probe);
      const attention = await this.attentionKernelAsync(choice.backend);
      const target: LoadTarget = {
        backend: choice.backend,
        shaderF16: probe.shaderF16,
        precision: 'auto',
        attention: attention?.kernel ?? 'fused',
        onConvertProgress: (component, producedBytes, totalBytes) =>
          onProgress?.({ file: `${component} (converting weights)`, loadedBytes: producedBytes, totalBytes }),
      };
      return this.usePackageAsync(await loadModelPackageAsync(source, onProgress, undefined, target));
    });
  }

  /**
   * Loads a package the caller has already read (loadModelPackageAsync) or assembled (e.g. an SD3
   * package from graphs built in memory): in-process hosts check a request against the package
   * (FamilyPackage.checkRequest) before any session exists, then hand it over here.
   */
  async loadPackage(pkg: FamilyPackage): Promise<ModelInfo> {
    return this.enqueue(() => this.usePackageAsync(pkg));
  }

  /**
   * What the loaded model's tokenizers make of a prompt. Not queued: the panel asks as the designer
   * types, and the answer needs only the package, not the sessions a running job holds.
   */
  async checkPrompt(prompt: string): Promise<PromptCheck> {
    if (!this.pkg) throw new EngineError('invalid-request', 'no model is loaded; load one before checking a prompt');
    return this.pkg.checkPrompt(prompt);
  }

  /** Changes the backend the next model load (or the next job after a lost device) runs on. */
  setBackendPreference(preference: BackendPreference): void {
    if (preference !== 'auto' && preference !== 'webgpu' && preference !== 'wasm') {
      throw new EngineError('invalid-request', `backend ${JSON.stringify(preference)} is unknown; use "auto", "webgpu" or "wasm"`);
    }
    this.preference = preference;
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
    if (typeof request !== 'object' || request === null)
      throw new EngineError('invalid-request', 'request must be a GenerationRequest object');
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
      notes: [this.backendNote(runtime)],
    };
    try {
      return request.init ? await runtime.generateFromImageAsync(request, job) : await runtime.generateAsync(request, job);
    } catch (error) {
      if (engineErrorCodeOf(error) === 'gpu-device-lost') {
        // The sessions are unusable now; the next job builds new ones (on WASM after a real loss).
        await this.releaseRuntimeAsync();
      }
      if (error instanceof EngineError) throw error;
      throw new EngineError('internal', `job ${request.jobId} failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  }

  private async usePackageAsync(pkg: FamilyPackage): Promise<ModelInfo> {
    await this.releaseRuntimeAsync();
    this.pkg = pkg;
    this.runtime = await this.createRuntimeAsync(pkg);
    return this.modelInfo(pkg, this.runtime);
  }

  private async probeAsync(): Promise<WebGpuProbe> {
    if (this.preference === 'wasm') return { shaderF16: false, unavailableReason: 'the WASM backend was asked for' };
    if (!this.probe || isGpuDeviceLost()) this.probe = await probeWebGpuAsync();
    return this.probe;
  }

  private choose(probe: WebGpuProbe): BackendChoice {
    return chooseBackend(this.preference, probe, isGpuDeviceLost());
  }

  /**
   * The attention kernel for graphs on `backend` (decided once per page, before the first WebGPU
   * session); undefined when the check itself could not run (WebGPU then fails or falls back later).
   */
  private async attentionKernelAsync(backend: Backend): Promise<AttentionKernelDecision | undefined> {
    if (backend !== 'webgpu') return undefined;
    try {
      this.attention = await decideAttentionKernelAsync('webgpu');
    } catch {
      this.attention = undefined;
    }
    return this.attention;
  }

  /** Sessions on the chosen backend; WebGPU failures fall back to WASM with the reason kept. */
  private async createRuntimeAsync(pkg: FamilyPackage): Promise<FamilyRuntime> {
    let choice = this.choose(await this.probeAsync());
    if (choice.backend === 'webgpu' && pkg.usesFusedAttention && (await this.attentionKernelAsync('webgpu'))?.kernel === 'unfused') {
      // This package brings its own fused attention, which this GPU computes wrongly: WASM is right.
      const why = "this GPU computes the package's fused attention wrongly (see the attention check in the notes)";
      choice = { backend: 'wasm', reason: why, fallback: why };
    }
    if (choice.backend === 'webgpu') {
      try {
        const runtime = await pkg.createRuntimeAsync('webgpu', this.runtimeOptions);
        this.fallbackReason = undefined;
        this.runtimeReason = choice.reason;
        return runtime;
      } catch (error) {
        this.fallbackReason = `WebGPU session creation failed (${error instanceof Error ? error.message : String(error)})`;
        this.runtimeReason = this.fallbackReason;
      }
    } else {
      this.fallbackReason = choice.fallback;
      this.runtimeReason = choice.reason;
    }
    return pkg.createRuntimeAsync('wasm', this.runtimeOptions);
  }

  private async releaseRuntimeAsync(): Promise<void> {
    const runtime = this.runtime;
    this.runtime = undefined;
    if (runtime) await runtime.releaseAsync();
  }

  private modelInfo(pkg: FamilyPackage, runtime: FamilyRuntime): ModelInfo {
    const attentionNote = runtime.backend === 'webgpu' || pkg.usesFusedAttention ? this.attention?.note : undefined;
    return {
      ...pkg.summary,
      backend: runtime.backend,
      notes: [...pkg.summary.notes, this.backendNote(runtime), ...(attentionNote ? [attentionNote] : [])],
    };
  }

  /** "running on WASM: <why>" or "running on WebGPU: <why>", in ModelInfo and every result. */
  private backendNote(runtime: FamilyRuntime): string {
    return `running on ${runtime.backend === 'webgpu' ? 'WebGPU' : 'WASM'}: ${this.runtimeReason ?? 'as asked'}`;
  }
}

/** The engine with default options: WebGPU on a hardware adapter, WASM otherwise. */
export function createEngine(options?: EngineOptions): Engine {
  return new Engine(options);
}
