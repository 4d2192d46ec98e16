/**
 * Runs the queued jobs one at a time: (export the source layer →) generate → place through the
 * host. Each step updates the job in the panel's state, the one place job state lives. A cancel
 * or skip of a running job stops it in the engine; the runner then settles it and goes on.
 */
import type { EngineApi, GenerationRequest, GenerationResult } from '../../common/engine-types.js';
import type { ProvenanceRecord } from '../../common/provenance.js';
import { describeEngineError, type DescribedError } from '../engine/engine-errors.js';
import type { HostClient } from '../host-client.js';
import type { PanelStore } from '../panel-state.js';
import { pngToInitImage } from './init-image.js';
import { isEnded, type Job } from './job.js';
import { provenanceFor } from './provenance-for.js';

export interface JobRunnerDeps {
  store: PanelStore;
  engine: Pick<EngineApi, 'generate' | 'cancel'>;
  host: Pick<HostClient, 'exportPng' | 'placeImage'>;
  /** A job reached an end (done, skipped, failed or cancelled). Awaited before the next job starts. */
  onEnded(job: Job): Promise<void>;
  /** An image is on the canvas, with this record. */
  onPlaced(job: Job, record: ProvenanceRecord, nodeName: string): void;
  /** The engine answered on another backend than the model was loaded on (after a lost GPU device). */
  onBackendChanged?(result: GenerationResult): void;
  now?: () => Date;
}

export interface JobRunner {
  /** Runs queued jobs until none is left (no-op when already running). */
  start(): void;
  /**
   * Stops a job: a queued one never starts, a running one is stopped in the engine. A job being
   * placed is past stopping. `skipped` is for jobs whose layer went away.
   */
  stop(jobId: string, how: NonNullable<Job['stopping']>): Promise<void>;
  /** Resolves when no job is queued or running. */
  whenIdle(): Promise<void>;
}

export function createJobRunner(deps: JobRunnerDeps): JobRunner {
  const { store, engine, host } = deps;
  const now = deps.now ?? (() => new Date());
  let running = false;
  let idleWaiters: Array<() => void> = [];

  const find = (jobId: string) => store.get().jobs.find((j) => j.jobId === jobId);
  const update = (jobId: string, patch: Partial<Job>) =>
    store.set((s) => ({ jobs: s.jobs.map((j) => (j.jobId === jobId ? { ...j, ...patch } : j)) }));

  async function end(jobId: string, patch: Partial<Job>): Promise<void> {
    update(jobId, { ...patch, stopping: undefined });
    await deps.onEnded(find(jobId)!);
  }

  const fail = (jobId: string, error: DescribedError) => end(jobId, { status: 'failed', reason: error.message, errorCode: error.code });

  /** Ends a job its stop request caught up with. */
  function settleStop(jobId: string): Promise<void> {
    const stopping = find(jobId)?.stopping ?? { status: 'cancelled' as const };
    return end(
      jobId,
      stopping.status === 'skipped' ? { status: 'skipped', skipCode: stopping.code, reason: stopping.reason } : { status: 'cancelled' },
    );
  }

  async function exportInit(job: Job): Promise<GenerationRequest['init'] | 'stopped' | DescribedError> {
    update(job.jobId, { status: 'exporting' });
    try {
      const png = await host.exportPng({ nodeId: job.sourceNodeId!, width: job.request.width });
      if (find(job.jobId)?.stopping) return 'stopped';
      return pngToInitImage(png, job.request.width, job.request.height);
    } catch (error) {
      return {
        code: 'internal',
        message: `Could not read the pixels of the source layer: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  async function place(job: Job, result: GenerationResult): Promise<void> {
    update(job.jobId, { status: 'placing', step: job.total, resultPng: result.png });
    const batch = store.get().batches.find((b) => b.batchId === job.batchId);
    const record = provenanceFor(job, result, now());
    let outcome;
    try {
      outcome = await host.placeImage({ destination: job.destination, png: result.png, fillMode: batch?.fillMode ?? 'replace', record });
    } catch (error) {
      return fail(job.jobId, {
        code: 'internal',
        message: `The image could not be placed: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
    if (outcome.placed) {
      update(job.jobId, { status: 'done', placedNodeId: outcome.nodeId });
      deps.onPlaced(find(job.jobId)!, record, outcome.nodeName);
      return end(job.jobId, {});
    }
    if (outcome.reason === 'image-rejected')
      return fail(job.jobId, { code: 'internal', message: `The canvas refused the image: ${outcome.message}` });
    const deleted = outcome.reason === 'node-missing';
    return end(job.jobId, {
      status: 'skipped',
      skipCode: deleted ? 'deleted' : 'locked',
      reason: `The layer “${job.label}” was ${deleted ? 'deleted' : 'locked'}, so its image was not added.`,
    });
  }

  async function run(job: Job): Promise<void> {
    const { jobId } = job;
    try {
      let init: GenerationRequest['init'];
      if (job.sourceNodeId !== undefined) {
        const exported = await exportInit(job);
        if (exported === 'stopped') return settleStop(jobId);
        if (exported && 'code' in exported) return fail(jobId, exported);
        init = exported;
      }
      update(jobId, { status: 'running' });
      const result = await engine.generate({ ...job.request, jobId, ...(init ? { init } : {}) }, (progress) => {
        const current = find(jobId);
        // Over comlink, progress travels on its own port and can land after the result: only a
        // job still running (and not being stopped) takes it.
        if (!current || progress.jobId !== jobId || current.status !== 'running' || current.stopping) return;
        update(jobId, {
          step: progress.step,
          total: progress.total,
          elapsedMs: progress.elapsedMs,
          firstStepMs: progress.step === 1 ? progress.elapsedMs : current.firstStepMs,
          preview: progress.preview ?? current.preview,
        });
      });
      // A result that lands after the user pressed cancel is dropped: they asked for no image.
      if (find(jobId)?.stopping) return settleStop(jobId);
      store.set({ decodeMs: result.timings.vaeDecodeMs });
      deps.onBackendChanged?.(result);
      await place(find(jobId)!, result);
    } catch (error) {
      if (find(jobId)?.stopping) return settleStop(jobId);
      const described = describeEngineError(error);
      if (described.code === 'cancelled') return end(jobId, { status: 'cancelled' });
      await fail(jobId, described);
    }
  }

  async function pump(): Promise<void> {
    if (running) return;
    running = true;
    try {
      for (let next = nextQueued(); next; next = nextQueued()) await run(next);
    } finally {
      running = false;
      const waiters = idleWaiters;
      idleWaiters = [];
      waiters.forEach((resolve) => resolve());
    }
  }

  const nextQueued = () => store.get().jobs.find((j) => j.status === 'queued');

  return {
    start: () => void pump(),
    async stop(jobId, how) {
      const job = find(jobId);
      if (!job || isEnded(job.status) || job.status === 'placing' || job.stopping) return;
      if (job.status === 'queued') {
        update(jobId, { stopping: how });
        return settleStop(jobId);
      }
      update(jobId, { stopping: how });
      if (job.status === 'running') {
        try {
          await engine.cancel(jobId);
        } catch {
          // The engine may have finished the job meanwhile; the runner settles it either way.
        }
      }
    },
    whenIdle() {
      if (!running && !nextQueued()) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
