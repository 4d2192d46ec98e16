/**
 * The panel's job runner. The main thread plans jobs (one per target node and variation, with the
 * generation size already planned); the queue runs them one at a time through the engine, keeps a
 * view of each for the panel (status, step, live preview), hands results back to the host and
 * goes on with the next job when one fails or is cancelled.
 *
 * The queue knows nothing of the DOM, of comlink or of the wire protocol: its host adapts those.
 */
import type { EngineApi, GenerationProgress, GenerationRequest, GenerationResult } from '../common/engine-types.js';
import { pngToInitImage } from './decode-png-to-rgba.js';
import { describeEngineError, type DescribedError } from './engine-errors.js';

/** One image to make: a job the main thread planned, with the settings resolved into a request. */
export interface EngineJob {
  jobId: string;
  /** What the panel shows for the job, e.g. the target node's name. */
  label: string;
  /** The request without init pixels; width/height are the planned generation size. */
  request: Omit<GenerationRequest, 'jobId' | 'init'>;
  /**
   * Image variations: the host exports this node's pixels, which become the init image
   * (resampled to the generation size) at request.strength.
   */
  sourceNodeId?: string;
  /** Recorded in provenance: the node (and its seed) this image varies. */
  parent?: { nodeId: string; seed?: number };
}

export type JobStatus = 'queued' | 'exporting' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobView {
  jobId: string;
  label: string;
  status: JobStatus;
  width: number;
  height: number;
  seed: number;
  prompt: string;
  isVariation: boolean;
  /** Denoising progress; 0 of request.steps until the first step lands. */
  step: number;
  total: number;
  preview?: GenerationProgress['preview'];
  /** The finished image (PNG), for the panel's thumbnail. */
  resultPng?: Uint8Array;
  error?: DescribedError;
  elapsedMs?: number;
}

export interface JobQueueHost {
  engine: Pick<EngineApi, 'generate' | 'cancel'>;
  /** PNG bytes of the node whose pixels seed an image variation. */
  exportNodePngAsync(nodeId: string, width: number, height: number): Promise<Uint8Array>;
  /** A finished image for the main thread to write. Awaited, so a slow write does not overlap the next job. */
  deliverResult(job: EngineJob, result: GenerationResult): void | Promise<void>;
  reportFailure(job: EngineJob, error: DescribedError): void;
  reportCancelled(job: EngineJob): void;
}

export type JobListener = (jobs: readonly JobView[]) => void;

/** Finished jobs kept for the panel; older ones drop off the list. */
export const FINISHED_JOBS_KEPT = 20;

interface JobEntry {
  planned: EngineJob;
  view: JobView;
  cancelRequested: boolean;
  silentCancel: boolean;
}

