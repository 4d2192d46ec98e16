/**
 * The panel's logic without the DOM: it owns the panel state, talks to the main thread through
 * the protocol (validating every message it receives) and to the engine through the job queue.
 * ui/main.ts renders its state and forwards user actions to it; tests drive it directly.
 */
import type { Capabilities, EngineApi, GenerationResult, LoadProgress, ModelInfo } from '../common/engine-types.js';
import {
  errorReply,
  parseMainToUi,
  uiMessage,
  type HistoryEntry,
  type MainToUi,
  type PlanKind,
  type StartCommand,
  type TargetInfo,
  type UiToMain,
} from '../common/protocol.js';
import type { ProvenanceRecord } from '../common/provenance.js';
import { describeEngineError } from './engine-errors.js';
import { addHistoryEntry, boundHistory, settingsFromRecord, settingsFromStorage, settingsToJson } from './history.js';
import { resolveInsertSize } from './insert-size-presets.js';
import { JobQueue, isFinished, type EngineJob, type JobView } from './job-queue.js';
import { engineJobsFromPlan, provenanceFor } from './plan-jobs.js';
import { createDefaultSettings, drawRandomSeed, type GenerationSettings } from './settings.js';

export type ModelStatus = 'starting' | 'loading' | 'ready' | 'failed';

export interface ModelState {
  status: ModelStatus;
  capabilities?: Capabilities;
  info?: ModelInfo;
  progress?: LoadProgress;
  /** Plain-language reason when status is 'failed'. */
  error?: string;
}

export interface Notice {
  id: number;
  level: 'error' | 'info';
  text: string;
}

export interface PanelState {
  model: ModelState;
  settings: GenerationSettings;
  targets: TargetInfo[];
  jobs: readonly JobView[];
  /** Newest first. */
  history: HistoryEntry[];
  notices: Notice[];
  /** Plan requests sent and not yet answered. */
  planning: number;
  host?: string;
}

export interface PanelControllerOptions {
  engine: EngineApi;
  /** Posts one message to the main thread. */
  post: (message: UiToMain) => void;
  now?: () => Date;
  /** Seeds for fresh (unlocked) generations; crypto.getRandomValues by default. */
  drawSeed?: () => number;
  /** Delay before a settings change is written to clientStorage, ms. */
  settingsSaveDelayMs?: number;
  /** Logs what only a developer needs (malformed messages); console by default. */
  log?: (message: string) => void;
}

type Listener = (state: PanelState) => void;

interface PendingPlan {
  kind: PlanKind;
  settings: GenerationSettings;
}

interface PendingExport {
  resolve: (png: Uint8Array) => void;
  reject: (error: Error) => void;
}

/** Notices kept on screen; older ones drop off. */
const NOTICES_KEPT = 4;

export class PanelController {
  private state: PanelState;
  private readonly listeners = new Set<Listener>();
  private readonly queue: JobQueue;
  private readonly pendingPlans = new Map<string, PendingPlan>();
  private readonly pendingExports = new Map<string, PendingExport>();
  /** Records sent with job-result, waiting for job-applied to enter the history. */
  private readonly sentRecords = new Map<string, ProvenanceRecord>();
  private readonly droppedJobs = new Set<string>();
  private queuedCommand: { command: Exclude<StartCommand, 'open'>; prompt?: string } | undefined;
  private nextId = 1;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly now: () => Date;
  private readonly drawSeed: () => number;
  private readonly log: (message: string) => void;

  constructor(private readonly options: PanelControllerOptions) {
    this.now = options.now ?? (() => new Date());
    this.drawSeed = options.drawSeed ?? drawRandomSeed;
    this.log = options.log ?? ((message) => console.warn(`[flowfill ui] ${message}`));
    this.state = {
      model: { status: 'starting' },
      settings: createDefaultSettings(this.drawSeed()),
      targets: [],
      jobs: [],
      history: [],
      notices: [],
      planning: 0,
    };
    this.queue = new JobQueue({
      engine: options.engine,
      exportNodePngAsync: (nodeId, width, height) => this.requestExportAsync(nodeId, width, height),
      deliverResult: (job, result) => this.deliverResult(job, result),
      reportFailure: (job, error) => {
        this.post(uiMessage('job-failed', { jobId: job.jobId, code: error.code, message: error.message.slice(0, 4000) }));
        this.notify('error', `${job.label}: ${error.message}`);
      },
      reportCancelled: (job) => this.post(uiMessage('job-cancelled', { jobId: job.jobId })),
    });
    this.queue.subscribe((jobs) => this.setState({ jobs }));
  }

