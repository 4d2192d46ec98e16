/**
 * Per-stage timing of the SD3 pipeline on one backend, shared by `npm run bench` (Node) and the
 * playground's /bench page (a browser worker), so both print the same table.
 *
 * Cold = the first of everything in this runtime: the first session creation (on a fresh process
 * or worker it includes compiling onnxruntime's .wasm) and the first image (on WebGPU its first
 * transformer and VAE runs compile their shaders). Warm = the median over the later images on the
 * same sessions, and a second session creation after releasing the first: what a user pays for
 * every image after the model is loaded, and for reloading it.
 *
 * On WebGPU the denoising loop stays on the GPU, so a step's own time is only the time to queue
 * its work; the loop's wall time (final readback included) divided by the steps is the real cost,
 * and both are reported.
 */
import type { Backend, GenerationRequest, StageTimings } from '../../common/engine-types.js';
import type { StageBenchResult, StageRow } from './bench-types.js';
import type { RuntimeOptions } from '../engine/model-family.js';
import { decodePng } from '../engine/png.js';
import { generateAsync } from '../engine/sd3/pipeline.js';
import type { Sd3Package } from '../engine/sd3/package.js';
import { createSd3RuntimeAsync, releaseSd3RuntimeAsync } from '../engine/sd3/runtime.js';

export type { StageBenchResult, StageRow } from './bench-types.js';

export interface StageBenchOptions {
  backend: Backend;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  /** Images on the same sessions; the first is cold, the median of the others is warm. */
  images: number;
  prompt?: string;
  runtimeOptions?: RuntimeOptions;
  /** Called after each phase, e.g. to sample memory or print progress. */
  onPhase?: (phase: string) => void;
}

export const BENCH_PROMPT = 'a rocket, flat style, on a teal background';

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export async function runStageBenchAsync(pkg: Sd3Package, options: StageBenchOptions): Promise<StageBenchResult> {
  const started = performance.now();
  const cfg = options.guidance > 1;
  const sessionCreateMs: number[] = [];
  const perImage: StageBenchResult['perImage'] = [];
  let firstPngMs = Number.NaN;
  const runtime = await createSd3RuntimeAsync(pkg, options.backend, options.runtimeOptions);
  const graphCapture: StageBenchResult['graphCapture'] = { option: runtime.options.graphCapture, capturedImages: 0 };
  sessionCreateMs.push(runtime.sessionCreateMs);
  options.onPhase?.('sessions created');
  try {
    let last: { request: GenerationRequest; png: Uint8Array } | undefined;
    for (let i = 0; i < options.images; i++) {
      const request: GenerationRequest = {
        jobId: `bench-${i}`,
        prompt: options.prompt ?? BENCH_PROMPT,
        width: options.width,
        height: options.height,
        steps: options.steps,
        guidance: options.guidance,
        seed: i,
      };
      const mark = performance.now();
      const result = await generateAsync(runtime, request, { isCancelled: () => false, notes: [] });
      const wallMs = performance.now() - mark;
      if (i === 0) firstPngMs = performance.now() - started;
      if (result.png.byteLength === 0) throw new Error(`image ${i + 1} came back without PNG bytes`);
      perImage.push({ ...result.timings, wallMs });
      last = { request, png: result.png };
      options.onPhase?.(`image ${i + 1}/${options.images}`);
    }
    graphCapture.capturedImages = runtime.capturedImages;
    if (runtime.captureFailure !== undefined) graphCapture.failure = runtime.captureFailure;
    // Images replayed by graph capture: the last request again on the regular sessions, to report
    // how far the two PNGs differ.
    if (last && runtime.capturedImages > 0) {
      runtime.options.graphCapture = 'off';
      const again = await generateAsync(
        runtime,
        { ...last.request, jobId: 'bench-capture-check' },
        { isCancelled: () => false, notes: [] },
      );
      graphCapture.checkMaxLevelDiff = maxLevelDiff(decodePng(last.png).rgba, decodePng(again.png).rgba);
      options.onPhase?.('capture checked');
    }
  } finally {
    await releaseSd3RuntimeAsync(runtime);
  }
  if (options.images > 1) {
    // A second creation in the same process: onnxruntime's .wasm is compiled and warm by now.
    const again = await createSd3RuntimeAsync(pkg, options.backend, options.runtimeOptions);
    sessionCreateMs.push(again.sessionCreateMs);
    await releaseSd3RuntimeAsync(again);
    options.onPhase?.('sessions created again');
  }
  return {
    backend: options.backend,
    model: { name: pkg.name, id: pkg.id },
    width: options.width,
    height: options.height,
    steps: options.steps,
    guidance: options.guidance,
    cfg,
    images: options.images,
    rows: stageRows(sessionCreateMs, perImage),
    firstPngMs,
    perImage,
    sessionCreateMs,
    graphCapture,
    int8MatMul: runtime.int8MatMul,
  };
}

function maxLevelDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return 255;
  let max = 0;
  for (let k = 0; k < a.length; k++) max = Math.max(max, Math.abs(a[k] - b[k]));
  return max;
}

/** What each stage took in one image, by the row names of the table. */
function stagesOfImage(t: StageTimings & { wallMs: number }): Record<string, number> {
  const steps = t.denoiseStepMs;
  const loop = t.denoiseMs ?? steps.reduce((sum, ms) => sum + ms, 0);
  return {
    'text encoding': t.textEncodeMs,
    'denoise step, first': steps[0] ?? Number.NaN,
    'denoise step, median': median(steps),
    'denoise loop, wall': loop,
    'denoise loop / steps': steps.length ? loop / steps.length : Number.NaN,
    'VAE decode': t.vaeDecodeMs,
    'pixels to PNG': t.encodeImageMs ?? Number.NaN,
    'image (prompt to PNG)': t.wallMs,
  };
}

/** The table: session creation, then each stage of an image; cold = first, warm = median of the rest. */
export function stageRows(sessionCreateMs: number[], perImage: (StageTimings & { wallMs: number })[]): StageRow[] {
  const rows: StageRow[] = [
    {
      stage: 'session creation (all graphs)',
      coldMs: sessionCreateMs[0],
      ...(sessionCreateMs.length > 1 ? { warmMs: median(sessionCreateMs.slice(1)) } : {}),
    },
  ];
  if (perImage.length === 0) return rows;
  const byImage = perImage.map(stagesOfImage);
  for (const stage of Object.keys(byImage[0])) {
    const later = byImage.slice(1).map((image) => image[stage]);
    rows.push({ stage, coldMs: byImage[0][stage], ...(later.length ? { warmMs: median(later) } : {}) });
  }
  return rows;
}

/** Milliseconds for a table cell: one decimal, '—' for a stage that was not measured. */
export function formatMs(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) ? '—' : ms.toFixed(1);
}
