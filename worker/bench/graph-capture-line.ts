/**
 * The benchmark's one-line account of graph capture, printed by `npm run bench` and the /bench page
 * alike (no engine imports: the page loads it).
 */
import type { StageBenchResult } from './bench-types.js';

export function graphCaptureLine(capture: StageBenchResult['graphCapture'], images: number): string {
  const failure = capture.failure ? `; off after: ${capture.failure}` : '';
  const check =
    capture.checkMaxLevelDiff === undefined
      ? ''
      : `; the last image made again without capture differs by at most ${capture.checkMaxLevelDiff} level(s) of 255`;
  return `graph capture ${capture.option}: ${capture.capturedImages} of ${images} image(s) replayed${failure}${check}`;
}
