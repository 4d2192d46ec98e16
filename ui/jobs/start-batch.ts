/**
 * One user action (a Fill click, a menu command, the quick action) becomes a batch: check the
 * model and prompt, snapshot the settings, read the selection's targets from the host (the one
 * time their sizes cross), plan the jobs, say what was skipped and why, and start the runner.
 */
import type { HostClient } from '../host-client.js';
import { addNotice } from '../notices.js';
import type { PanelStore } from '../panel-state.js';
import { modelGeometry } from '../engine/model-state.js';
import { resolveInsertSize } from '../settings/insert-size-presets.js';
import type { BatchTracker } from './batch-tracker.js';
import type { Batch } from './job.js';
import type { JobRunner } from './job-runner.js';
import { planBatch, type BatchRequest } from './plan-batch.js';
import { skippedLine } from './skip-reasons.js';

export interface StartBatchDeps {
  store: PanelStore;
  host: HostClient;
  runner: JobRunner;
  tracker: BatchTracker;
  /** A fresh seed for an unlocked seed field, drawn after the snapshot. */
  drawSeed(): number;
  /** Writes the settings now (a generation is a good moment to remember them). */
  saveSettingsNow(): void;
}

let nextBatch = 1;

/** Starts a batch; resolves false when nothing was started (the reason is in the notices). */
export async function startBatchAsync(deps: StartBatchDeps, request: BatchRequest, { quickAction = false } = {}): Promise<boolean> {
  const { store, host } = deps;
  const notice = (level: 'info' | 'error', text: string, details?: string[]) =>
    store.set((s) => ({ notices: addNotice(s.notices, level, text, details) }));
  const { model, settings } = store.get();
  if (model.status !== 'ready' || !model.info) {
    notice(
      'error',
      model.status === 'failed'
        ? 'The model failed to load, so nothing can be generated.'
        : 'The model is still loading; try again in a moment.',
    );
    return false;
  }
  const info = model.info;
  if (request === 'generate' && settings.prompt.trim() === '') {
    notice('error', 'Describe the image first: the prompt is empty.');
    return false;
  }
  if (request === 'image-variations' && !info.supportsImageToImage) {
    notice('error', `${info.name} cannot make image variations (it has no image encoder).`);
    return false;
  }
  // The seed shown is the seed used; an unlocked one is then redrawn for the next click.
  if (!settings.seedLocked) store.set((s) => ({ settings: { ...s.settings, seed: deps.drawSeed() } }));
  deps.saveSettingsNow();

  const batchId = `b${nextBatch++}`;
  store.set((s) => ({ planning: s.planning + 1 }));
  let read;
  try {
    read = await host.readTargets();
  } catch (error) {
    notice('error', `The selection could not be read: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  } finally {
    store.set((s) => ({ planning: Math.max(0, s.planning - 1) }));
  }

  let planned = planBatch({
    request,
    targets: read.targets,
    viewportCenter: read.viewportCenter,
    settings,
    geometry: modelGeometry(info),
    newFrame: resolveInsertSize(settings),
    batchId,
    models: {
      current: info,
      installed: [...(store.get().library.builtIn ? [store.get().library.builtIn!] : []), ...(store.get().library.status?.models ?? [])],
    },
  });
  if (!info.supportsImageToImage && planned.jobs.some((j) => j.kind === 'image-variation')) {
    planned = {
      ...planned,
      jobs: [],
      nothingToDo: `${info.name} cannot make image variations (it has no image encoder), and the selection holds no Flowfill image to vary by seed.`,
    };
  }
  const batch: Batch = { batchId, fillMode: settings.fillMode, quickAction, skipped: planned.skipped, shownErrors: [], ended: false };
  store.set((s) => ({ batches: [...s.batches, batch], jobs: [...s.jobs, ...planned.jobs] }));

  const details = planned.skipped.map((skip) => `“${skip.name}”: ${skip.reason}`);
  if (planned.nothingToDo !== undefined) {
    notice('error', planned.nothingToDo, planned.skipped.length > 1 ? details : undefined);
    try {
      await host.notify({ message: planned.nothingToDo.slice(0, 2000), error: true });
    } catch {
      // The toast is a courtesy; the panel already says it.
    }
    await deps.tracker.finishBatch(batchId);
    return false;
  }
  if (planned.skipped.length > 0) notice('info', skippedLine(planned.skipped.map((s) => s.code)), details);
  for (const note of planned.notes) notice('info', note);
  deps.runner.start();
  return true;
}
