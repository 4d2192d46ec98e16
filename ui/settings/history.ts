/**
 * Recent generations and the settings the panel remembers between runs. Both are persisted by the
 * main thread in figma.clientStorage (the UI's null origin has no localStorage), which allows 5 MB
 * per plugin: we keep the settings plus the last HISTORY_LIMIT provenance records, never image
 * bytes, and cap the history's JSON at HISTORY_BYTES_BUDGET.
 */
import * as v from 'valibot';
import type { JsonValue } from '../../common/json-value.js';
import { provenanceSchema, type ProvenanceRecord } from '../../common/provenance.js';
import { text } from '../../common/schema-kit.js';
import { normalizeSettings, type GenerationSettings } from './settings.js';

const historyEntrySchema = v.object({
  jobId: text(200, { nonEmpty: true }),
  nodeId: text(200, { nonEmpty: true }),
  nodeName: text(1000),
  record: provenanceSchema,
});

/** One image Flowfill placed: where, and the record that made it. */
export type HistoryEntry = v.InferOutput<typeof historyEntrySchema>;

export const HISTORY_LIMIT = 30;
/** 256 kB, 5% of the clientStorage quota: room for 30 records even with 4000-character prompts. */
export const HISTORY_BYTES_BUDGET = 256 * 1024;

/** Adds an entry at the front, drops an older entry of the same job, keeps at most `limit`. */
export function addHistoryEntry(history: readonly HistoryEntry[], entry: HistoryEntry, limit = HISTORY_LIMIT): HistoryEntry[] {
  return [entry, ...history.filter((e) => e.jobId !== entry.jobId)].slice(0, limit);
}

/** UTF-8 byte length, the unit of the storage quota. */
function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}

/**
 * The newest entries that fit both the count limit and the byte budget (counted as JSON, the way
 * clientStorage counts its quota). Newest first, as the panel keeps them.
 */
export function boundHistory(history: readonly HistoryEntry[], budget = HISTORY_BYTES_BUDGET, limit = HISTORY_LIMIT): HistoryEntry[] {
  const kept: HistoryEntry[] = [];
  let bytes = 2; // the enclosing []
  for (const entry of history.slice(0, limit)) {
    const entryBytes = utf8Length(JSON.stringify(entry)) + 1;
    if (bytes + entryBytes > budget) break;
    kept.push(entry);
    bytes += entryBytes;
  }
  return kept;
}

/** History read back from storage: the valid entries, in order (another version's may not all be). */
export function historyFromStorage(stored: unknown): HistoryEntry[] {
  if (!Array.isArray(stored)) return [];
  const entries: HistoryEntry[] = [];
  for (const item of stored.slice(0, HISTORY_LIMIT)) {
    const parsed = v.safeParse(historyEntrySchema, item);
    if (parsed.success) entries.push(parsed.output);
  }
  return entries;
}

/** Settings as stored: plain JSON. */
export function settingsToJson(settings: GenerationSettings): JsonValue {
  return settings;
}

/**
 * Settings read back from storage. Anything missing or invalid (an older version, a hand edit)
 * takes its default field by field. A stored seed is kept only when the user had locked it;
 * otherwise each session starts with a fresh one.
 */
export function settingsFromStorage(stored: unknown, defaults: GenerationSettings): GenerationSettings {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return defaults;
  const settings = normalizeSettings(stored, defaults);
  return settings.seedLocked ? settings : { ...settings, seed: defaults.seed };
}

/**
 * Settings that reproduce a record: its prompt, negative prompt, steps, guidance, strength and a
 * locked seed. Size is not a setting: it follows the frame being filled.
 */
export function settingsFromRecord(current: GenerationSettings, record: ProvenanceRecord): GenerationSettings {
  return normalizeSettings(
    {
      ...current,
      prompt: record.prompt,
      negativePrompt: record.negativePrompt,
      steps: record.steps,
      guidance: record.guidance,
      samplingFromModel: false,
      seed: record.seed,
      seedLocked: true,
      strength: record.strength ?? current.strength,
    },
    current,
  );
}
