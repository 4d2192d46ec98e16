/**
 * The panel, the orchestrator: it owns the user's settings, plans each batch, runs the queue
 * through the engine, places results through the host and keeps history. This module only wires
 * the parts together and lists what the view may do; each part is its own module:
 *
 *   engine/model-state.ts       load the model, know what the engine runs on
 *   engine/model-library.ts     the model store: start model, add (folder, URL), remove, use
 *   engine/prompt-checker.ts    the words of the prompt the model does not know
 *   diagnostics/                what the host gives the engine, for a report to copy
 *   jobs/start-batch.ts         an action → read targets → plan → queue
 *   jobs/job-runner.ts          queue → export → generate → place
 *   jobs/batch-tracker.ts       job and batch ends: notices, toasts, undo step, quick-action close
 *   jobs/skip-deleted-layers.ts selection changes → skip jobs whose layer is gone
 *   settings/stored-settings.ts settings and history in the host's storage
 */
import type { BackendPreference, DiagnosticsApi, EngineApi, GenerationResult, ModelStoreApi } from '../common/engine-types.js';
import type { ProvenanceRecord } from '../common/provenance.js';
import {
  formatDiagnosticsReport,
  readPageContextAsync,
  type DiagnosticsReport,
  type PageContext,
} from './diagnostics/diagnostics-report.js';
import { createModelLibrary, type ModelLibrary } from './engine/model-library.js';
import { readyModelInfo } from './engine/model-state.js';
import { startPromptChecker } from './engine/prompt-checker.js';
import type { HostClient, HostConnection } from './host-client.js';
import { createBatchTracker } from './jobs/batch-tracker.js';
import { isEnded, type Job } from './jobs/job.js';
import { createJobRunner } from './jobs/job-runner.js';
import type { BatchRequest } from './jobs/plan-batch.js';
import { skipJobsOfDeletedLayersAsync } from './jobs/skip-deleted-layers.js';
import { startBatchAsync } from './jobs/start-batch.js';
import { addNotice, dismissNotice } from './notices.js';
import { createPanelStore, type PanelStore } from './panel-state.js';
import { addHistoryEntry, settingsFromRecord } from './settings/history.js';
import { drawRandomSeed, recommendationAdvice, withModelRecommendation, type GenerationSettings } from './settings/settings.js';
import { createSettingsSaver, loadStoredSettingsAsync, saveHistory } from './settings/stored-settings.js';

export interface PanelOptions {
  host: HostConnection;
  engine: EngineApi;
  /** The worker's model store (absent in hosts without one: only the built-in model then). */
  models?: ModelStoreApi;
  /** The worker's diagnostics. */
  diagnostics?: DiagnosticsApi;
  /** How this panel was delivered, for the diagnostics report. */
  mode?: PageContext['mode'];
  /** What the page sees about itself (the DOM's; tests pass their own). */
  pageContext?: () => Promise<PageContext>;
  /** navigator.storage.persist(), asked before the first model is kept. */
  requestPersistence?: () => Promise<boolean | undefined>;
  now?: () => Date;
  /** Seeds for fresh (unlocked) generations; crypto.getRandomValues by default. */
  drawSeed?: () => number;
  /** Delay before a settings change is written to the host's storage, ms. */
  settingsSaveDelayMs?: number;
  /** Quiet time after the prompt changes before the model checks its words, ms. */
  promptCheckDelayMs?: number;
  /** What only a developer needs (a malformed message, a failed background call); console by default. */
  log?: (message: string) => void;
}

/** What the view (and the launch command) may ask of the panel. */
export interface Panel {
  readonly store: PanelStore;
  /** Reads the launch, settings, history and selection; loads the model; then carries out the launch command. */
  startAsync(): Promise<void>;
  /** Starts a batch on the current selection; false when nothing started (a notice says why). */
  generateAsync(request: BatchRequest): Promise<boolean>;
  updateSettings(patch: Partial<GenerationSettings>): void;
  /** Runs the engine on another backend from now on: the model in use loads again there. */
  setComputeAsync(compute: BackendPreference): Promise<void>;
  rollSeed(): void;
  /** "Use these settings" on a provenance record: its prompt and settings, with its seed locked. */
  useRecord(record: ProvenanceRecord): void;
  /** The active model's recommended steps and guidance, and following each model's from now on again. */
  useModelRecommendation(): void;
  cancelJob(jobId: string): Promise<void>;
  cancelAll(): Promise<void>;
  clearFinishedJobs(): void;
  dismissNotice(id: number): void;
  /** Loads the model again after a failure (the panel's "Try again"). */
  retryModelLoadAsync(): Promise<void>;
  /** The models: add from a folder or URL, remove, use. */
  readonly library: ModelLibrary;
  /** Opens or closes the diagnostics section. */
  setDiagnosticsOpen(open: boolean): void;
  /** Runs the diagnostics (engine self-tests included) and keeps the report; resolves with its text. */
  runDiagnosticsAsync(): Promise<string>;
  /** Resolves when no job is queued or running (tests, the browser rig). */
  whenIdle(): Promise<void>;
}