export class JobQueue {
  private readonly entries: JobEntry[] = [];
  private readonly listeners = new Set<JobListener>();
  private running = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly host: JobQueueHost) {}

  /** Adds jobs at the end of the queue and starts the runner if it is idle. Duplicate ids are refused. */
  enqueue(jobs: readonly EngineJob[]): void {
    for (const job of jobs) {
      if (this.entries.some((entry) => entry.planned.jobId === job.jobId)) {
        throw new Error(`jobId "${job.jobId}" is already in the queue; every planned job needs a unique id`);
      }
      this.entries.push({
        planned: job,
        cancelRequested: false,
        silentCancel: false,
        view: {
          jobId: job.jobId,
          label: job.label,
          status: 'queued',
          width: job.request.width,
          height: job.request.height,
          seed: job.request.seed,
          prompt: job.request.prompt,
          isVariation: job.sourceNodeId !== undefined,
          step: 0,
          total: job.request.steps,
        },
      });
    }
    this.emit();
    void this.pump();
  }

  /**
   * Cancels one job: a queued one never starts; a running one is stopped in the engine.
   * `silent` skips host.reportCancelled, for jobs the main thread itself dropped.
   */
  async cancel(jobId: string, options: { silent?: boolean } = {}): Promise<void> {
    const entry = this.entries.find((e) => e.planned.jobId === jobId);
    if (!entry || isFinished(entry.view.status)) return;
    entry.cancelRequested = true;
    entry.silentCancel = options.silent === true;
    if (entry.view.status === 'queued') return this.settleCancelled(entry);
    if (entry.view.status === 'running') {
      try {
        await this.host.engine.cancel(jobId);
      } catch {
        // The engine may have finished the job in the meantime; the runner settles it either way.
      }
    }
  }

  /** Cancels the running job and every queued one. */
  async cancelAll(): Promise<void> {
    const open = this.entries.filter((e) => !isFinished(e.view.status)).map((e) => e.planned.jobId);
    await Promise.all(open.map((id) => this.cancel(id)));
  }

  /** Drops finished jobs from the list the panel shows. */
  clearFinished(): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (isFinished(this.entries[i].view.status)) this.entries.splice(i, 1);
    }
    this.emit();
  }

  snapshot(): readonly JobView[] {
    return this.entries.map((entry) => ({ ...entry.view }));
  }

  get isBusy(): boolean {
    return this.running;
  }

  subscribe(listener: JobListener): () => void {
    this.listeners.add(listener);
    listener(this.snapshot());
    return () => this.listeners.delete(listener);
  }

  /** Resolves when no job is queued or running. */
  whenIdle(): Promise<void> {
    if (!this.running && !this.entries.some((e) => e.view.status === 'queued')) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let entry = this.nextQueued(); entry; entry = this.nextQueued()) {
        await this.run(entry);
      }
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((resolve) => resolve());
    }
  }

  private nextQueued(): JobEntry | undefined {
    return this.entries.find((e) => e.view.status === 'queued');
  }

  private async run(entry: JobEntry): Promise<void> {
    const job = entry.planned;
    const started = Date.now();
    try {
      let request: GenerationRequest = { ...job.request, jobId: job.jobId };
      if (job.sourceNodeId !== undefined) {
        this.update(entry, { status: 'exporting' });
        let init: GenerationRequest['init'];
        try {
          const png = await this.host.exportNodePngAsync(job.sourceNodeId, job.request.width, job.request.height);
          if (entry.cancelRequested) return this.settleCancelled(entry);
          init = pngToInitImage(png, job.request.width, job.request.height);
        } catch (error) {
          const detail = error instanceof Error ? error.message : String(error);
          return this.fail(entry, { code: 'internal', message: `Could not read the pixels of the source layer: ${detail}` }, started);
        }
        request = { ...request, init };
      }
      this.update(entry, { status: 'running' });
      const result = await this.host.engine.generate(request, (progress) => {
        // Over comlink, progress calls travel on their own port and can land after the result:
        // only a job still running takes them.
        if (progress.jobId !== job.jobId || entry.cancelRequested || entry.view.status !== 'running') return;
        this.update(entry, {
          step: progress.step,
          total: progress.total,
          preview: progress.preview ?? entry.view.preview,
          elapsedMs: progress.elapsedMs,
        });
      });
      // A result that lands after the user pressed cancel is dropped: they asked for no image.
      if (entry.cancelRequested) return this.settleCancelled(entry);
      await this.host.deliverResult(job, result);
      this.finish(entry, { status: 'done', step: entry.view.total, elapsedMs: Date.now() - started, resultPng: result.png });
    } catch (error) {
      const described = describeEngineError(error);
      if (entry.cancelRequested || described.code === 'cancelled') return this.settleCancelled(entry);
      this.fail(entry, described, started);
    }
  }

  private fail(entry: JobEntry, error: DescribedError, started: number): void {
    this.finish(entry, { status: 'failed', error, elapsedMs: Date.now() - started });
    this.host.reportFailure(entry.planned, error);
  }

  private settleCancelled(entry: JobEntry): void {
    this.finish(entry, { status: 'cancelled' });
    if (!entry.silentCancel) this.host.reportCancelled(entry.planned);
  }

  private update(entry: JobEntry, patch: Partial<JobView>): void {
    entry.view = { ...entry.view, ...patch };
    this.emit();
  }

  private finish(entry: JobEntry, patch: Partial<JobView>): void {
    entry.view = { ...entry.view, ...patch };
    this.trimFinished();
    this.emit();
  }

  private trimFinished(): void {
    const finished = this.entries.filter((e) => isFinished(e.view.status));
    for (const stale of finished.slice(0, Math.max(0, finished.length - FINISHED_JOBS_KEPT))) {
      this.entries.splice(this.entries.indexOf(stale), 1);
    }
  }

  private emit(): void {
    const snapshot = this.snapshot();
    this.listeners.forEach((listener) => listener(snapshot));
  }
}

export function isFinished(status: JobStatus): boolean {
  return status === 'done' || status === 'failed' || status === 'cancelled';
}
