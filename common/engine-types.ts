/**
 * The engine's public contract, shared by the worker (which implements it),
 * the UI (which calls it over comlink) and the CLI/benchmarks (which call it directly in Node).
 * Types (and the one list of error codes): nothing here may import onnxruntime or touch the DOM.
 */

export type Backend = 'webgpu' | 'wasm';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
  /** GPUAdapterInfo.isFallbackAdapter: the browser says this adapter may be slow (often a CPU rasteriser). */
  isFallbackAdapter: boolean;
  /** A CPU rasteriser (isFallbackAdapter, or SwiftShader, llvmpipe, lavapipe, …): WebGPU on it is slower than WASM. */
  software: boolean;
  /** GPUSupportedLimits.maxStorageBufferBindingSize, bytes. */
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export interface Capabilities {
  /** The backend the engine runs on (or will, once a model is loaded); 'webgpu' only with an adapter. */
  backend: Backend;
  /** Why that backend, in words: e.g. "the only WebGPU adapter is a software rasteriser (google swiftshader) …". */
  backendReason: string;
  adapter?: AdapterInfo;
  shaderF16: boolean;
  /** Why WebGPU is not used, when backend is 'wasm' and WASM was not asked for. */
  fallbackReason?: string;
}

/**
 * Numeric precision of graphs the engine builds from a checkpoint (diffusers folders):
 * 'fp32'; 'fp16' (half weights and products, needs WebGPU shader-f16); 'int8' / 'int4'
 * (weight-only quantised big matrices, float32 activations). 'auto' picks fp16 where the adapter
 * has shader-f16, else fp32. Packages of ready-made ONNX graphs run in the precision they were
 * exported in, whatever is asked.
 */
export type PrecisionChoice = 'auto' | 'fp32' | 'fp16' | 'int8' | 'int4';

/** Which backend a host asks for: 'auto' picks WebGPU on a hardware adapter, WASM otherwise. */
export type BackendPreference = 'auto' | Backend;

/** Where a model package comes from. */
export type ModelSource =
  | { kind: 'embedded' }
  | { kind: 'url'; baseUrl: string; precision?: PrecisionChoice }
  /**
   * Files keyed by their path inside the package, e.g. "transformer/model.onnx". `description`
   * names them in messages ("the folder ~/models/sd3"); without it they are "the picked files".
   */
  | { kind: 'files'; files: Record<string, Uint8Array | Blob>; description?: string; precision?: PrecisionChoice }
  /**
   * A package the model store holds (ModelStoreApi), by StoredModel.id. It runs in the precision it
   * was written in. Only hosts that register a store (the browser worker) can open it.
   */
  | { kind: 'stored'; id: string };

export interface LoadProgress {
  file: string;
  loadedBytes: number;
  totalBytes?: number;
}

export interface ModelInfo {
  id: string;
  name: string;
  /** sha256 of model_index.json + component hashes, hex; identifies the weights in provenance. */
  hash: string;
  licence?: string;
  attribution?: string;
  backend: Backend;
  /** Native generation area side in pixels (sample_size · vae_scale_factor). */
  nativeSize: number;
  /** Largest side the positional grid covers, pixels (pos_embed_max_size · patch_size · vae_scale_factor). */
  maxSide: number;
  /** Pixel sizes must be multiples of this (vae_scale_factor · patch_size). */
  sizeMultiple: number;
  hasTextEncoder: boolean;
  supportsImageToImage: boolean;
  /** Settings the model's authors recommend (flowfill.json "recommended"), when given. */
  recommended?: { steps?: number; guidance?: number; shift?: number };
  /** How the package arrived: ready-made ONNX graphs, or a diffusers checkpoint converted on load. */
  format?: 'onnx' | 'diffusers';
  /** The precision graphs were built in (diffusers checkpoints), e.g. 'fp16'. */
  precision?: Exclude<PrecisionChoice, 'auto'>;
  /** Bytes of weights the sessions hold (all graphs), when known. */
  weightBytes?: number;
  notes: string[];
}

export interface InitImage {
  /** RGBA8, row-major, width·height·4 bytes. */
  rgba: Uint8Array;
  width: number;
  height: number;
}