/** Finished jobs kept in the queue list; older ones drop off. */
export const FINISHED_JOBS_KEPT = 20;

export function createPanel(options: PanelOptions): Panel {
  const drawSeed = options.drawSeed ?? drawRandomSeed;
  const log = options.log ?? ((message: string) => console.warn(`[flowfill panel] ${message}`));
  const host: HostClient = options.host.call;
  const store = createPanelStore(drawSeed());
  const notice = (level: 'info' | 'error', text: string) => store.set((s) => ({ notices: addNotice(s.notices, level, text) }));
  const saver = createSettingsSaver(host, store, options.settingsSaveDelayMs ?? 400, (message) =>
    notice('error', `The settings could not be saved: ${message}`),
  );
  const tracker = createBatchTracker({ store, host, log });
  followModelRecommendation();
  startPromptChecker({ store, engine: options.engine, delayMs: options.promptCheckDelayMs ?? 250, log });

  const runner = createJobRunner({
    store,
    engine: options.engine,
    host,
    now: options.now,
    async onEnded(job) {
      await tracker.onJobEnded(job);
      trimFinishedJobs();
    },
    onPlaced(job: Job, record: ProvenanceRecord, nodeName: string) {
      store.set((s) => ({ history: addHistoryEntry(s.history, { jobId: job.jobId, nodeId: job.placedNodeId!, nodeName, record }) }));
      saveHistory(host, store, (message) => notice('error', `The history could not be saved: ${message}`));
    },
    onBackendChanged(result: GenerationResult) {
      // After a lost GPU device the engine carries on with WASM: keep the header honest.
      const info = store.get().model.info;
      if (!info || result.backend === info.backend) return;
      store.set((s) => ({ model: { ...s.model, info: { ...info, backend: result.backend } } }));
      notice('info', `The engine now runs on ${result.backend === 'webgpu' ? 'WebGPU' : 'WASM (CPU)'}.`);
    },
  });

  /** Each model that becomes ready brings its recommended steps and guidance, unless the designer has set them. */
  function followModelRecommendation(): void {
    let adoptedFor: string | undefined;
    store.subscribe((s) => {
      const info = readyModelInfo(s.model);
      if (!info || info.hash === adoptedFor) return;
      adoptedFor = info.hash;
      const settings = withModelRecommendation(s.settings, info.recommended);
      if (settings !== s.settings) {
        store.set({ settings });
        return;
      }
      // Kept values that differ are worth a word: CFG on a guidance-distilled model over-saturates its images.
      const advice = recommendationAdvice(s.settings, info.recommended);
      if (advice) {
        notice(
          'info',
          `${info.name} recommends ${advice}; the steps and guidance you set are kept (Settings › Use recommended takes the model's).`,
        );
      }
    });
  }

  function trimFinishedJobs(): void {
    const ended = store
      .get()
      .jobs.filter((j) => isEnded(j.status) && store.get().batches.find((b) => b.batchId === j.batchId)?.ended !== false);
    const stale = new Set(ended.slice(0, Math.max(0, ended.length - FINISHED_JOBS_KEPT)).map((j) => j.jobId));
    if (stale.size === 0) return;
    store.set((s) => {
      const jobs = s.jobs.filter((j) => !stale.has(j.jobId));
      // An ended batch whose jobs have all dropped off the list has nothing left to tell.
      const batches = s.batches.filter((b) => !b.ended || jobs.some((j) => j.batchId === b.batchId));
      return { jobs, batches };
    });
  }

  const batchDeps = { store, host, runner, tracker, drawSeed, saveSettingsNow: () => saver.flush() };
  const jobsActive = () => store.get().jobs.some((j) => !isEnded(j.status)) || store.get().planning > 0;
  const library = createModelLibrary({
    store,
    engine: options.engine,
    models: options.models,
    jobsActive,
    requestPersistence: options.requestPersistence,
  });

  async function runDiagnosticsAsync(): Promise<string> {
    store.set((s) => ({ diagnostics: { ...s.diagnostics, open: true, running: true, copied: undefined } }));
    const [page, engine, status] = await Promise.all([
      (options.pageContext ?? (() => readPageContextAsync(options.mode ?? 'embedded')))(),
      options.diagnostics
        ? options.diagnostics.diagnostics().then(
            (d) => ({ d }),
            (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
          )
        : Promise.resolve({ error: 'this panel has no engine diagnostics' }),
      options.models?.storeStatus().catch(() => undefined),
    ]);
    const info = store.get().model.info;
    const report: DiagnosticsReport = {
      createdAt: (options.now?.() ?? new Date()).toISOString(),
      page,
      ...('d' in engine ? { engine: engine.d } : { engineError: engine.error }),
      ...(status ? { store: status } : {}),
      ...(info
        ? {
            model: {
              id: info.id,
              name: info.name,
              hash: info.hash,
              backend: info.backend,
              ...(info.precision ? { precision: info.precision } : {}),
            },
          }
        : {}),
    };
    store.set((s) => ({ diagnostics: { ...s.diagnostics, running: false, report } }));
    return formatDiagnosticsReport(report);
  }

  options.host.on('selection-changed', ({ layers }) => {
    store.set({ selection: layers });
    skipJobsOfDeletedLayersAsync({ store, host, runner }).catch((error: unknown) =>
      log(`checking for deleted layers failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  });

  /** Hands the stored backend choice to the engine; true when it took it. */
  async function applyComputePreferenceAsync(): Promise<boolean> {
    if (!options.engine.setBackendPreference) return false;
    try {
      await options.engine.setBackendPreference(store.get().settings.compute);
      return true;
    } catch (error) {
      notice(
        'error',
        `The engine could not switch to ${computeName(store.get().settings.compute)}: ${error instanceof Error ? error.message : String(error)}`,
      );
      return false;
    }
  }

  async function runLaunchCommandAsync(): Promise<void> {
    const launch = store.get().launch;
    if (!launch || launch.command === 'open') return;
    if (launch.command === 'diagnostics') {
      await runDiagnosticsAsync();
      return;
    }
    const quickAction = launch.source === 'quick-action';
    if (launch.prompt !== undefined) panel.updateSettings({ prompt: launch.prompt });
    const request: BatchRequest =
      launch.command === 'variations' ? 'variations' : launch.command === 'regenerate' ? 'regenerate' : 'generate';
    const started = await startBatchAsync(batchDeps, request, { quickAction });
    // A quick action that could not start (the model failed, an empty prompt) still ends: its panel is hidden.
    if (!started && quickAction && store.get().batches.length === 0) {
      const last = store.get().notices.at(-1)?.text ?? 'Flowfill could not start.';
      await host.notify({ message: last.slice(0, 2000), error: true }).catch(() => undefined);
      void host.close().catch(() => undefined);
    }
  }

  const panel: Panel = {
    store,
    async startAsync() {
      const [launch, selection] = await Promise.all([host.readLaunch(), host.readSelection(), loadStoredSettingsAsync(host, store)]);
      store.set({ launch, selection: selection.layers });
      await applyComputePreferenceAsync();
      await library.loadStartModelAsync();
      // With no model the command still runs, to say why nothing happens (and to end a quick action).
      await runLaunchCommandAsync();
    },
    generateAsync: (request) => startBatchAsync(batchDeps, request),
    updateSettings(patch) {
      store.set((s) => ({ settings: { ...s.settings, ...patch } }));
      saver.schedule();
    },
    useModelRecommendation() {
      const s = store.get();
      const info = readyModelInfo(s.model);
      if (!info?.recommended) return;
      panel.updateSettings(withModelRecommendation({ ...s.settings, samplingFromModel: true }, info.recommended));
    },
    async setComputeAsync(compute) {
      if (compute === store.get().settings.compute) return;
      if (jobsActive()) {
        notice('error', `Finish or cancel the running jobs before switching to ${computeName(compute)}.`);
        return;
      }
      panel.updateSettings({ compute });
      if (await applyComputePreferenceAsync()) await library.retryAsync();
    },
    rollSeed() {
      panel.updateSettings({ seed: drawSeed() });
    },
    useRecord(record) {
      panel.updateSettings(settingsFromRecord(store.get().settings, record));
      notice('info', `Settings from "${record.prompt || 'untitled'}" (seed ${record.seed}) loaded; the seed is locked.`);
    },
    cancelJob: (jobId) => runner.stop(jobId, { status: 'cancelled' }),
    async cancelAll() {
      const open = store.get().jobs.filter((j) => !isEnded(j.status));
      await Promise.all(open.map((j) => runner.stop(j.jobId, { status: 'cancelled' })));
    },
    clearFinishedJobs() {
      store.set((s) => ({ jobs: s.jobs.filter((j) => !isEnded(j.status)) }));
    },
    dismissNotice(id) {
      store.set((s) => ({ notices: dismissNotice(s.notices, id) }));
    },
    async retryModelLoadAsync() {
      await library.retryAsync();
    },
    library,
    setDiagnosticsOpen(open) {
      store.set((s) => ({ diagnostics: { ...s.diagnostics, open } }));
    },
    runDiagnosticsAsync,
    whenIdle: () => runner.whenIdle(),
  };
  return panel;
}

function computeName(compute: BackendPreference): string {
  return compute === 'webgpu' ? 'WebGPU' : compute === 'wasm' ? 'WASM (CPU)' : 'automatic choice';
}
