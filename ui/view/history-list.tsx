/** Recent images Flowfill placed; "Use" loads a record's settings. */
import type { ProvenanceRecord } from '../../common/provenance.js';
import type { HistoryEntry } from '../settings/history.js';

export function HistoryList({ history, onUse }: { history: readonly HistoryEntry[]; onUse: (record: ProvenanceRecord) => void }) {
  return (
    <details class="ff-section ff-details" id="ff-recent">
      <summary>
        Recent<span class="ff-hint">{history.length > 0 ? String(history.length) : ''}</span>
      </summary>
      <div class="ff-history" id="ff-history">
        {history.length === 0 ? (
          <div class="ff-empty">Images you make appear here.</div>
        ) : (
          history.map((entry) => (
            <div key={entry.jobId} class="ff-history-item" data-job-id={entry.jobId}>
              <div class="ff-history-text">
                <div class="ff-history-prompt" title={entry.record.prompt}>
                  {entry.record.prompt || '(no prompt)'}
                </div>
                <div class="ff-history-meta">{`${entry.nodeName} · seed ${entry.record.seed} · ${entry.record.width}×${entry.record.height}`}</div>
              </div>
              <button class="ff-link" type="button" title="Load these settings into the panel" onClick={() => onUse(entry.record)}>
                Use
              </button>
            </div>
          ))
        )}
      </div>
    </details>
  );
}
