/**
 * The panel's CSS. Colours come from Figma's theme variables (showUI with themeColors: true adds
 * --figma-color-* to the document), each with a light-theme fallback so the panel also looks
 * right in the playground and a plain browser. Kept in a TS string so the build emits one HTML
 * file without a CSS loader.
 */
export const PANEL_CSS = `
:root {
  --ff-bg: var(--figma-color-bg, #ffffff);
  --ff-bg-secondary: var(--figma-color-bg-secondary, #f5f5f5);
  --ff-bg-hover: var(--figma-color-bg-hover, #f0f0f0);
  --ff-bg-brand: var(--figma-color-bg-brand, #0d99ff);
  --ff-bg-brand-hover: var(--figma-color-bg-brand-hover, #007be5);
  --ff-bg-selected: var(--figma-color-bg-selected, #e5f4ff);
  --ff-bg-danger: var(--figma-color-bg-danger-tertiary, #fff0ee);
  --ff-text: var(--figma-color-text, #1e1e1e);
  --ff-text-secondary: var(--figma-color-text-secondary, #757575);
  --ff-text-tertiary: var(--figma-color-text-tertiary, #a8a8a8);
  --ff-text-onbrand: var(--figma-color-text-onbrand, #ffffff);
  --ff-text-brand: var(--figma-color-text-brand, #007be5);
  --ff-text-danger: var(--figma-color-text-danger, #dc3412);
  --ff-text-warning: var(--figma-color-text-warning, #b86200);
  --ff-border: var(--figma-color-border, #e6e6e6);
  --ff-border-strong: var(--figma-color-border-strong, #b3b3b3);
  --ff-border-selected: var(--figma-color-border-selected, #0d99ff);
  --ff-icon: var(--figma-color-icon, #1e1e1e);
  --ff-radius: 5px;
}
/* Figma marks its dark theme with this class; native controls (scrollbars, selects) follow it. */
html.figma-dark { color-scheme: dark; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { margin: 0; padding: 0; }
body {
  background: var(--ff-bg);
  color: var(--ff-text);
  font: 11px/16px Inter, -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  -webkit-font-smoothing: antialiased;
}
button, input, textarea, select { font: inherit; color: inherit; }
.ff-panel { display: flex; flex-direction: column; min-height: 100vh; }

/* Header: model name, backend, status */
.ff-header { display: flex; align-items: center; gap: 6px; padding: 8px 12px; border-bottom: 1px solid var(--ff-border); }
.ff-title { font-weight: 600; font-size: 12px; }
.ff-model { flex: 1; min-width: 0; color: var(--ff-text-secondary); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.ff-badge { flex: none; padding: 0 5px; border-radius: 3px; font-size: 10px; font-weight: 600; line-height: 16px;
  background: var(--ff-bg-secondary); color: var(--ff-text-secondary); border: 1px solid var(--ff-border); }
.ff-badge.is-webgpu { background: var(--ff-bg-selected); color: var(--ff-text-brand); border-color: transparent; }
.ff-notes { padding: 0 12px; color: var(--ff-text-secondary); }
.ff-notes summary { cursor: default; padding: 4px 0; list-style: none; }
.ff-notes summary::-webkit-details-marker { display: none; }
.ff-notes summary::before { content: '▸ '; }
.ff-notes[open] summary::before { content: '▾ '; }
.ff-notes ul { margin: 0 0 6px; padding-left: 14px; }
.ff-load { padding: 6px 12px; color: var(--ff-text-secondary); }
.ff-load.is-error { color: var(--ff-text-danger); }

/* Notices: newest first, in a region of bounded height that scrolls, so however many there are the
   prompt and the Fill button stay in view. */
.ff-notices { padding: 6px 12px 0; display: flex; flex-direction: column; gap: 4px; max-height: 25vh; overflow-y: auto; flex: none; }
.ff-notice { display: flex; gap: 6px; align-items: flex-start; padding: 6px 8px; border-radius: var(--ff-radius);
  background: var(--ff-bg-secondary); }
.ff-notice.is-error { background: var(--ff-bg-danger); color: var(--ff-text-danger); }
.ff-notice-body { flex: 1; min-width: 0; word-break: break-word; }
.ff-notice ul { margin: 4px 0 0; padding-left: 14px; }
.ff-notices-head { display: flex; justify-content: flex-end; }

/* Sections and fields */
.ff-section { padding: 8px 12px; display: flex; flex-direction: column; gap: 6px; }
.ff-section + .ff-section { border-top: 1px solid var(--ff-border); }
.ff-section-head { display: flex; align-items: center; justify-content: space-between; font-weight: 600; min-height: 20px; }
.ff-label { color: var(--ff-text-secondary); display: block; margin-bottom: 2px; }
.ff-row { display: flex; gap: 8px; align-items: flex-end; }
.ff-row > * { flex: 1; min-width: 0; }
.ff-input, .ff-textarea, .ff-select {
  width: 100%; border: 1px solid var(--ff-border); border-radius: var(--ff-radius); background: var(--ff-bg);
  padding: 4px 7px; outline: none; min-height: 24px;
}
.ff-input:hover, .ff-textarea:hover { border-color: var(--ff-border-strong); }
.ff-input:focus, .ff-textarea:focus, .ff-select:focus { border-color: var(--ff-border-selected); box-shadow: inset 0 0 0 1px var(--ff-border-selected); }
.ff-input.is-invalid { border-color: var(--ff-text-danger); }
.ff-textarea { resize: vertical; min-height: 52px; line-height: 16px; }
.ff-input[type=number] { -moz-appearance: textfield; }
/* Figma's own number fields have no spinners; arrow keys still step the value. */
.ff-input::-webkit-inner-spin-button, .ff-input::-webkit-outer-spin-button { -webkit-appearance: none; margin: 0; }
.ff-range { width: 100%; accent-color: var(--ff-bg-brand); margin: 4px 0 0; height: 16px; }
.ff-inline { display: flex; gap: 4px; align-items: center; }
.ff-inline .ff-input { flex: 1; min-width: 0; }
.ff-hint { color: var(--ff-text-tertiary); }
.ff-prompt-hints .ff-hint { margin: 4px 0 0; }
.ff-hint.is-warning { color: var(--ff-text-warning); }
.ff-subject-picker { display: block; margin-top: 8px; }

/* Chips (style presets, size presets) */
.ff-chips { display: flex; flex-wrap: wrap; gap: 4px; }
.ff-chip { border: 1px solid var(--ff-border); background: var(--ff-bg); border-radius: 10px; padding: 0 8px; height: 20px;
  line-height: 18px; cursor: default; }
.ff-chip:hover { background: var(--ff-bg-hover); }
.ff-chip.is-active { background: var(--ff-bg-selected); border-color: var(--ff-border-selected); color: var(--ff-text-brand); }
.ff-segmented { display: flex; border: 1px solid var(--ff-border); border-radius: var(--ff-radius); overflow: hidden; }
.ff-segmented button { flex: 1; border: 0; background: var(--ff-bg); height: 22px; padding: 0 4px; }
.ff-segmented button + button { border-left: 1px solid var(--ff-border); }
.ff-segmented button:hover { background: var(--ff-bg-hover); }
.ff-segmented button.is-active { background: var(--ff-bg-selected); color: var(--ff-text-brand); font-weight: 600; }

/* Buttons */
.ff-button { border: 1px solid var(--ff-border-strong); background: var(--ff-bg); border-radius: var(--ff-radius);
  height: 24px; padding: 0 10px; cursor: default; white-space: nowrap; }
.ff-button:hover:not(:disabled) { background: var(--ff-bg-hover); }
.ff-button:disabled { opacity: 0.4; }
.ff-button.is-primary { background: var(--ff-bg-brand); border-color: transparent; color: var(--ff-text-onbrand); font-weight: 600; height: 28px; }
.ff-button.is-primary:hover:not(:disabled) { background: var(--ff-bg-brand-hover); }
.ff-button.is-small { height: 20px; padding: 0 6px; }
.ff-icon-button { border: 0; background: transparent; border-radius: var(--ff-radius); width: 24px; height: 24px; padding: 0;
  color: var(--ff-icon); flex: none; display: inline-flex; align-items: center; justify-content: center; }
.ff-icon-button:hover { background: var(--ff-bg-hover); }
.ff-icon-button.is-active { color: var(--ff-text-brand); background: var(--ff-bg-selected); }
.ff-link { border: 0; background: none; padding: 0; color: var(--ff-text-brand); cursor: default; }
.ff-link:hover { text-decoration: underline; }
.ff-actions { display: flex; flex-direction: column; gap: 6px; }
.ff-actions .ff-row > .ff-button { flex: 1; }
.ff-kbd { color: var(--ff-text-tertiary); font-weight: 400; margin-left: 6px; }
.is-primary .ff-kbd { color: var(--ff-text-onbrand); opacity: 0.7; }

/* Disclosure */
.ff-details > summary { list-style: none; font-weight: 600; cursor: default; display: flex; align-items: center; gap: 4px; min-height: 20px; }
.ff-details > summary::-webkit-details-marker { display: none; }
.ff-details > summary::before { content: '▸'; color: var(--ff-text-secondary); width: 10px; }
.ff-details[open] > summary::before { content: '▾'; }
.ff-details > summary .ff-hint { font-weight: 400; margin-left: auto; }
.ff-details-body { display: flex; flex-direction: column; gap: 8px; padding-top: 6px; }

/* Provenance card */
.ff-card { border: 1px solid var(--ff-border); border-radius: var(--ff-radius); padding: 8px; display: flex; flex-direction: column; gap: 4px; }
.ff-card-prompt { font-weight: 500; word-break: break-word; }
.ff-meta { color: var(--ff-text-secondary); display: flex; flex-wrap: wrap; gap: 2px 10px; }

/* Jobs */
.ff-jobs { display: flex; flex-direction: column; gap: 6px; }
.ff-job { display: flex; gap: 8px; align-items: center; }
.ff-job canvas, .ff-job .ff-thumb { width: 36px; height: 36px; border-radius: 3px; background: var(--ff-bg-secondary);
  image-rendering: auto; object-fit: cover; flex: none; border: 1px solid var(--ff-border); }
.ff-job-body { flex: 1; min-width: 0; display: flex; flex-direction: column; gap: 3px; }
.ff-job-title { display: flex; gap: 6px; }
.ff-job-title span:first-child { flex: 1; min-width: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.ff-job-status { color: var(--ff-text-secondary); flex: none; }
.ff-job.is-failed .ff-job-status { color: var(--ff-text-danger); }
.ff-job-error { color: var(--ff-text-danger); word-break: break-word; }
.ff-progress { height: 4px; border-radius: 2px; background: var(--ff-bg-secondary); overflow: hidden; }
.ff-progress > div { height: 100%; background: var(--ff-bg-brand); width: 0; transition: width 120ms linear; }
.ff-job.is-done .ff-progress > div { background: var(--figma-color-bg-success, #14ae5c); }
.ff-job.is-failed .ff-progress > div, .ff-job.is-cancelled .ff-progress > div { background: var(--ff-border-strong); }
.ff-empty { color: var(--ff-text-tertiary); }

/* Models */
.ff-model-list { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; }
.ff-model-item { display: flex; gap: 6px; align-items: center; padding: 4px 0; border-top: 1px solid var(--ff-border); }
.ff-model-item:first-child { border-top: 0; }
.ff-model-text { flex: 1; min-width: 0; word-break: break-word; }
.ff-install { display: flex; flex-direction: column; gap: 4px; }
.ff-install-text { flex: 1; min-width: 0; color: var(--ff-text-secondary); word-break: break-word; }
.ff-library-message { color: var(--ff-text-secondary); word-break: break-word; }
.ff-library-message.is-error { color: var(--ff-text-danger); }
label.ff-button { display: inline-flex; align-items: center; }

/* Diagnostics */
.ff-report { margin: 0; padding: 6px; background: var(--ff-bg-secondary); border-radius: var(--ff-radius); font: 10px/14px ui-monospace, Menlo, Consolas, monospace;
  white-space: pre-wrap; word-break: break-word; max-height: 40vh; overflow: auto; user-select: text; }

/* History */
.ff-history { display: flex; flex-direction: column; }
.ff-history-item { display: flex; gap: 6px; align-items: center; padding: 4px 0; border-top: 1px solid var(--ff-border); }
.ff-history-item:first-child { border-top: 0; }
.ff-history-text { flex: 1; min-width: 0; }
.ff-history-prompt { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.ff-history-meta { color: var(--ff-text-secondary); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
`;
