import type { ProvenanceRecord } from '../../../common/provenance.js';
import {
  HISTORY_LIMIT,
  addHistoryEntry,
  boundHistory,
  historyFromStorage,
  settingsFromRecord,
  settingsFromStorage,
  type HistoryEntry,
} from '../../../ui/settings/history.js';
import { createDefaultSettings } from '../../../ui/settings/settings.js';

const record: ProvenanceRecord = {
  format: 'flowfill-provenance',
  version: 1,
  prompt: 'rocket',
  negativePrompt: 'text',
  seed: 77,
  steps: 12,
  guidance: 3.5,
  width: 512,
  height: 384,
  model: { id: 'm', hash: 'h' },
  backend: 'webgpu',
  strength: 0.4,
  parent: { nodeId: '1:1' },
  createdAt: '2026-01-31T12:00:00.000Z',
};
const entry = (jobId: string, prompt = 'rocket'): HistoryEntry => ({
  jobId,
  nodeId: '1:2',
  nodeName: 'Hero',
  record: { ...record, prompt },
});

describe('history', () => {
  test('newest first, one entry per job, at most HISTORY_LIMIT', () => {
    let history: HistoryEntry[] = [];
    for (let i = 0; i < 40; i++) history = addHistoryEntry(history, entry(`j${i}`));
    history = addHistoryEntry(history, entry('j39', 'edited'));
    expect(history).toHaveLength(HISTORY_LIMIT);
    expect(history[0]).toMatchObject({ jobId: 'j39', record: { prompt: 'edited' } });
    expect(history.filter((e) => e.jobId === 'j39')).toHaveLength(1);
  });

  test('boundHistory keeps the newest entries whose JSON fits the byte budget', () => {
    const long = Array.from({ length: 30 }, (_, i) => entry(`j${i}`, 'é'.repeat(4000)));
    const kept = boundHistory(long, 50_000);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(30);
    expect(kept[0].jobId).toBe('j0');
    expect(new TextEncoder().encode(JSON.stringify(kept)).length).toBeLessThanOrEqual(50_000);
    // The default budget holds 30 records even with 4000-character (2-byte) prompts.
    expect(boundHistory(long)).toHaveLength(30);
  });

  test('history read back from storage keeps the valid entries in order and drops the rest', () => {
    const stored = [entry('a'), { ...entry('b'), record: { ...record, seed: -1 } }, 'junk', entry('c')];
    expect(historyFromStorage(stored).map((e) => e.jobId)).toEqual(['a', 'c']);
    expect(historyFromStorage({ not: 'a list' })).toEqual([]);
    expect(historyFromStorage(null)).toEqual([]);
  });

  test('stored settings: an unlocked seed is replaced, a locked one kept', () => {
    const defaults = createDefaultSettings(1);
    expect(settingsFromStorage({ prompt: 'owl', seed: 9, seedLocked: false }, defaults)).toMatchObject({ prompt: 'owl', seed: 1 });
    expect(settingsFromStorage({ prompt: 'owl', seed: 9, seedLocked: true }, defaults)).toMatchObject({ seed: 9, seedLocked: true });
    expect(settingsFromStorage(null, defaults)).toBe(defaults);
    expect(settingsFromStorage('not an object', defaults)).toBe(defaults);
  });

  test('"use these settings" copies the record and locks its seed', () => {
    const next = settingsFromRecord({ ...createDefaultSettings(1), insertSize: 'wide-16-9' }, record);
    expect(next).toMatchObject({
      prompt: 'rocket',
      negativePrompt: 'text',
      seed: 77,
      seedLocked: true,
      steps: 12,
      guidance: 3.5,
      samplingFromModel: false, // the record's steps and guidance are kept when another model loads
      strength: 0.4,
      insertSize: 'wide-16-9',
    });
  });
});
