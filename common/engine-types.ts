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
  | { kind: 'files'; files: Record<string, Uint8Array | Blob>; description?: string; precision?: PrecisionChoice };

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
  'internal',
] as const;

export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];
