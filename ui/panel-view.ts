/**
 * The panel's DOM. Built once, then updated from the controller's state on every change, so
 * inputs keep focus and caret while progress streams in. All behaviour lives in the controller;
 * this file only renders state and forwards user actions.
 */
import type { HistoryEntry, TargetInfo } from '../common/protocol.js';
import type { ProvenanceRecord } from '../common/provenance.js';
import { h, setInputValue, setText, toggle } from './dom.js';
import { icon } from './icons.js';
import { createJobListView } from './job-list-view.js';
import { CUSTOM_INSERT_SIZE_ID, INSERT_SIZE_PRESETS } from './insert-size-presets.js';
import { isFinished, type JobView } from './job-queue.js';
import { primaryActionLabel, selectedProvenance, type PanelController, type PanelState } from './panel-controller.js';
import { PANEL_CSS } from './panel-styles.js';
import {
  CUSTOM_SIDE_RANGE,
  GUIDANCE_RANGE,
  STEPS_RANGE,
  STRENGTH_RANGE,
  VARIATIONS_RANGE,
  clampToRange,
  parseSeed,
  type GenerationSettings,
  type NumberRange,
} from './settings.js';
import { STYLE_PRESETS, isPresetActive, togglePreset } from './style-presets.js';

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MB`;
  if (bytes >= 1 << 10) return `${Math.round(bytes / (1 << 10))} kB`;
  return `${bytes} B`;
}

function recordMeta(record: ProvenanceRecord): string[] {
  const meta = [`Seed ${record.seed}`, `${record.steps} steps`, `CFG ${record.guidance}`, `${record.width}×${record.height}`];
  if (record.strength !== undefined) meta.push(`Strength ${record.strength}`);
  meta.push(`${record.model.id} · ${record.backend === 'webgpu' ? 'WebGPU' : 'WASM'}`);
  return meta;
}

/** A labelled number input bound to one numeric setting. */
function numberField(label: string, id: string, range: NumberRange) {
  const input = h('input', { class: 'ff-input', id, type: 'number', min: range.min, max: range.max, step: range.step, inputmode: 'decimal' });
  const wrapper = h('label', {}, h('span', { class: 'ff-label' }, label), input);
  return { wrapper, input };
}

export interface PanelView {
  /** Removes listeners; the DOM stays. */
  dispose(): void;
}

/** Builds the panel inside `root` and keeps it in sync with the controller. */
export function mountPanel(root: HTMLElement, controller: PanelController): PanelView {
  if (!document.getElementById('ff-styles')) {
    document.head.append(h('style', { id: 'ff-styles' }, PANEL_CSS));
  }
  const settingsNow = () => controller.getState().settings;
  const update = (patch: Partial<GenerationSettings>) => controller.updateSettings(patch);

  // --- Header
  const modelName = h('span', { class: 'ff-model', id: 'ff-model-name' }, 'Starting engine…');
  const backendBadge = h('span', { class: 'ff-badge', id: 'ff-backend', title: '' }, '…');
  const header = h('header', { class: 'ff-header' }, h('span', { class: 'ff-title' }, 'Flowfill'), modelName, backendBadge);
  const notesList = h('ul');
  const notesSummary = h('summary', {}, 'Model notes');
  const notes = h('details', { class: 'ff-notes', id: 'ff-model-notes' }, notesSummary, notesList);
  const loadText = h('span');
  const retryLoad = h('button', { class: 'ff-link', type: 'button', id: 'ff-retry-load' }, 'Try again');
  retryLoad.addEventListener('click', () => void controller.loadModelAsync());
  const loadLine = h('div', { class: 'ff-load', id: 'ff-model-load' }, loadText, ' ', retryLoad);
  const notices = h('div', { class: 'ff-notices', id: 'ff-notices', role: 'status', 'aria-live': 'polite' });

  // --- Prompt
  const prompt = h('textarea', { class: 'ff-textarea', id: 'ff-prompt', rows: 3, placeholder: 'Describe the image, e.g. rocket, flat style, on a teal background', spellcheck: true });
  const negative = h('input', { class: 'ff-input', id: 'ff-negative', type: 'text', placeholder: 'What to avoid (optional)' });
  const presetButtons = STYLE_PRESETS.map((preset) => {
    const button = h('button', { class: 'ff-chip', type: 'button', title: `Adds "${preset.text}" to the prompt`, 'data-preset': preset.id }, preset.label);
    button.addEventListener('click', () => update({ prompt: togglePreset(settingsNow().prompt, preset) }));
    return { preset, button };
  });
  const promptSection = h(
    'section',
    { class: 'ff-section' },
    h('label', {}, h('span', { class: 'ff-label' }, 'Prompt'), prompt),
    h('div', { class: 'ff-chips', id: 'ff-presets' }, ...presetButtons.map((p) => p.button)),
    h('label', {}, h('span', { class: 'ff-label' }, 'Negative prompt'), negative),
  );
  prompt.addEventListener('input', () => update({ prompt: prompt.value }));
  negative.addEventListener('input', () => update({ negativePrompt: negative.value }));

  // --- Settings
  const steps = numberField('Steps', 'ff-steps', STEPS_RANGE);
  const guidance = numberField('Guidance', 'ff-guidance', GUIDANCE_RANGE);
  const variations = numberField('Variations', 'ff-variations', VARIATIONS_RANGE);
  const strength = numberField('Strength', 'ff-strength', STRENGTH_RANGE);
  strength.wrapper.title = 'Image variation: how far from the source image to move (0 keeps it, 1 ignores it)';
  const bindNumber = (field: { input: HTMLInputElement }, key: 'steps' | 'guidance' | 'variations' | 'strength', range: NumberRange) => {
    field.input.addEventListener('change', () => {
      const value = clampToRange(Number(field.input.value), range, settingsNow()[key]);
      field.input.value = String(value);
      update({ [key]: value });
    });
  };
  bindNumber(steps, 'steps', STEPS_RANGE);
  bindNumber(guidance, 'guidance', GUIDANCE_RANGE);
  bindNumber(variations, 'variations', VARIATIONS_RANGE);
  bindNumber(strength, 'strength', STRENGTH_RANGE);

  const seed = h('input', { class: 'ff-input', id: 'ff-seed', type: 'text', inputmode: 'numeric', 'aria-label': 'Seed' });
  const rollSeed = h('button', { class: 'ff-icon-button', type: 'button', id: 'ff-seed-roll', title: 'New random seed' }, icon('dice'));
  const lockSeed = h('button', { class: 'ff-icon-button', type: 'button', id: 'ff-seed-lock', title: '' });
  seed.addEventListener('input', () => {
    const parsed = parseSeed(seed.value);
    toggle(seed, 'is-invalid', parsed === undefined);
    seed.title = parsed === undefined ? 'A seed is a whole number from 0 to 4294967295' : '';
    // Typing a seed means the user wants that seed: lock it so Generate does not replace it.
    if (parsed !== undefined) update({ seed: parsed, seedLocked: true });
  });
  seed.addEventListener('blur', () => {
    toggle(seed, 'is-invalid', false);
    seed.value = String(settingsNow().seed);
  });
  rollSeed.addEventListener('click', () => controller.rollSeed());
  lockSeed.addEventListener('click', () => update({ seedLocked: !settingsNow().seedLocked }));
  const seedField = h('label', {}, h('span', { class: 'ff-label' }, 'Seed'), h('div', { class: 'ff-inline' }, seed, rollSeed, lockSeed));

  const sizeButtons = [...INSERT_SIZE_PRESETS.map((p) => ({ id: p.id, label: p.label, title: `${p.width}×${p.height}` })), { id: CUSTOM_INSERT_SIZE_ID, label: 'Custom', title: 'Your own size' }].map(
    (size) => {
      const button = h('button', { type: 'button', title: size.title, 'data-size': size.id }, size.label);
      button.addEventListener('click', () => update({ insertSize: size.id }));
      return { id: size.id, button };
    },
  );
  const customWidth = h('input', { class: 'ff-input', id: 'ff-custom-width', type: 'number', min: CUSTOM_SIDE_RANGE.min, max: CUSTOM_SIDE_RANGE.max, 'aria-label': 'Custom width' });
  const customHeight = h('input', { class: 'ff-input', id: 'ff-custom-height', type: 'number', min: CUSTOM_SIDE_RANGE.min, max: CUSTOM_SIDE_RANGE.max, 'aria-label': 'Custom height' });
  for (const [input, key] of [
    [customWidth, 'customWidth'],
    [customHeight, 'customHeight'],
  ] as const) {
    input.addEventListener('change', () => {
      const value = clampToRange(Number(input.value), CUSTOM_SIDE_RANGE, settingsNow()[key]);
      input.value = String(value);
      update({ [key]: value });
    });
  }
  const customRow = h('div', { class: 'ff-inline', id: 'ff-custom-size' }, customWidth, h('span', { class: 'ff-hint' }, '×'), customHeight);
  const sizeField = h(
    'div',
    { id: 'ff-insert-size' },
    h('span', { class: 'ff-label' }, 'Insert size (when nothing is selected)'),
    h('div', { class: 'ff-segmented' }, ...sizeButtons.map((s) => s.button)),
  );

  const fillReplace = h('button', { type: 'button', 'data-fill': 'replace', title: 'The image replaces the existing fills' }, 'Replace fills');
  const fillKeep = h('button', { type: 'button', 'data-fill': 'keep', title: 'The image goes on top; existing fills stay underneath' }, 'Keep underneath');
  fillReplace.addEventListener('click', () => update({ fillMode: 'replace' }));
  fillKeep.addEventListener('click', () => update({ fillMode: 'keep' }));
  const fillField = h('div', {}, h('span', { class: 'ff-label' }, 'Existing fills'), h('div', { class: 'ff-segmented', id: 'ff-fill-mode' }, fillReplace, fillKeep));

  const settingsSummary = h('span', { class: 'ff-hint', id: 'ff-settings-summary' });
  const settingsDetails = h(
    'details',
    { class: 'ff-details', id: 'ff-settings' },
    h('summary', {}, 'Settings', settingsSummary),
    h(
      'div',
      { class: 'ff-details-body' },
      h('div', { class: 'ff-row' }, steps.wrapper, guidance.wrapper),
      seedField,
      h('div', { class: 'ff-row' }, variations.wrapper, strength.wrapper),
      sizeField,
      customRow,
      fillField,
    ),
  );

  // --- Actions
  const primary = h('button', { class: 'ff-button is-primary', type: 'button', id: 'ff-generate' });
  const primaryLabel = h('span');
  primary.append(primaryLabel, h('span', { class: 'ff-kbd' }, isMac ? '⌘↵' : 'Ctrl+↵'));
  const seedVariations = h('button', { class: 'ff-button', type: 'button', id: 'ff-seed-variations', title: 'Same prompt, new seeds, next to the selected image' }, 'Seed variations');
  const imageVariation = h('button', { class: 'ff-button', type: 'button', id: 'ff-image-variation', title: 'New images that start from the selected layer’s pixels' }, 'Image variation');
  primary.addEventListener('click', () => controller.requestPlan('generate'));
  seedVariations.addEventListener('click', () => controller.requestPlan('seed-variations'));
  imageVariation.addEventListener('click', () => controller.requestPlan('image-variations'));
  const actions = h('div', { class: 'ff-actions' }, primary, h('div', { class: 'ff-row' }, seedVariations, imageVariation));
  // The actions sit above the settings, so they stay in view when the settings are open.
  const mainSection = h('section', { class: 'ff-section' }, actions, settingsDetails);

  // --- Selection provenance
  const provenanceSection = h('section', { class: 'ff-section', id: 'ff-provenance' });

  // --- Jobs
  const cancelAll = h('button', { class: 'ff-button is-small', type: 'button', id: 'ff-cancel-all' }, 'Cancel all');
  const clearJobs = h('button', { class: 'ff-button is-small', type: 'button', id: 'ff-clear-jobs' }, 'Clear');
  cancelAll.addEventListener('click', () => void controller.cancelAll());
  clearJobs.addEventListener('click', () => controller.clearFinishedJobs());
  const jobList = h('div', { class: 'ff-jobs', id: 'ff-jobs' });
  const jobsSection = h(
    'section',
    { class: 'ff-section', id: 'ff-queue' },
    h('div', { class: 'ff-section-head' }, h('span', {}, 'Queue'), h('span', { class: 'ff-inline' }, clearJobs, cancelAll)),
    jobList,
  );

  // --- History
  const historyList = h('div', { class: 'ff-history', id: 'ff-history' });
  const historyCount = h('span', { class: 'ff-hint' });
  const historySection = h('details', { class: 'ff-section ff-details', id: 'ff-recent' }, h('summary', {}, 'Recent', historyCount), historyList);

  root.replaceChildren(h('div', { class: 'ff-panel' }, header, loadLine, notes, notices, promptSection, mainSection, provenanceSection, jobsSection, historySection));

  // Ctrl/Cmd-Enter generates from anywhere in the panel.
  const onKey = (event: KeyboardEvent) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      // Text fields update the state on every keystroke; number fields only on "change", which
      // has not fired while the field keeps focus: commit it first.
      const active = document.activeElement;
      if (active instanceof HTMLInputElement && active.type === 'number') active.dispatchEvent(new Event('change'));
      controller.requestPlan('generate');
    }
  };
  document.addEventListener('keydown', onKey);

  // --- Rendering
  const jobListView = createJobListView(jobList, (jobId) => void controller.cancelJob(jobId));
  function renderJobs(jobs: readonly JobView[]): void {
    jobListView.render(jobs);
    cancelAll.disabled = !jobs.some((job) => !isFinished(job.status));
    clearJobs.disabled = !jobs.some((job) => isFinished(job.status));
  }

  let renderedHistory: readonly HistoryEntry[] | undefined;
  function renderHistory(history: readonly HistoryEntry[]): void {
    if (history === renderedHistory) return;
    renderedHistory = history;
    setText(historyCount, history.length > 0 ? String(history.length) : '');
    if (history.length === 0) {
      historyList.replaceChildren(h('div', { class: 'ff-empty' }, 'Images you make appear here.'));
      return;
    }
    historyList.replaceChildren(
      ...history.map((entry) => {
        const use = h('button', { class: 'ff-link', type: 'button', title: 'Load these settings into the panel' }, 'Use');
        use.addEventListener('click', () => controller.useRecord(entry.record));
        return h(
          'div',
          { class: 'ff-history-item', 'data-job-id': entry.jobId },
          h(
            'div',
            { class: 'ff-history-text' },
            h('div', { class: 'ff-history-prompt', title: entry.record.prompt }, entry.record.prompt || '(no prompt)'),
            h('div', { class: 'ff-history-meta' }, `${entry.nodeName} · seed ${entry.record.seed} · ${entry.record.width}×${entry.record.height}`),
          ),
          use,
        );
      }),
    );
  }

  let renderedProvenanceKey: string | undefined;
  function renderProvenance(targets: readonly TargetInfo[]): void {
    const selected = selectedProvenance(targets);
    const key = selected ? `${selected.target.id}|${selected.record.createdAt}|${selected.record.seed}` : '';
    if (key === renderedProvenanceKey) return;
    renderedProvenanceKey = key;
    provenanceSection.hidden = !selected;
    if (!selected) {
      provenanceSection.replaceChildren();
      return;
    }
    const { target, record } = selected;
    const use = h('button', { class: 'ff-button is-small', type: 'button', id: 'ff-use-settings' }, 'Use these settings');
    use.addEventListener('click', () => controller.useRecord(record));
    const regenerate = h('button', { class: 'ff-button is-small', type: 'button', id: 'ff-regenerate', title: 'Make this exact image again' }, 'Regenerate');
    regenerate.addEventListener('click', () => controller.requestPlan('regenerate'));
    provenanceSection.replaceChildren(
      h('div', { class: 'ff-section-head' }, h('span', {}, `“${target.name}” was made with`)),
      h(
        'div',
        { class: 'ff-card' },
        h('div', { class: 'ff-card-prompt' }, record.prompt || '(no prompt)'),
        record.negativePrompt ? h('div', { class: 'ff-meta' }, `Avoid: ${record.negativePrompt}`) : null,
        h('div', { class: 'ff-meta' }, ...recordMeta(record).map((m) => h('span', {}, m))),
        h('div', { class: 'ff-inline' }, use, regenerate),
      ),
    );
  }

  function render(state: PanelState): void {
    const { model, settings } = state;

    // Header
    if (model.info) {
      setText(modelName, model.info.name);
      modelName.title = `${model.info.id} · ${model.info.nativeSize}px native${model.info.licence ? ` · ${model.info.licence}` : ''}`;
    } else {
      setText(modelName, model.status === 'failed' ? 'Model not loaded' : 'Loading model…');
    }
    const backend = model.info?.backend ?? model.capabilities?.backend;
    setText(backendBadge, backend === 'webgpu' ? 'WebGPU' : backend === 'wasm' ? 'WASM' : '…');
    toggle(backendBadge, 'is-webgpu', backend === 'webgpu');
    backendBadge.title = model.capabilities?.fallbackReason
      ? `Running on the CPU (WebAssembly): ${model.capabilities.fallbackReason}`
      : model.capabilities?.adapter
        ? `GPU: ${model.capabilities.adapter.vendor} ${model.capabilities.adapter.description || model.capabilities.adapter.architecture}`.trim()
        : '';
    const noteLines = [...(model.info?.notes ?? [])];
    // The engine usually repeats the fallback reason in the model notes already.
    const fallback = model.capabilities?.fallbackReason;
    if (fallback && !noteLines.some((note) => note.includes(fallback))) noteLines.push(`WebGPU unavailable: ${fallback}`);
    notes.hidden = noteLines.length === 0;
    setText(notesSummary, `Model notes (${noteLines.length})`);
    if (notesList.childElementCount !== noteLines.length || noteLines.some((n, i) => notesList.children[i]?.textContent !== n)) {
      notesList.replaceChildren(...noteLines.map((n) => h('li', {}, n)));
    }
    if (model.status === 'failed') {
      setText(loadText, model.error ?? 'The model could not be loaded.');
    } else if (model.status !== 'ready') {
      const p = model.progress;
      setText(loadText, p ? `Loading ${p.file} · ${formatBytes(p.loadedBytes)}${p.totalBytes ? ` of ${formatBytes(p.totalBytes)}` : ''}` : 'Starting the engine…');
    }
    retryLoad.hidden = model.status !== 'failed';
    loadLine.hidden = model.status === 'ready';
    toggle(loadLine, 'is-error', model.status === 'failed');

    // Notices
    const noticeIds = state.notices.map((n) => String(n.id)).join(',');
    if (notices.dataset.ids !== noticeIds) {
      notices.dataset.ids = noticeIds;
      notices.replaceChildren(
        ...state.notices.map((notice) => {
          const close = h('button', { class: 'ff-icon-button', type: 'button', 'aria-label': 'Dismiss', title: 'Dismiss' }, icon('close'));
          close.style.width = close.style.height = '16px';
          close.addEventListener('click', () => controller.dismissNotice(notice.id));
          return h('div', { class: `ff-notice is-${notice.level}`, role: notice.level === 'error' ? 'alert' : undefined }, h('span', {}, notice.text), close);
        }),
      );
    }

    // Prompt and presets
    setInputValue(prompt, settings.prompt);
    setInputValue(negative, settings.negativePrompt);
    for (const { preset, button } of presetButtons) toggle(button, 'is-active', isPresetActive(settings.prompt, preset));

    // Settings
    setInputValue(steps.input, String(settings.steps));
    setInputValue(guidance.input, String(settings.guidance));
    setInputValue(variations.input, String(settings.variations));
    setInputValue(strength.input, String(settings.strength));
    setInputValue(seed, String(settings.seed));
    lockSeed.replaceChildren(icon(settings.seedLocked ? 'locked' : 'unlocked'));
    lockSeed.title = settings.seedLocked ? 'Seed locked: every Generate reuses it (click to unlock)' : 'Seed unlocked: a new one is drawn after each Generate (click to lock)';
    lockSeed.setAttribute('aria-pressed', String(settings.seedLocked));
    toggle(lockSeed, 'is-active', settings.seedLocked);
    for (const { id, button } of sizeButtons) toggle(button, 'is-active', settings.insertSize === id);
    customRow.hidden = settings.insertSize !== CUSTOM_INSERT_SIZE_ID;
    setInputValue(customWidth, String(settings.customWidth));
    setInputValue(customHeight, String(settings.customHeight));
    toggle(fillReplace, 'is-active', settings.fillMode === 'replace');
    toggle(fillKeep, 'is-active', settings.fillMode === 'keep');
    setText(settingsSummary, `${settings.steps} steps · CFG ${settings.guidance} · ${settings.seedLocked ? 'seed ' + settings.seed : 'random seed'}`);

    // Actions
    const ready = model.status === 'ready';
    setText(primaryLabel, state.planning > 0 ? 'Planning…' : primaryActionLabel(state.targets, settings.variations));
    const unfillable = state.targets.length > 0 && !state.targets.some((t) => t.canFill);
    primary.disabled = !ready || unfillable;
    primary.title = !ready
      ? 'Waiting for the model to load'
      : unfillable
        ? `The selection cannot hold an image: ${state.targets[0].skipReason ?? 'choose a frame or shape'}`
        : '';
    const hasSelection = state.targets.length > 0;
    seedVariations.disabled = !ready || !hasSelection;
    imageVariation.disabled = !ready || !hasSelection || model.info?.supportsImageToImage === false;
    const count = settings.variations;
    setText(seedVariations, count > 1 ? `${count} seed variations` : 'Seed variation');
    setText(imageVariation, count > 1 ? `${count} image variations` : 'Image variation');
    seedVariations.title = hasSelection ? 'Same prompt, new seeds, next to the selected image' : 'Select a layer first';
    imageVariation.title = hasSelection ? 'New images that start from the selected layer’s pixels' : 'Select a layer first';

    renderProvenance(state.targets);
    renderJobs(state.jobs);
    renderHistory(state.history);
  }

  const unsubscribe = controller.subscribe(render);
  return {
    dispose() {
      unsubscribe();
      document.removeEventListener('keydown', onKey);
    },
  };
}
