/**
 * Graph capture in the benchmarks: the choice as `npm run bench` and the /bench page read it, and
 * their one-line account of it (no engine imports: the page loads it).
 */
import type { BenchRequest, StageBenchResult } from './bench-types.js';

export type GraphCaptureChoice = NonNullable<BenchRequest['graphCapture']>;

/** Whether `value` (a flag's or a query's text) names a graph-capture choice. */
export function isGraphCaptureChoice(value: unknown): value is GraphCaptureChoice {
  return value === 'auto' || value === 'on' || value === 'off';
}

export function graphCaptureLine(capture: StageBenchResult['graphCapture'], images: number): string {
  const failure = capture.failure ? `; off after: ${capture.failure}` : '';
  const check =
    capture.checkMaxLevelDiff === undefined
      ? ''
      : `; the last image made again without capture differs by at most ${capture.checkMaxLevelDiff} level(s) of 255`;
  return `graph capture ${capture.option}: ${capture.capturedImages} of ${images} image(s) replayed${failure}${check}`;
}
