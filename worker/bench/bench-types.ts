/**
 * What a stage benchmark reports (worker/bench/stage-bench.ts), and what the benchmark page asks
 * its worker for: types only, so the page can import them without the engine.
 */
import type { Backend, StageTimings } from '../../common/engine-types.js';

/** One row of the table; warmMs is absent with a single image. */
export interface StageRow {
  stage: string;
  coldMs: number;
  warmMs?: number;
}

export interface StageBenchResult {
  backend: Backend;
  model: { name: string; id: string };
  width: number;
  height: number;
  steps: number;
  guidance: number;
  cfg: boolean;
  images: number;
  rows: StageRow[];
  /** From the call to the first image's PNG bytes (sessions included). */
  firstPngMs: number;
  /** Every image's stage timings, in order, and its wall time. */
  perImage: (StageTimings & { wallMs: number })[];
  sessionCreateMs: number[];
  /**
   * The runtime's graph capture: the option, how many images replayed a captured loop, why capture
   * stopped (if it did), and, when checked, the largest difference in 0–255 levels between the last
   * image as replayed and the same request on the regular sessions.
   */
  graphCapture: { option: string; capturedImages: number; failure?: string; checkMaxLevelDiff?: number };
  /** How the transformer's int8 weights multiplied (Sd3Runtime.int8MatMul; mode 'none': float weights). */
  int8MatMul: { mode: string; rebuildMs: number; fallback?: string };
}

export interface BenchRequest {
  backend: Backend;
  /** Square side in pixels, or the model's native size when absent. */
  size?: number;
  steps: number;
  guidance: number;
  images: number;
  /** RuntimeOptions.graphCapture (default auto). */
  graphCapture?: 'auto' | 'on' | 'off';
}

export interface BenchReport extends StageBenchResult {
  /** The built-in model read and checked, from the worker's start. */
  modelReadMs: number;
  /** From the worker's start (its performance.now() origin) to the first PNG. */
  workerStartToFirstPngMs: number;
  /** The worker's performance.timeOrigin (ms since the epoch), to put its times on the page's clock. */
  workerTimeOrigin: number;
  wasmThreads: number;
  crossOriginIsolated: boolean;
  userAgent: string;
  adapter?: string;
}

/** The benchmark worker's API (worker/bench-worker-entry.ts), as the page calls it through comlink. */
export interface BenchWorkerApi {
  runAsync(request: BenchRequest): Promise<BenchReport>;
}
