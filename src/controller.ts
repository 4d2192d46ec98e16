/**
 * The main thread's behaviour, host-neutral: answers the panel's messages (common/protocol.ts),
 * plans jobs on a snapshot of the selection, applies results as they arrive, and closes one undo
 * step per batch. Every message received is validated; a malformed one gets an `error` reply and
 * changes nothing. Every message sent is validated too, so a bug here cannot reach the panel as
 * a malformed message.
 */
import type { EngineErrorCode } from '../common/engine-types.js';
import {
  errorReply,
  mainMessage,
  parseMainToUi,
  parseUiToMain,
  type FillMode,
  type HistoryEntry,
  type JobResultMessage,
  type MainErrorCode,
  type MainToUi,
  type PlanRequestMessage,
  type RunCommandMessage,
  type StartCommand,
  type UiToMain,
} from '../common/protocol.js';
import type { Host, UiChannel } from './host/host.js';
import { batchSummary, engineErrorText } from './messages.js';
import { planJobs, recordForJob, type JobPlan } from './planning.js';
import { readPngSize } from './png-header.js';
import { describeTarget } from './targets.js';

export const SETTINGS_KEY = 'flowfill.settings';
export const HISTORY_KEY = 'flowfill.history';

type JobStatus = 'pending' | 'applying' | 'applied' | 'dropped' | 'failed' | 'cancelled';

interface Batch {
  id: string;
  fillMode: FillMode;
  jobs: JobPlan[];
  status: Map<string, JobStatus>;
  /** Nodes created by this batch, revealed when it ends. */
  created: string[];
  /** Engine error codes already shown, so a batch of 8 failures shows one toast. */
  shownErrors: Set<string>;
  finished: boolean;
}

export interface StartRequest {
  command: StartCommand;
  source?: RunCommandMessage['source'];
  prompt?: string;
}

export class Controller {
  private uiReady = false;
  private readonly batches = new Map<string, Batch>();
  private readonly batchOfJob = new Map<string, Batch>();
  private nextBatch = 1;
  /** Applied changes not yet closed into an undo step. */
  private uncommitted = false;
  /** The plugin was closed from here: the panel is gone, so nothing more is sent to it. */
  private closed = false;
  /** Quick action only: the progress toast with its Cancel button. */
  private progressToast: { cancel(): void } | null = null;

  constructor(
    private readonly host: Host,
    private readonly channel: UiChannel,
    private readonly start: StartRequest,
  ) {
    channel.onMessage((raw) => this.receive(raw));
    host.onSelectionChange(() => {
      this.selectionChanged().catch((e) => {
        // An event handler has no caller to report to: tell the panel instead of leaving an unhandled rejection.
        if (this.uiReady) this.postError('internal', `Reading the selection failed: ${e instanceof Error ? e.message : String(e)}`, { type: 'selection-changed' });
      });
    });
  }

  /** Handles one raw message from the panel. Never throws. */
  async receive(raw: unknown): Promise<void> {
    const parsed = parseUiToMain(raw);
    if (!parsed.ok) {
      // An invalid `error` message is not answered: two sides answering errors with errors would loop.
      if (parsed.inReplyTo !== 'error') this.post(errorReply(parsed));
      return;
    }
    try {
      await this.handle(parsed.msg);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.postError('internal', `Flowfill's main thread failed on ${parsed.msg.type}: ${message}`, parsed.msg);
    }
  }

  /** The quick action runs with a hidden panel: the toast is its only surface. */
  get isQuickAction(): boolean {
    return this.start.source === 'quick-action';
  }

  /** Called once the (possibly hidden) panel has been opened. */
  started(): void {
    if (this.isQuickAction) this.showProgress(`Flowfill: generating “${this.start.prompt ?? ''}”…`);
  }

  /**
   * Quick action progress, one toast at a time. Its Cancel closes the plugin: the engine lives in
   * the panel, so closing stops it, and every image already placed stays as one undo step.
   */
  private showProgress(message: string): void {
    this.progressToast?.cancel();
    this.progressToast = this.host.notify(message, {
      persistent: true,
      action: {
        text: 'Cancel',
        run: () => {
          this.progressToast = null;
          this.finishQuickAction();
        },
      },
    });
  }

