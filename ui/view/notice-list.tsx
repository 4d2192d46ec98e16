/** Notices, newest first, in a bounded scrolling region; a grouped notice opens its details on "why". */
import type { Notice } from '../notices.js';
import { Icon } from './icons.js';

export function NoticeList({ notices, onDismiss }: { notices: readonly Notice[]; onDismiss: (id: number) => void }) {
  if (notices.length === 0) return null;
  return (
    <div class="ff-notices" id="ff-notices" role="status" aria-live="polite">
      {[...notices].reverse().map((notice) => (
        <div
          key={notice.id}
          class={`ff-notice is-${notice.level}`}
          role={notice.level === 'error' ? 'alert' : undefined}
          data-notice-id={notice.id}
        >
          <div class="ff-notice-body">
            {notice.details ? (
              <details class="ff-notice-details">
                <summary>
                  {notice.text} — <span class="ff-link">why</span>
                </summary>
                <ul>
                  {notice.details.map((line, i) => (
                    <li key={i}>{line}</li>
                  ))}
                </ul>
              </details>
            ) : (
              <span>
                {notice.text}
                {notice.repeats ? <span class="ff-hint"> ×{notice.repeats}</span> : null}
              </span>
            )}
          </div>
          <button
            class="ff-icon-button"
            type="button"
            aria-label="Dismiss"
            title="Dismiss"
            style={{ width: '16px', height: '16px' }}
            onClick={() => onDismiss(notice.id)}
          >
            <Icon name="close" />
          </button>
        </div>
      ))}
    </div>
  );
}
