/**
 * How a batch ended, counted from its jobs' statuses, so the queue rows, the panel's line and the
 * canvas toast always agree (a deleted layer's job is "skipped" in all three).
 */
import type { EngineErrorCode } from '../../common/engine-types.js';
import type { Job } from './job.js';
import { skippedLine } from './skip-reasons.js';

export interface BatchCounts {
  placed: number;
  skipped: number;
  failed: number;
  cancelled: number;
}

export function countBatch(jobs: readonly Job[]): BatchCounts {
  const counts = { placed: 0, skipped: 0, failed: 0, cancelled: 0 };
  for (const job of jobs) {
    if (job.status === 'done') counts.placed++;
    else if (job.status === 'skipped') counts.skipped++;
    else if (job.status === 'failed') counts.failed++;
    else if (job.status === 'cancelled') counts.cancelled++;
  }
  return counts;
}

/**
 * The panel's line when a batch did not place every image, with one detail per job that did not:
 * "2 of 4 placed · 1 skipped: 1 deleted · 1 failed". Null when every image was placed.
 */
export function batchLine(jobs: readonly Job[]): { text: string; details: string[] } | null {
  const counts = countBatch(jobs);
  if (counts.placed === jobs.length) return null;
  const parts = [`${counts.placed} of ${jobs.length} placed`];
  const skipped = jobs.filter((j) => j.status === 'skipped');
  if (skipped.length > 0) parts.push(skippedLine(skipped.map((j) => j.skipCode ?? 'deleted')));
  if (counts.failed) parts.push(`${counts.failed} failed`);
  if (counts.cancelled) parts.push(`${counts.cancelled} cancelled`);
  // A skipped job's reason names its layer already ("The layer “Hero” was deleted, …").
  const details = jobs
    .filter((j) => j.status !== 'done' && j.reason)
    .map((j) => (j.status === 'skipped' ? j.reason! : `“${j.label}”: ${j.reason}`));
  return { text: parts.join(' · '), details };
}

/** The canvas toast when a batch placed some images but not all; null otherwise. */
export function canvasSummary(counts: BatchCounts): string | null {
  const total = counts.placed + counts.skipped + counts.failed + counts.cancelled;
  if (counts.placed === total || counts.placed === 0) return null;
  const parts: string[] = [];
  if (counts.skipped) parts.push(`${counts.skipped} skipped because the layer was deleted or locked`);
  if (counts.failed) parts.push(`${counts.failed} failed`);
  if (counts.cancelled) parts.push(`${counts.cancelled} cancelled`);
  const lead = counts.placed === 1 ? '1 image added' : `${counts.placed} images added`;
  return `Flowfill: ${lead}; ${parts.join(', ')}.`;
}

/** What the canvas says when the engine fails, once per kind of error per batch. */
export function engineErrorToast(code: EngineErrorCode): string {
  switch (code) {
    case 'invalid-request':
      return 'Flowfill could not start this image: a setting is out of range. Check the panel and try again.';
    case 'model-missing-file':
    case 'model-corrupt':
      return 'The image model could not be loaded: a file is missing or damaged. Load the model again from the panel.';
    case 'model-mismatch':
      return 'The image model does not match this version of Flowfill. Load a compatible model from the panel.';
    case 'size-exceeds-gpu-limits':
      return 'This image is too large for your graphics card. Try a smaller frame.';
    case 'gpu-device-lost':
      return 'The graphics card stopped responding. Try again; closing other heavy tabs or apps can help.';
    case 'cancelled':
      return 'Generation was cancelled.';
    case 'storage-full':
    case 'download-failed':
      return 'A model could not be added. The panel says why.';
    case 'internal':
      return 'Something went wrong while generating. Try again.';
  }
}