  private finishQuickAction(): void {
    this.progressToast?.cancel();
    this.progressToast = null;
    this.closing();
    this.closed = true;
    this.host.close();
  }

  /** The plugin is closing: whatever was applied becomes one undo step; nothing is left half-written. */
  closing(): void {
    if (this.uncommitted) this.host.checkpoint();
    this.uncommitted = false;
  }

  private async handle(msg: UiToMain): Promise<void> {
    switch (msg.type) {
      case 'ui-ready':
        return this.uiIsReady();
      case 'settings-load':
        return this.sendSettings();
      case 'history-load':
        return this.sendHistory();
      case 'settings-save':
        return this.save(SETTINGS_KEY, msg.settings, msg);
      case 'history-save':
        return this.save(HISTORY_KEY, msg.entries, msg);
      case 'plan-request':
        return this.plan(msg);
      case 'export-request':
        return this.exportNode(msg.requestId, msg.nodeId, msg.size);
      case 'job-result':
        return this.applyResult(msg);
      case 'job-failed':
        return this.jobFailed(msg.jobId, msg.code, msg);
      case 'job-cancelled':
        return this.finishJob(msg.jobId, 'cancelled', msg);
      case 'notify':
        this.host.notify(msg.message, { error: msg.error });
        return;
      case 'resize':
        this.host.resizeUi(msg.width, msg.height);
        return;
      case 'close':
        this.closing();
        this.closed = true;
        this.host.close();
        return;
      case 'error':
        // The panel could not accept one of our messages. Nothing on the canvas depends on it;
        // the panel shows its own error, so there is nothing to undo here.
        return;
    }
  }

  // ---- session ---------------------------------------------------------------------------

  private async uiIsReady(): Promise<void> {
    const first = !this.uiReady;
    this.uiReady = true;
    this.post(mainMessage('init', { command: this.start.command, host: this.host.name }));
    await this.sendSettings();
    await this.sendHistory();
    this.sendSelection();
    if (first && this.start.command !== 'open') {
      const run: RunCommandMessage = mainMessage('run-command', {
        command: this.start.command,
        source: this.start.source ?? 'menu',
      });
      if (this.start.prompt !== undefined) run.prompt = this.start.prompt;
      this.post(run);
    }
  }

  private async sendSettings(): Promise<void> {
    let stored: unknown = null;
    try {
      stored = (await this.host.loadValue(SETTINGS_KEY)) ?? null;
    } catch {
      stored = null;
    }
    const msg = mainMessage('settings-loaded', { settings: stored as never });
    // Storage written by another version may not validate: the panel then starts from defaults.
    this.post(parseMainToUi(msg).ok ? msg : mainMessage('settings-loaded', { settings: null }));
  }

  private async sendHistory(): Promise<void> {
    let stored: unknown = [];
    try {
      stored = (await this.host.loadValue(HISTORY_KEY)) ?? [];
    } catch {
      stored = [];
    }
    const msg = mainMessage('history-loaded', { entries: stored as HistoryEntry[] });
    this.post(parseMainToUi(msg).ok ? msg : mainMessage('history-loaded', { entries: [] }));
  }

  private async save(key: string, value: unknown, msg: UiToMain): Promise<void> {
    try {
      await this.host.saveValue(key, value);
    } catch (e) {
      this.postError('storage-failed', `Could not save ${key}: ${e instanceof Error ? e.message : String(e)}`, msg);
    }
  }

  private sendSelection(): void {
    const targets = this.host.readSelection().slice(0, 1000).map(describeTarget);
    this.post(mainMessage('selection-changed', { targets }));
  }

