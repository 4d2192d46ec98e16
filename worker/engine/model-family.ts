/**
 * The seam between the generic engine and one model family (SD3 today, in sd3/). A family is
 * picked by model_index.json's `_class_name`, as diffusers' DiffusionPipeline.from_pretrained picks
 * the pipeline class, and then owns everything that depends on the architecture: its configs, how
 * its graphs are checked, how text becomes conditioning, the pipeline itself.
 *
 * The engine (engine.ts) only ever sees these three small interfaces: a family reads a package,
 * a package creates a runtime (sessions on one backend), a runtime generates and is released.
 * A new family is a sibling folder of sd3/ that implements them and is listed in model-families.ts.
 */
import type {
  Backend,
  GenerationProgress,
  GenerationRequest,
  GenerationResult,
  ModelInfo,
  PrecisionChoice,
  PromptCheck,
} from '../../common/engine-types.js';
import type { PackageFiles } from './package-source.js';
import type { FlowfillManifest } from './flowfill-manifest.js';
import type { VerifyingReader } from './verifying-reader.js';
import type { Int8MatMul } from './onnx/layers.js';

export interface ModelFamily {
  /** Short name used in messages and notes, e.g. "sd3". */
  readonly name: string;
  /** model_index.json `_class_name` values this family runs, e.g. "StableDiffusion3Pipeline". */
  readonly pipelineClasses: readonly string[];
  /**
   * Reads and checks a package (configs, graphs, tokenizers) before any session exists; every
   * failure is an EngineError naming the file. `reader` verifies sha256s as files are read; the
   * family calls `reader.finishAsync()` once it has read what it needs, for the package hash.
   */
  readPackageAsync(reader: VerifyingReader, index: PackageIndex, context?: LoadContext): Promise<FamilyPackage>;
}

/** What a family may need beyond the verified files: raw access to large files, and what the graphs will run on. */
export interface LoadContext {
  /** The package's files, for random access to checkpoints too large to read whole. */
  files: PackageFiles;
  /** Where the sessions will run and the precision asked for (families that build graphs use it). */
  target: LoadTarget;
}

export interface LoadTarget {
  backend: Backend;
  shaderF16: boolean;
  precision: PrecisionChoice;
  /** The attention kernel graphs built for this target use (./fused-attention-check.ts); 'fused' when absent. */
  attention?: 'fused' | 'unfused';
  /** Progress while a family converts weights (bytes of a component's graph produced so far). */
  onConvertProgress?: (component: string, producedBytes: number, totalBytes: number) => void;
}

/** The two files every package starts with, already read and checked by the generic loader. */
export interface PackageIndex {
  modelIndex: Record<string, unknown>;
  /** flowfill.json, when the package has one (its generic fields checked; family fields not yet). */
  manifest?: FlowfillManifest & Record<string, unknown>;
}

/** What the engine reports about a package: ModelInfo without the backend it runs on. */
export type PackageSummary = Omit<ModelInfo, 'backend'>;

/** A checked package of one family: no sessions yet. */
export interface FamilyPackage {
  readonly family: string;
  /** Some graph of the package uses com.microsoft MultiHeadAttention (to be avoided on devices where it is wrong). */
  readonly usesFusedAttention: boolean;
  readonly summary: PackageSummary;
  /**
   * Checks a request against the package without any session: 'invalid-request' naming the field,
   * the value and a valid alternative; otherwise the size that will be used and notes about it.
   */
  checkRequest(request: GenerationRequest): CheckedSettings;
  /** What the package's tokenizers make of a prompt, without any session. */
  checkPrompt(prompt: string): PromptCheck;
  /** Creates every inference session on `backend`; on failure releases what it created and rethrows. */
  createRuntimeAsync(backend: Backend, options?: RuntimeOptions): Promise<FamilyRuntime>;
}

/**
 * How a runtime runs its graphs. Hosts and benchmarks choose; every default is the measured best
 * or the safe choice, and none changes results beyond the parity tolerances.
 */
