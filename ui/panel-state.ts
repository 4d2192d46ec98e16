/**
 * Everything the panel knows, in one object the view renders: the model and engine, the user's
 * settings, the selection, the jobs and their batches, history and notices.
 */
import type { PromptCheck } from '../common/engine-types.js';
import type { Launch, SelectedLayer } from '../common/host-rpc.js';
import type { DiagnosticsState } from './diagnostics/diagnostics-report.js';
import type { LibraryState } from './engine/model-library.js';
import type { ModelState } from './engine/model-state.js';
import type { Batch, Job } from './jobs/job.js';
import type { Notice } from './notices.js';
import type { HistoryEntry } from './settings/history.js';
import { createDefaultSettings, type GenerationSettings } from './settings/settings.js';
import { createStore, type Store } from './store.js';

export interface PanelState {
  model: ModelState;
  /** The models the store holds and the add in progress (engine/model-library.ts). */
  library: LibraryState;
  diagnostics: DiagnosticsState;
  settings: GenerationSettings;
  /** The selection as the host last reported it (for display: no sizes). */
  selection: SelectedLayer[];
  /** The only job state: queue order, newest last. */
  jobs: Job[];
  batches: Batch[];
  /** Newest first. */
  history: HistoryEntry[];
  notices: Notice[];
  /** Batches whose targets are being read. */
  planning: number;
  launch?: Launch;
  /** The last VAE decode time the engine reported, ms: part of a running job's time estimate. */
  decodeMs?: number;
  /** What the model in use makes of the prompt (unknown words), for the prompt as it was when asked. */
  promptCheck?: CheckedPrompt;
}

export interface CheckedPrompt extends PromptCheck {
  prompt: string;
  /** The model that checked it (ModelInfo.hash). */
  modelHash: string;
}

export type PanelStore = Store<PanelState>;

export function createPanelStore(seed: number): PanelStore {
  return createStore<PanelState>({
    model: { status: 'starting' },
    library: {},
    diagnostics: { open: false, running: false },
    settings: createDefaultSettings(seed),
    selection: [],
    jobs: [],
    batches: [],
    history: [],
    notices: [],
    planning: 0,
  });
}