  private async selectionChanged(): Promise<void> {
    if (this.uiReady) this.sendSelection();
    // A selection change is how deletions usually show up: drop jobs whose node is gone now,
    // so the panel can stop generating for them.
    for (const batch of this.batches.values()) {
      for (const job of batch.jobs) {
        if (job.destination.kind !== 'existing' || batch.status.get(job.jobId) !== 'pending') continue;
        if ((await this.host.getNode(job.destination.nodeId)) === null && batch.status.get(job.jobId) === 'pending') {
          await this.drop(batch, job, `The layer “${job.nodeName}” was deleted, so its image was not made.`);
        }
      }
    }
  }

  // ---- planning and export ------------------------------------------------------------------

  private plan(msg: PlanRequestMessage): void {
    const batchId = `b${this.nextBatch++}`;
    const out = planJobs({ request: msg, selection: this.host.readSelection(), viewportCenter: this.host.viewportCenter(), batchId });
    const jobs = out.jobs.map(({ destination, ...job }) => job);
    this.post(mainMessage('plan', { requestId: msg.requestId, batchId, jobs, skipped: out.skipped }));
    if (out.nothingToDo !== undefined) {
      this.host.notify(out.nothingToDo, { error: true });
      if (this.isQuickAction) this.finishQuickAction();
      return;
    }
    const batch: Batch = { id: batchId, fillMode: msg.fillMode, jobs: out.jobs, status: new Map(), created: [], shownErrors: new Set(), finished: false };
    for (const job of out.jobs) {
      batch.status.set(job.jobId, 'pending');
      this.batchOfJob.set(job.jobId, batch);
    }
    this.batches.set(batchId, batch);
  }

  private async exportNode(requestId: string, nodeId: string, size: { width: number; height: number }): Promise<void> {
    const context = { type: 'export-request', requestId };
    if ((await this.host.getNode(nodeId)) === null) {
      this.postError('node-missing', `The layer ${nodeId} no longer exists, so it cannot be used for variations.`, context);
      return;
    }
    let png: Uint8Array;
    try {
      png = await this.host.exportPng(nodeId, size);
    } catch (e) {
      this.postError('export-failed', `Could not export layer ${nodeId}: ${e instanceof Error ? e.message : String(e)}`, context);
      return;
    }
    const actual = readPngSize(png);
    if (!actual) {
      this.postError('export-failed', `The export of layer ${nodeId} is not a PNG.`, context);
      return;
    }
    this.post(mainMessage('export-result', { requestId, nodeId, png, width: actual.width, height: actual.height }));
  }

  // ---- results ------------------------------------------------------------------------------

  /** The job's batch when the job is pending; otherwise answers with unknown-job. */
  private pendingJob(jobId: string, msg: UiToMain): { batch: Batch; job: JobPlan } | null {
    const batch = this.batchOfJob.get(jobId);
    const status = batch?.status.get(jobId);
    if (!batch || status !== 'pending') {
      const why = !batch ? 'no plan made it' : `it has already ended (${status})`;
      this.postError('unknown-job', `Job ${jobId} cannot take this message: ${why}.`, msg);
      return null;
    }
    return { batch, job: batch.jobs.find((j) => j.jobId === jobId)! };
  }

