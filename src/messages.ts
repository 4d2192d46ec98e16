/** What Flowfill tells people on the canvas, in plain language. */
import type { EngineErrorCode } from '../common/engine-types.js';

export function engineErrorText(code: EngineErrorCode): string {
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
    case 'internal':
      return 'Something went wrong while generating. Try again.';
  }
}

export function batchSummary(counts: { applied: number; dropped: number; failed: number; cancelled: number }): string | null {
  const total = counts.applied + counts.dropped + counts.failed + counts.cancelled;
  if (counts.applied === total) return null;
  const parts: string[] = [];
  if (counts.dropped) parts.push(`${counts.dropped} skipped because the layer was deleted or changed`);
  if (counts.failed) parts.push(`${counts.failed} failed`);
  if (counts.cancelled) parts.push(`${counts.cancelled} cancelled`);
  const lead = counts.applied === 1 ? '1 image added' : `${counts.applied} images added`;
  return `Flowfill: ${lead}; ${parts.join(', ')}.`;
}
