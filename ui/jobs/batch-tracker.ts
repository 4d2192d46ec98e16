/**
 * What happens when a job ends, and when the last job of a batch ends: notices in the panel,
 * toasts on the canvas (for the quick action, whose panel is hidden, they are all there is), the
 * batch's undo step, revealing the frames it created, and closing after the quick action.
 */
import type { HostClient } from '../host-client.js';
import { addNotice } from '../notices.js';
import type { PanelStore } from '../panel-state.js';
import { batchLine, canvasSummary, countBatch, engineErrorToast } from './batch-summary.js';
import { isEnded, type Batch, type Job } from './job.js';

export interface BatchTracker {
  /** The runner's onEnded: reports the job, and ends its batch when it was the last one. */
  onJobEnded(job: Job): Promise<void>;
  /** Ends a batch: its undo step, revealed frames, summary, the quick action's close. */
  finishBatch(batchId: string): Promise<void>;
}

export function createBatchTracker({
  store,
  host,
  log,
}: {
  store: PanelStore;
  host: HostClient;
  log: (message: string) => void;
}): BatchTracker {
  const batchOf = (batchId: string) => store.get().batches.find((b) => b.batchId === batchId);
  const jobsOf = (batchId: string) => store.get().jobs.filter((j) => j.batchId === batchId);
  const notice = (level: 'info' | 'error', text: string, details?: string[]) =>
    store.set((s) => ({ notices: addNotice(s.notices, level, text, details) }));
  const patchBatch = (batchId: string, patch: Partial<Batch>) =>
    store.set((s) => ({ batches: s.batches.map((b) => (b.batchId === batchId ? { ...b, ...patch } : b)) }));
  /** Host calls made while the plugin may be closing: a failure is logged, never thrown into the queue. */
  const tryHost = async (what: string, call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (error) {
      log(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  async function onJobEnded(job: Job): Promise<void> {
    const batch = batchOf(job.batchId);
    if (!batch) return;
    if (job.status === 'failed') {
      notice('error', `${job.label}: ${job.reason ?? 'failed'}`);
      const code = job.errorCode ?? 'internal';
      if (!batch.shownErrors.includes(code)) {
        patchBatch(batch.batchId, { shownErrors: [...batch.shownErrors, code] });
        await tryHost('notify', () => host.notify({ message: engineErrorToast(code), error: true }));
      }
    } else if (job.status === 'skipped' && job.reason) {
      await tryHost('notify', () => host.notify({ message: job.reason!.slice(0, 2000), error: true }));
    } else if (job.status === 'done' && batch.quickAction) {
      const jobs = jobsOf(batch.batchId);
      if (jobs.length > 1) {
        const placed = countBatch(jobs).placed;
        await tryHost('showProgress', () => host.showProgress({ message: `Flowfill: ${placed} of ${jobs.length} images placed…` }));
      }
    }
    if (jobsOf(batch.batchId).every((j) => isEnded(j.status))) await finishBatch(batch.batchId);
  }

  async function finishBatch(batchId: string): Promise<void> {
    const batch = batchOf(batchId);
    if (!batch || batch.ended) return;
    patchBatch(batchId, { ended: true });
    const jobs = jobsOf(batchId);
    await tryHost('commitUndo', () => host.commitUndo());
    const created = jobs
      .filter((j) => j.status === 'done' && j.destination.kind === 'create' && j.placedNodeId)
      .map((j) => j.placedNodeId!);
    if (created.length > 0) await tryHost('reveal', () => host.reveal({ nodeIds: created }));
    const line = jobs.length > 0 ? batchLine(jobs) : null;
    if (line) notice(jobs.some((j) => j.status === 'failed') ? 'error' : 'info', line.text, line.details);
    const summary = canvasSummary(countBatch(jobs));
    if (summary) await tryHost('notify', () => host.notify({ message: summary, error: false }));
    // Closing ends this panel too, so its reply never arrives: nothing waits for it.
    if (batch.quickAction) void tryHost('close', () => host.close());
  }

  return { onJobEnded, finishBatch };
}