  private async applyResult(msg: JobResultMessage): Promise<void> {
    const found = this.pendingJob(msg.jobId, msg);
    if (!found) return;
    const { batch, job } = found;
    const header = readPngSize(msg.png);
    if (!header || header.width !== msg.width || header.height !== msg.height) {
      const got = header ? `${header.width}×${header.height}` : 'not a PNG';
      await this.drop(batch, job, `The image for “${job.nodeName}” was not used: it says ${msg.width}×${msg.height} but its bytes are ${got}.`);
      return;
    }
    if (msg.record.width !== msg.width || msg.record.height !== msg.height) {
      await this.drop(batch, job, `The image for “${job.nodeName}” was not used: its record says ${msg.record.width}×${msg.record.height} but the image is ${msg.width}×${msg.height}.`);
      return;
    }
    batch.status.set(job.jobId, 'applying');
    const outcome = await this.host.placeImage({ destination: job.destination, png: msg.png, fillMode: batch.fillMode, record: recordForJob(job, msg.record) });
    if (!outcome.ok) {
      batch.status.set(job.jobId, 'pending');
      const message =
        outcome.reason === 'node-missing'
          ? `The layer “${job.nodeName}” was deleted, so its image was not added.`
          : outcome.reason === 'node-locked'
            ? `The layer “${job.nodeName}” was locked, so its image was not added.`
            : `The image for “${job.nodeName}” was refused: ${outcome.message}`;
      await this.drop(batch, job, message);
      return;
    }
    this.uncommitted = true;
    if (job.destination.kind === 'create') batch.created.push(outcome.nodeId);
    batch.status.set(job.jobId, 'applied');
    this.post(mainMessage('job-applied', { jobId: job.jobId, nodeId: outcome.nodeId, nodeName: outcome.nodeName }));
    if (this.isQuickAction && batch.jobs.length > 1) {
      const placed = [...batch.status.values()].filter((status) => status === 'applied').length;
      this.showProgress(`Flowfill: ${placed} of ${batch.jobs.length} images placed…`);
    }
    await this.maybeFinish(batch);
  }

  private async jobFailed(jobId: string, code: EngineErrorCode, msg: UiToMain): Promise<void> {
    if (code === 'cancelled') return this.finishJob(jobId, 'cancelled', msg);
    const found = this.pendingJob(jobId, msg);
    if (!found) return;
    if (!found.batch.shownErrors.has(code)) {
      found.batch.shownErrors.add(code);
      this.host.notify(engineErrorText(code), { error: true });
    }
    await this.finishJob(jobId, 'failed', msg);
  }

  private async finishJob(jobId: string, status: 'failed' | 'cancelled', msg: UiToMain): Promise<void> {
    const batch = this.batchOfJob.get(jobId);
    if (status === 'cancelled' && batch && batch.status.get(jobId) !== 'pending') return; // cancelling an ended job is harmless
    const found = this.pendingJob(jobId, msg);
    if (!found) return;
    found.batch.status.set(jobId, status);
    await this.maybeFinish(found.batch);
  }

  private async drop(batch: Batch, job: JobPlan, reason: string): Promise<void> {
    batch.status.set(job.jobId, 'dropped');
    this.post(mainMessage('job-dropped', { jobId: job.jobId, reason }));
    this.host.notify(reason, { error: true });
    await this.maybeFinish(batch);
  }

  private async maybeFinish(batch: Batch): Promise<void> {
    if (batch.finished) return;
    const counts = { applied: 0, dropped: 0, failed: 0, cancelled: 0 };
    for (const status of batch.status.values()) {
      if (status === 'pending' || status === 'applying') return;
      counts[status]++;
    }
    batch.finished = true;
    this.batches.delete(batch.id);
    if (this.uncommitted) {
      this.host.checkpoint();
      this.uncommitted = false;
    }
    if (batch.created.length > 0) await this.host.reveal(batch.created);
    const summary = batchSummary(counts);
    if (summary && counts.applied > 0) this.host.notify(summary);
    this.post(mainMessage('batch-done', { batchId: batch.id, ...counts }));
    if (this.isQuickAction) this.finishQuickAction();
  }

  // ---- sending ------------------------------------------------------------------------------

  private postError(code: MainErrorCode, message: string, about: { type: string; requestId?: string; jobId?: string }): void {
    const ref = about.requestId ?? about.jobId;
    this.post(errorReply({ code, error: message, inReplyTo: about.type, ...(ref !== undefined ? { ref } : {}) }));
  }

  private post(msg: MainToUi): void {
    if (this.closed) return;
    const checked = parseMainToUi(msg);
    if (!checked.ok) {
      // A bug on this side: tell the panel what, instead of sending something it will reject.
      this.channel.post(errorReply({ code: 'internal', error: `main produced an invalid ${msg.type}: ${checked.error}`, inReplyTo: msg.type }));
      return;
    }
    this.channel.post(msg);
  }
}
