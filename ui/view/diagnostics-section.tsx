/** Diagnostics: what this host gives the engine, the self-test's numbers, and Copy report. */
import { useState } from 'preact/hooks';
import { formatDiagnosticsReport, type DiagnosticsState } from '../diagnostics/diagnostics-report.js';
import type { Panel } from '../panel.js';

/**
 * Puts `text` on the clipboard: the async Clipboard API first; Figma's plugin frame may refuse it
 * (its permissions policy has blocked clipboard-write), so then the older execCommand('copy') on a
 * selected textarea; failing both, the text stays selected for the user to copy.
 */
async function copyTextAsync(text: string, fallbackTarget: HTMLElement | null): Promise<string> {
  try {
    await navigator.clipboard.writeText(text);
    return 'Copied.';
  } catch {
    // fall through
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.append(area);
  area.select();
  let copied: boolean;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  area.remove();
  if (copied) return 'Copied.';
  if (fallbackTarget) {
    const range = document.createRange();
    range.selectNodeContents(fallbackTarget);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
  }
  return 'This frame does not allow copying; the report is selected: press Ctrl+C (⌘C on a Mac).';
}

export function DiagnosticsSection({ diagnostics, panel, busy }: { diagnostics: DiagnosticsState; panel: Panel; busy: boolean }) {
  const [copied, setCopied] = useState<string | undefined>(undefined);
  const text = diagnostics.report ? formatDiagnosticsReport(diagnostics.report) : undefined;
  return (
    <details
      class="ff-details ff-section"
      id="ff-diagnostics"
      open={diagnostics.open}
      onToggle={(event) => panel.setDiagnosticsOpen(event.currentTarget.open)}
    >
      <summary>
        Diagnostics
        <span class="ff-hint">
          {diagnostics.running ? 'running…' : diagnostics.report ? 'report ready' : 'what this host gives Flowfill'}
        </span>
      </summary>
      <div class="ff-details-body">
        <div class="ff-inline">
          <button
            class="ff-button"
            type="button"
            id="ff-run-diagnostics"
            disabled={diagnostics.running || busy}
            title={
              busy
                ? 'Wait for the queue to finish: the self-test uses the engine'
                : 'Checks WebAssembly, WebGPU and storage, and times a tiny model on each backend'
            }
            onClick={() => {
              setCopied(undefined);
              void panel.runDiagnosticsAsync();
            }}
          >
            {diagnostics.report ? 'Run again' : 'Run diagnostics'}
          </button>
          <button
            class="ff-button"
            type="button"
            id="ff-copy-report"
            disabled={!text}
            onClick={() => void copyTextAsync(text!, document.getElementById('ff-diagnostics-report')).then(setCopied)}
          >
            Copy report
          </button>
        </div>
        {diagnostics.running && <div class="ff-hint">Running the self-test on each backend (on a GPU, mostly shader compiles)…</div>}
        {copied && (
          <div class="ff-hint" id="ff-copy-result">
            {copied}
          </div>
        )}
        {text && (
          <pre class="ff-report" id="ff-diagnostics-report">
            {text}
          </pre>
        )}
      </div>
    </details>
  );
}