  // -------------------------------------------------------------------------------------------
  // State

  getState(): PanelState {
    return this.state;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    listener(this.state);
    return () => this.listeners.delete(listener);
  }

  private setState(patch: Partial<PanelState>): void {
    this.state = { ...this.state, ...patch };
    this.listeners.forEach((listener) => listener(this.state));
  }

  private notify(level: Notice['level'], text: string): void {
    const notice = { id: this.nextId++, level, text };
    this.setState({ notices: [...this.state.notices, notice].slice(-NOTICES_KEPT) });
  }

  dismissNotice(id: number): void {
    this.setState({ notices: this.state.notices.filter((n) => n.id !== id) });
  }

  private post(message: UiToMain): void {
    try {
      this.options.post(message);
    } catch (error) {
      this.log(`could not post ${message.type}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Start-up

  /** Tells main the panel listens, then starts the engine and loads the embedded model. */
  async startAsync(): Promise<void> {
    this.post(uiMessage('ui-ready', {}));
    await this.loadModelAsync();
  }

  /** Loads the embedded model (again, after a failure: the panel's "Try again"). */
  async loadModelAsync(): Promise<void> {
    const engine = this.options.engine;
    this.setState({ model: { status: 'starting' } });
    try {
      const capabilities = await engine.capabilities();
      this.setState({ model: { status: 'loading', capabilities } });
      const info = await engine.loadModel({ kind: 'embedded' }, (progress) =>
        this.setState({ model: { ...this.state.model, progress } }),
      );
      this.setState({ model: { status: 'ready', capabilities, info } });
    } catch (error) {
      const described = describeEngineError(error);
      this.setState({ model: { ...this.state.model, status: 'failed', error: `The model could not be loaded. ${described.message}` } });
      return;
    }
    const command = this.queuedCommand;
    this.queuedCommand = undefined;
    if (command) this.runCommand(command.command, command.prompt);
  }

  // -------------------------------------------------------------------------------------------
  // Settings

  updateSettings(patch: Partial<GenerationSettings>): void {
    this.setState({ settings: { ...this.state.settings, ...patch } });
    this.scheduleSettingsSave();
  }

  /** A fresh random seed (the seed field's dice button). */
  rollSeed(): void {
    this.updateSettings({ seed: this.drawSeed() });
  }

  /** "Use these settings" on a provenance record. */
  useRecord(record: ProvenanceRecord): void {
    this.updateSettings(settingsFromRecord(this.state.settings, record));
    this.notify('info', `Settings from "${record.prompt || 'untitled'}" (seed ${record.seed}) loaded; the seed is locked.`);
  }

  private scheduleSettingsSave(): void {
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.flushSettingsSave(), this.options.settingsSaveDelayMs ?? 400);
  }

  /** Writes the settings now (also called when a generation starts). */
  flushSettingsSave(): void {
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.post(uiMessage('settings-save', { settings: settingsToJson(this.state.settings) }));
  }

  // -------------------------------------------------------------------------------------------
  // Actions

  /**
   * Asks the main thread to plan a batch for the current selection. The settings are snapshotted
   * now, with the seed the panel shows; an unlocked seed is redrawn afterwards, so every click
   * gives new images and the field always shows what the next click will use.
   */
  requestPlan(kind: PlanKind): boolean {
    const model = this.state.model;
    if (model.status !== 'ready' || !model.info) {
      this.notify('error', model.status === 'failed' ? 'The model failed to load, so nothing can be generated.' : 'The model is still loading; try again in a moment.');
      return false;
    }
    if (kind === 'generate' && this.state.settings.prompt.trim() === '') {
      this.notify('error', 'Describe the image first: the prompt is empty.');
      return false;
    }
    if (kind === 'image-variations' && !model.info.supportsImageToImage) {
      this.notify('error', `${model.info.name} cannot make image variations (it has no image encoder).`);
      return false;
    }
    // The seed shown is the seed used; an unlocked one is then redrawn for the next click.
    const settings = this.state.settings;
    if (!settings.seedLocked) this.updateSettings({ seed: this.drawSeed() });
    this.flushSettingsSave();
    const requestId = `plan-${this.nextId++}`;
    this.pendingPlans.set(requestId, { kind, settings });
    this.setState({ planning: this.state.planning + 1 });
    // Main uses count for variations, and for generate only when it inserts new frames (nothing selected).
    const count = kind === 'regenerate' ? 1 : settings.variations;
    this.post(
      uiMessage('plan-request', {
        requestId,
        kind,
        geometry: { nativeSize: model.info.nativeSize, maxSide: model.info.maxSide, sizeMultiple: model.info.sizeMultiple },
        fillMode: settings.fillMode,
        prompt: settings.prompt.slice(0, 4000),
        count,
        ...(kind === 'generate' ? { newFrame: resolveInsertSize(settings) } : {}),
      }),
    );
    return true;
  }

  cancelJob(jobId: string): Promise<void> {
    return this.queue.cancel(jobId);
  }

  cancelAll(): Promise<void> {
    return this.queue.cancelAll();
  }

  clearFinishedJobs(): void {
    this.queue.clearFinished();
  }

  /** Resolves when every queued job has ended (tests, and the browser rig). */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  // -------------------------------------------------------------------------------------------
  // Messages from main

  /** Handles one raw message from the main thread. Malformed ones get an error reply, never a throw. */
  receive(raw: unknown): void {
    const outcome = parseMainToUi(raw);
    if (!outcome.ok) {
      this.log(outcome.error);
      this.post(errorReply(outcome));
      return;
    }
    try {
      this.handle(outcome.msg);
    } catch (error) {
      // A valid message that still trips the panel is our bug: say so, keep the panel alive.
      const text = error instanceof Error ? error.message : String(error);
      this.log(`handling ${outcome.msg.type} failed: ${text}`);
      this.post(errorReply({ code: 'internal', error: `UI could not handle ${outcome.msg.type}: ${text}`, inReplyTo: outcome.msg.type }));
    }
  }

  private handle(message: MainToUi): void {
    switch (message.type) {
      case 'init':
        this.setState({ host: message.host });
        return;
      case 'settings-loaded':
        this.setState({ settings: settingsFromStorage(message.settings, this.state.settings) });
        return;
      case 'history-loaded':
        this.setState({ history: boundHistory(message.entries) });
        return;
      case 'selection-changed':
        this.setState({ targets: message.targets });
        return;
      case 'run-command':
        if (message.prompt !== undefined) this.updateSettings({ prompt: message.prompt });
        if (this.state.model.status === 'ready') this.runCommand(message.command, message.prompt);
        else this.queuedCommand = { command: message.command, prompt: message.prompt };
        return;
      case 'plan':
        return this.handlePlan(message);
      case 'export-result': {
        const pending = this.pendingExports.get(message.requestId);
        if (!pending) return this.log(`export-result for unknown request ${message.requestId}`);
        this.pendingExports.delete(message.requestId);
        pending.resolve(message.png);
        return;
      }
      case 'job-applied': {
        const record = this.sentRecords.get(message.jobId);
        this.sentRecords.delete(message.jobId);
        if (!record) return;
        this.setState({
          history: addHistoryEntry(this.state.history, { jobId: message.jobId, nodeId: message.nodeId, nodeName: message.nodeName, record }),
        });
        this.post(uiMessage('history-save', { entries: boundHistory(this.state.history) }));
        return;
      }
      case 'job-dropped':
        this.sentRecords.delete(message.jobId);
        this.droppedJobs.add(message.jobId);
        this.notify('info', message.reason);
        void this.queue.cancel(message.jobId, { silent: true });
        return;
      case 'batch-done':
        if (message.failed > 0 || message.dropped > 0) {
          this.notify('info', `Batch finished: ${message.applied} placed, ${message.failed} failed, ${message.dropped} skipped, ${message.cancelled} cancelled.`);
        }
        return;
      case 'error':
        return this.handleMainError(message);
    }
  }

  private runCommand(command: Exclude<StartCommand, 'open'>, prompt?: string): void {
    if (prompt !== undefined) this.updateSettings({ prompt });
    const kind: PlanKind =
      command === 'variations' ? variationKindFor(this.state.targets) : command === 'regenerate' ? 'regenerate' : 'generate';
    this.requestPlan(kind);
  }

  private handlePlan(message: Extract<MainToUi, { type: 'plan' }>): void {
    const pending = this.pendingPlans.get(message.requestId);
    if (!pending) return this.log(`plan for unknown request ${message.requestId}`);
    this.pendingPlans.delete(message.requestId);
    this.setState({ planning: Math.max(0, this.state.planning - 1) });
    for (const skipped of message.skipped) this.notify('info', `Skipped "${skipped.name}": ${skipped.reason}`);
    const notes = new Set(message.jobs.flatMap((job) => job.notes));
    notes.forEach((note) => this.notify('info', note));
    if (message.jobs.length === 0) {
      if (message.skipped.length === 0) this.notify('error', 'Nothing to do: select a frame or shape, or clear the selection to insert a new frame.');
      return;
    }
    this.queue.enqueue(engineJobsFromPlan(message.jobs, pending.settings));
  }

  private handleMainError(message: Extract<MainToUi, { type: 'error' }>): void {
    const ref = message.ref;
    if (ref !== undefined && this.pendingExports.has(ref)) {
      const pending = this.pendingExports.get(ref)!;
      this.pendingExports.delete(ref);
      pending.reject(new Error(message.message));
      return;
    }
    if (ref !== undefined && this.pendingPlans.delete(ref)) {
      this.setState({ planning: Math.max(0, this.state.planning - 1) });
    }
    this.notify('error', message.message);
  }

  // -------------------------------------------------------------------------------------------
  // Job queue host

  private requestExportAsync(nodeId: string, width: number, height: number): Promise<Uint8Array> {
    const requestId = `export-${this.nextId++}`;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pendingExports.set(requestId, { resolve, reject });
      this.post(uiMessage('export-request', { requestId, nodeId, size: { width, height } }));
    });
  }

  private deliverResult(job: EngineJob, result: GenerationResult): void {
    // After a lost GPU device the engine carries on with WASM: keep the header honest.
    const info = this.state.model.info;
    if (info && result.backend !== info.backend) {
      this.setState({ model: { ...this.state.model, info: { ...info, backend: result.backend } } });
      this.notify('info', `The engine now runs on ${result.backend === 'webgpu' ? 'WebGPU' : 'WASM (CPU)'}.`);
    }
    if (this.droppedJobs.has(job.jobId)) return;
    const record = provenanceFor(job, result, this.now());
    this.sentRecords.set(job.jobId, record);
    this.post(uiMessage('job-result', { jobId: job.jobId, png: result.png, width: result.width, height: result.height, record }));
  }

  // -------------------------------------------------------------------------------------------
  // Derived views

  /** Selected nodes Flowfill can fill. */
  fillableTargets(): TargetInfo[] {
    return this.state.targets.filter((t) => t.canFill);
  }

  hasOpenJobs(): boolean {
    return this.state.jobs.some((job) => !isFinished(job.status));
  }
}

/**
 * The primary button's label: what pressing it will do to the canvas (src/planning.ts decides the
 * same way): nothing selected inserts `variations` new frames; a selection fills each fillable node.
 */
export function primaryActionLabel(targets: readonly TargetInfo[], variations = 1): string {
  if (targets.length === 0) return variations > 1 ? `Insert ${variations} images` : 'Insert';
  const fillable = targets.filter((t) => t.canFill).length;
  if (fillable === 0) return 'Nothing to fill';
  return fillable === 1 ? 'Fill 1 frame' : `Fill ${fillable} frames`;
}

/**
 * The Variations command (menu or relaunch button) on this selection: new seeds of the same record
 * when every fillable node carries a Flowfill record, else image-to-image from the nodes' pixels
 * (the protocol's rule for 'variations').
 */
export function variationKindFor(targets: readonly TargetInfo[]): 'seed-variations' | 'image-variations' {
  const fillable = targets.filter((t) => t.canFill);
  return fillable.length > 0 && fillable.every((t) => t.provenance !== undefined) ? 'seed-variations' : 'image-variations';
}

/** The record to show for the selection: the single selected node's, when it has one. */
export function selectedProvenance(targets: readonly TargetInfo[]): { target: TargetInfo; record: ProvenanceRecord } | undefined {
  if (targets.length !== 1 || !targets[0].provenance) return undefined;
  return { target: targets[0], record: targets[0].provenance };
}
