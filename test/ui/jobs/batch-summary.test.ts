import { batchLine, canvasSummary, countBatch } from '../../../ui/jobs/batch-summary.js';
import type { Job } from '../../../ui/jobs/job.js';
import { estimateRemainingMs, formatRemaining } from '../../../ui/jobs/estimate-remaining.js';
import { skippedLine } from '../../../ui/jobs/skip-reasons.js';

function job(label: string, patch: Partial<Job>): Job {
  return {
    jobId: label,
    batchId: 'b',
    kind: 'fill',
    label,
    request: { prompt: 'p', width: 64, height: 64, steps: 10, guidance: 4, seed: 1 },
    destination: { kind: 'existing', nodeId: label },
    status: 'done',
    step: 10,
    total: 10,
    ...patch,
  };
}

test('the grouped line counts reasons, most common first', () => {
  expect(skippedLine(['locked', 'text', 'locked'])).toBe('3 skipped: 2 locked, 1 text');
  expect(skippedLine(['unsupported'])).toBe('1 skipped: 1 unsupported type');
});

test('the batch line and the canvas toast count from the jobs’ own statuses, so they agree with the rows', () => {
  const jobs = [
    job('A', {}),
    job('B', { status: 'skipped', skipCode: 'deleted', reason: 'The layer “B” was deleted, so its image was not made.' }),
    job('C', { status: 'failed', reason: 'The settings were not accepted' }),
    job('D', { status: 'cancelled' }),
  ];
  expect(countBatch(jobs)).toEqual({ placed: 1, skipped: 1, failed: 1, cancelled: 1 });
  expect(batchLine(jobs)).toEqual({
    text: '1 of 4 placed · 1 skipped: 1 deleted · 1 failed · 1 cancelled',
    details: ['The layer “B” was deleted, so its image was not made.', '“C”: The settings were not accepted'],
  });
  expect(canvasSummary(countBatch(jobs))).toBe(
    'Flowfill: 1 image added; 1 skipped because the layer was deleted or locked, 1 failed, 1 cancelled.',
  );
  expect(batchLine([job('A', {})])).toBeNull();
  expect(canvasSummary({ placed: 2, skipped: 0, failed: 0, cancelled: 0 })).toBeNull();
  expect(canvasSummary({ placed: 0, skipped: 0, failed: 2, cancelled: 0 })).toBeNull();
});

test('a running job’s estimate comes from its step times after the first, plus the last decode', () => {
  expect(estimateRemainingMs({ step: 0, total: 10 })).toBeNull();
  // Step 1 at 900 ms (it carries text encoding), step 5 at 1700 ms: 200 ms a step, 5 steps left, 300 ms decode.
  expect(estimateRemainingMs({ step: 5, total: 10, elapsedMs: 1700, firstStepMs: 900 }, 300)).toBe(1300);
  expect(estimateRemainingMs({ step: 1, total: 4, elapsedMs: 500, firstStepMs: 500 })).toBe(1500);
  expect(formatRemaining(1300)).toBe('~1 s left');
  expect(formatRemaining(125_000)).toBe('~2 min left');
});
