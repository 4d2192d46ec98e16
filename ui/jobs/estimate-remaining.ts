/**
 * A running job's time estimate, from its own step times: the mean step after the first (the
 * first also carries text encoding), times the steps left, plus the last VAE decode the engine
 * reported. Null until there is a step time to go on.
 */
import type { Job } from './job.js';

export function estimateRemainingMs(job: Pick<Job, 'step' | 'total' | 'elapsedMs' | 'firstStepMs'>, decodeMs = 0): number | null {
  if (job.step < 1 || job.elapsedMs === undefined) return null;
  const perStep =
    job.step >= 2 && job.firstStepMs !== undefined ? (job.elapsedMs - job.firstStepMs) / (job.step - 1) : job.elapsedMs / job.step;
  return Math.max(0, perStep * (job.total - job.step) + decodeMs);
}

/** "~4 s left", "~2 min left". */
export function formatRemaining(ms: number): string {
  const seconds = Math.max(1, Math.round(ms / 1000));
  return seconds < 90 ? `~${seconds} s left` : `~${Math.round(seconds / 60)} min left`;
}
