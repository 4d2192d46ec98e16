/**
 * The panel's notices: short lines above the prompt. A batch's skip reasons go into one grouped
 * notice ("2 skipped: 1 locked, 1 text") whose details list every layer and why, so none is lost
 * however many layers were selected.
 */

export interface Notice {
  id: number;
  level: 'error' | 'info';
  text: string;
  /** Shown behind "why": one line per layer. */
  details?: string[];
  /** How many times in a row this same notice was given (shown as "×3"). */
  repeats?: number;
}

/** Notices kept; a batch's reasons are one notice, so this bounds batches, not layers. */
export const NOTICES_KEPT = 50;

let nextNoticeId = 1;

export function addNotice(notices: readonly Notice[], level: Notice['level'], text: string, details?: string[]): Notice[] {
  const last = notices[notices.length - 1];
  // The same plain notice again (a button pressed twice) counts up instead of stacking.
  if (last && !details && !last.details && last.level === level && last.text === text) {
    return [...notices.slice(0, -1), { ...last, repeats: (last.repeats ?? 1) + 1 }];
  }
  const notice: Notice = { id: nextNoticeId++, level, text };
  if (details && details.length > 0) notice.details = details;
  return [...notices, notice].slice(-NOTICES_KEPT);
}

export function dismissNotice(notices: readonly Notice[], id: number): Notice[] {
  return notices.filter((n) => n.id !== id);
}