export interface GenerationRequest {
  jobId: string;
  prompt: string;
  negativePrompt?: string;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  /** uint32 */
  seed: number;
  init?: InitImage;
  /** (0, 1]; only with init. */
  strength?: number;
  /** Overrides scheduler_config.shift. */
  shift?: number;
}

export interface GenerationProgress {
  jobId: string;
  step: number;
  total: number;
  elapsedMs: number;
  /** Small RGB preview of the predicted clean latent (RGBA8), may be absent. */
  preview?: { rgba: Uint8Array; width: number; height: number };
}

export interface StageTimings {
  textEncodeMs: number;
  /**
   * CPU time of each denoising step. On WebGPU the loop stays on the GPU and a step's time is the
   * time to queue its work; denoiseMs (the whole loop, its final readback included) is the wall time.
   */
  denoiseStepMs: number[];
  /** The whole denoising loop, ms, until its final latents were back on the CPU. */
  denoiseMs?: number;
  vaeDecodeMs: number;
  vaeEncodeMs?: number;
  totalMs: number;
}

export interface GenerationResult {
  jobId: string;
  png: Uint8Array;
  width: number;
  height: number;
  seed: number;
  /** The exact settings used, after validation/defaulting (size may have been planned). */
  settings: Omit<GenerationRequest, 'init' | 'jobId'> & { hasInit: boolean };
  timings: StageTimings;
  backend: Backend;
  modelId: string;
  modelHash: string;
  notes: string[];
}