export interface RuntimeOptions {
  /** Classifier-free guidance as one batch-2 transformer call ('batch', default) or two batch-1 calls ('split'). */
  cfgCalls?: 'batch' | 'split';
  /**
   * Where text encoders run: 'auto' (default) puts small ones on WASM when the transformer is on
   * WebGPU; 'wasm' all of them; 'transformer' wherever the transformer runs.
   */
  textEncoderBackend?: 'auto' | 'wasm' | 'transformer';
  /** Least time between two live previews, ms (each one reads the latents back from the GPU). Default 250. */
  previewIntervalMs?: number;
  /**
   * GPU memory the model may use, in bytes. WebGPU cannot report a device's total memory (only
   * per-buffer limits), so this comes from the user. Set: text encoders are created when a prompt
   * needs them and released after it when keeping them would not fit, large decodes are tiled, and
   * a request that cannot fit fails before its sessions are created, saying what would fit
   * (sd3/memory-plan.ts). Absent: no limit, every session stays loaded.
   */
  memoryBudgetBytes?: number;
  /**
   * WebGPU: record the denoising loop's GPU work once per image size and replay it (onnxruntime's
   * graph capture; sd3/captured-loop.ts), checked against the regular sessions before use and
   * dropped for the runtime when the check fails. Same results as the regular path (the golden
   * parity test runs both). 'auto' (default): on for transformers of at most 512 MiB without a
   * memory budget (sd3/runtime.ts resolveGraphCapture: the captured loop holds a second transformer
   * session; on an H200 it took the default model's warm 512² image from 1,002 to 213 ms). 'on',
   * 'off': always, never. CFG split into two calls is never captured.
   */
  graphCapture?: 'auto' | 'on' | 'off';
  /**
   * How the transformer's int8 weights multiply (packages whose weights ship as int8, sd3/int8-matmul.ts):
   * 'auto' (default): 'dynamic-quantized' on WASM, 'dequantized' elsewhere. 'dequantized': folded to
   * float32 when the session is created, float32 products (exact; every backend). 'dynamic-quantized':
   * onnxruntime's DynamicQuantizeMatMul on the int8 weights, activations quantised per call (up to 2–3x
   * faster MatMuls on WASM; WASM only). Packages with float weights are unaffected.
   */
  int8MatMul?: 'auto' | Int8MatMul;
  /** VAE decode in tiles: 'auto' (default: when the budget or the decode's size calls for it), 'always', 'never'. */
  vaeTiling?: 'auto' | 'always' | 'never';
  /** Latent tile side for tiled decodes (default 128, diffusers' tile for SD3's VAE). */
  vaeTileLatentSize?: number;
}

/** What a request becomes after checking: the size used (rounded to the model's grid) and why. */
export interface CheckedSettings {
  width: number;
  height: number;
  notes: string[];
}

/** A package's sessions on one backend: what jobs run on. */
export interface FamilyRuntime {
  readonly backend: Backend;
  /** Text-to-image (request.init absent). */
  generateAsync(request: GenerationRequest, job: JobContext): Promise<GenerationResult>;
  /** Image-to-image (request.init present); 'invalid-request' when the package cannot encode images. */
  generateFromImageAsync(request: GenerationRequest, job: JobContext): Promise<GenerationResult>;
  releaseAsync(): Promise<void>;
}

/** What the engine around a pipeline provides for one job. */
export interface JobContext {
  onProgress?: (progress: GenerationProgress) => void;
  /** Checked between steps; true stops the job with EngineError 'cancelled'. */
  isCancelled: () => boolean;
  /** Set when running on WebGPU: the adapter's maxStorageBufferBindingSize, for attention-size checks. */
  maxStorageBufferBindingSize?: number;
  /** Notes from the engine (e.g. why it runs on WASM) to carry into the result. */
  notes: string[];
}
