/**
 * The panel's DOM, rendered from the panel's state with Preact on every change. All behaviour
 * lives in the panel (ui/panel.ts); the view renders state and forwards user actions.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Panel } from '../panel.js';
import type { PanelState } from '../panel-state.js';
import { HistoryList } from './history-list.js';
import { JobList } from './job-list.js';
import { isEnded } from '../jobs/job.js';
import { readyModelInfo } from '../engine/model-state.js';
import { currentPromptCheck } from '../engine/prompt-checker.js';
import { DiagnosticsSection } from './diagnostics-section.js';
import { ModelHeader, ModelNotes, ModelStatusLine, ModelsSection } from './model-section.js';
import { NoticeList } from './notice-list.js';
import { PANEL_CSS } from './panel-styles.js';
import { PromptSection } from './prompt-section.js';
import { ProvenanceCard } from './provenance-card.js';
import { primaryActionLabel, selectedProvenance } from './selection-summary.js';
import { SettingsSection } from './settings-section.js';

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

function Actions({ state, panel }: { state: PanelState; panel: Panel }) {
  const { model, settings, selection } = state;
  const ready = model.status === 'ready';
  const unfillable = selection.length > 0 && selection.every((t) => t.unfillable !== undefined);
  const hasSelection = selection.length > 0;
  const count = settings.variations;
  const primaryTitle = !ready
    ? 'Waiting for the model to load'
    : unfillable
      ? 'The selection cannot hold an image: choose a frame or shape'
      : '';
  return (
    <div class="ff-actions">
      <button
        class="ff-button is-primary"
        type="button"
        id="ff-generate"
        disabled={!ready || unfillable}
        title={primaryTitle}
        onClick={() => void panel.generateAsync('generate')}
      >
        <span>{state.planning > 0 ? 'Planning…' : primaryActionLabel(selection, count)}</span>
        <span class="ff-kbd">{isMac ? '⌘↵' : 'Ctrl+↵'}</span>
      </button>
      <div class="ff-row">
        <button
          class="ff-button"
          type="button"
          id="ff-seed-variations"
          disabled={!ready || !hasSelection}
          title={hasSelection ? 'Same prompt, new seeds, next to the selected image' : 'Select a layer first'}
          onClick={() => void panel.generateAsync('seed-variations')}
        >
          {count > 1 ? `${count} seed variations` : 'Seed variation'}
        </button>
        <button
          class="ff-button"
          type="button"
          id="ff-image-variation"
          disabled={!ready || !hasSelection || model.info?.supportsImageToImage === false}
          title={hasSelection ? 'New images that start from the selected layer’s pixels' : 'Select a layer first'}
          onClick={() => void panel.generateAsync('image-variations')}
        >
          {count > 1 ? `${count} image variations` : 'Image variation'}
        </button>
      </div>
    </div>
  );
}

function PanelView({ panel }: { panel: Panel }) {
  const [state, setState] = useState(panel.store.get());
  useEffect(() => panel.store.subscribe(setState), [panel]);
  useEffect(() => {
    // Ctrl/Cmd-Enter generates from anywhere in the panel.
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey)) return;
      event.preventDefault();
      // Number fields commit on "change", which has not fired while the field keeps focus: commit first.
      const active = document.activeElement;
      if (active instanceof HTMLInputElement && active.type === 'number') active.dispatchEvent(new Event('change', { bubbles: true }));
      void panel.generateAsync('generate');
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [panel]);

  const update = panel.updateSettings;
  const selected = selectedProvenance(state.selection);
  const busy = state.planning > 0 || state.jobs.some((j) => !isEnded(j.status));
  return (
    <div class="ff-panel">
      <ModelHeader model={state.model} />
      <ModelStatusLine model={state.model} onRetry={() => void panel.retryModelLoadAsync()} />
      <ModelNotes model={state.model} />
      <ModelsSection model={state.model} library={state.library} panel={panel} busy={busy} />
      <NoticeList notices={state.notices} onDismiss={panel.dismissNotice} />
      <PromptSection settings={state.settings} update={update} model={readyModelInfo(state.model)} check={currentPromptCheck(state)} />
      {/* The actions sit above the settings, so they stay in view when the settings are open. */}
      <section class="ff-section">
        <Actions state={state} panel={panel} />
        <SettingsSection
          settings={state.settings}
          model={readyModelInfo(state.model)}
          update={update}
          onRollSeed={panel.rollSeed}
          onCompute={(compute) => void panel.setComputeAsync(compute)}
          onUseRecommended={panel.useModelRecommendation}
        />
      </section>
      {selected && (
        <ProvenanceCard
          layer={selected.layer}
          record={selected.record}
          onUse={() => panel.useRecord(selected.record)}
          onRegenerate={() => void panel.generateAsync('regenerate')}
        />
      )}
      <JobList
        jobs={state.jobs}
        decodeMs={state.decodeMs}
        onCancel={(id) => void panel.cancelJob(id)}
        onCancelAll={() => void panel.cancelAll()}
        onClear={panel.clearFinishedJobs}
      />
      <HistoryList history={state.history} onUse={panel.useRecord} />
      <DiagnosticsSection diagnostics={state.diagnostics} panel={panel} busy={busy} />
    </div>
  );
}

/** Renders the panel into `root` and keeps it in sync with the panel's state. */
export function mountPanel(root: HTMLElement, panel: Panel): { dispose(): void } {
  if (!document.getElementById('ff-styles')) {
    const style = document.createElement('style');
    style.id = 'ff-styles';
    style.textContent = PANEL_CSS;
    document.head.append(style);
  }
  render(<PanelView panel={panel} />, root);
  return { dispose: () => render(null, root) };
}