export interface EngineApi {
  capabilities(): Promise<Capabilities>;
  loadModel(source: ModelSource, onProgress?: (p: LoadProgress) => void): Promise<ModelInfo>;
  generate(request: GenerationRequest, onProgress?: (p: GenerationProgress) => void): Promise<GenerationResult>;
  cancel(jobId: string): Promise<void>;
  /** Where the next model load runs: 'auto' (WebGPU on a hardware adapter, else WASM), or forced. */
  setBackendPreference?(preference: BackendPreference): void | Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The model store (browser worker only): models kept in the origin's private file system (OPFS),
// or, where the origin has no storage (Figma's null-origin plugin frame), for the session only.

/** A model the store holds, or a folder picked for this session. */
export interface StoredModel {
  /** The package's ModelInfo.id (what provenance records), also the store's key. */
  id: string;
  name: string;
  /** The package's ModelInfo.hash (provenance). */
  hash: string;
  /** Bytes the package takes in the store (for a session model: the picked files). */
  bytes: number;
  /** Precision of the package's graphs, when known (converted checkpoints record it). */
  precision?: Exclude<PrecisionChoice, 'auto'>;
  licence?: string;
  /** Where it came from, in words: "the folder sd35m_style", a URL. */
  source: string;
  /** True when a diffusers checkpoint was converted into a Flowfill package as it was added. */
  converted: boolean;
  /** When it was added, ISO 8601. */
  addedAt: string;
  /** 'stored': kept in OPFS across sessions; 'session': picked files, gone when the panel closes. */
  kept: 'stored' | 'session';
}

/** A download that stopped part way; its bytes are kept, and adding the same URL resumes it. */
export interface PartialDownload {
  url: string;
  bytes: number;
  totalBytes?: number;
}

export interface StoreStatus {
  /** True when added models are kept across sessions (the origin has OPFS). */
  persistent: boolean;
  /** Why added models last only for this session, when they do. */
  sessionOnlyReason?: string;
  /** navigator.storage.persisted(): the browser will not evict the store under storage pressure. */
  persisted?: boolean;
  /** navigator.storage.estimate(), bytes, when the origin has storage. */
  usageBytes?: number;
  quotaBytes?: number;
  models: StoredModel[];
  /** The model to load when the panel starts (the last one added or used); absent: the built-in one. */
  currentId?: string;
  /** Bytes of the model built into this build, when there is one. */
  builtInBytes?: number;
  partialDownloads: PartialDownload[];
  /** Diffusers checkpoints converted by this worker since it started (a stored model never needs one). */
  conversionsThisSession: number;
}

/** Where a model to add comes from. */
export type InstallSource =
  /** A picked folder (diffusers checkpoint or Flowfill/Optimum ONNX package), keyed by path. */
  | { kind: 'files'; files: Record<string, Blob>; description: string }
  /** The base URL of such a folder, e.g. https://huggingface.co/<org>/<repo>/resolve/main/. */
  | { kind: 'url'; baseUrl: string };

export interface InstallProgress {
  stage: 'checking' | 'downloading' | 'converting' | 'copying' | 'verifying';
  /** The file being worked on. */
  file?: string;
  /** Bytes of the stage done so far, and its total when known. */
  doneBytes: number;
  totalBytes?: number;
  /** Download speed over the last few seconds, bytes per second. */
  bytesPerSecond?: number;
}

export interface InstallResult {
  model: StoredModel;
  /** Set when adding already loaded the model into the engine (session models): no loadModel needed. */
  loaded?: ModelInfo;
}

export interface ModelStoreApi {
  storeStatus(): Promise<StoreStatus>;
  /**
   * Adds a model: checks the space it needs before writing, converts a diffusers checkpoint once
   * into a Flowfill package, verifies it loads, and only then lists it. `installId` names the
   * install for cancelInstall. Rejects with 'storage-full', 'download-failed', 'cancelled' or a
   * model-* code; nothing half-written is ever listed.
   */
  installModel(
    installId: string,
    source: InstallSource,
    options?: { precision?: PrecisionChoice },
    onProgress?: (p: InstallProgress) => void,
  ): Promise<InstallResult>;
  cancelInstall(installId: string): Promise<void>;
  /** Removes a model (or discards a partial download by its URL) and frees its space. */
  removeModel(idOrUrl: string): Promise<StoreStatus>;
  /** Remembers which model the panel loads at start (undefined: the built-in one). */
  setCurrentModel(id: string | undefined): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Diagnostics: what the host gives the engine, and a tiny self-test on each backend.

export interface GpuAdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
  /** GPUAdapterInfo.subgroupMinSize / subgroupMaxSize, where the browser reports them. */
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /** The limits that bound model size and attention length. */
  limits: Record<string, number>;
}

export interface SelfTestResult {
  backend: Backend;
  ok: boolean;
  /** Session creation (graph load, and on WebGPU the first shader compiles of the session), ms. */
  loadMs?: number;
  /** First run (on WebGPU: includes compiling the kernels), ms. */
  firstRunMs?: number;
  /** Median of the following runs, ms. */
  stepMs?: number;
  /** Largest |difference| from the plain-JavaScript reference. */
  maxAbsError?: number;
  error?: string;
}

export interface AttentionCheck {
  backend: Backend;
  /** Sequence length, heads and head size of the check. */
  tokens: number;
  heads: number;
  headSize: number;
  /** com.microsoft MultiHeadAttention vs a plain-JavaScript softmax(QKᵀ/√d)V. */
  maxAbsError?: number;
  ok: boolean;
  error?: string;
}

export interface EngineDiagnostics {
  /** The worker's own view: isSecureContext, crossOriginIsolated, hardwareConcurrency. */
  worker: { secureContext: boolean; crossOriginIsolated: boolean; hardwareConcurrency?: number; userAgent?: string };
  webAssembly: { compiles: boolean; simd: boolean; threads: boolean; error?: string };
  webgpu: { available: boolean; reason?: string; adapter?: GpuAdapterReport };
  ort: { version: string; build: string; wasmThreads: number; proxy: boolean };
  /** The backend the engine runs models on now, and why not WebGPU when it is WASM. */
  backend: Backend;
  fallbackReason?: string;
  selfTests: SelfTestResult[];
  attention: AttentionCheck[];
}

export interface DiagnosticsApi {
  /** Runs the self-tests (a few seconds; on a fresh WebGPU device mostly shader compiles). */
  diagnostics(): Promise<EngineDiagnostics>;
}

/** What the browser worker exposes over comlink. */
export interface WorkerApi extends EngineApi, ModelStoreApi, DiagnosticsApi {
  setBackendPreference(preference: BackendPreference): Promise<void>;
}

/** Error codes the engine throws (as `EngineError`), so hosts can show plain-language messages. */
export const ENGINE_ERROR_CODES = [
  'invalid-request',
  'model-missing-file',
  'model-corrupt',
  'model-mismatch',
  'size-exceeds-gpu-limits',
  'gpu-device-lost',
  'cancelled',
  /** The model store: not enough space for a model, checked before writing or hit while writing. */
  'storage-full',
  /** The model store: a download failed after its retries (its bytes are kept to resume). */
  'download-failed',
  'internal',
] as const;

export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];
