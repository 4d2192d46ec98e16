/**
 * The model store's index (flowfill-models/index.json in OPFS): the one list of published models.
 * A package folder is a model only once the index names it, and the index is replaced in one
 * step, so a write that stops part way (a closed tab, a full disk) leaves a folder nobody lists,
 * which the next start removes.
 */
import type { StoredModel } from '../../common/engine-types.js';
import { isSha256Hex } from '../engine/sha256-stream.js';

export const STORE_INDEX_FORMAT = 'flowfill-model-store';
export const STORE_INDEX_VERSION = 1;

export interface IndexEntry extends Omit<StoredModel, 'kept'> {
  /** The package's folder, relative to the store root ("packages/3f9a…" or "downloads/…"). */
  dir: string;
}

export interface StoreIndex {
  format: typeof STORE_INDEX_FORMAT;
  version: typeof STORE_INDEX_VERSION;
  models: IndexEntry[];
  currentId?: string;
}

export function emptyIndex(): StoreIndex {
  return { format: STORE_INDEX_FORMAT, version: STORE_INDEX_VERSION, models: [] };
}

const PRECISIONS = ['fp32', 'fp16', 'int8', 'int4'];

function isEntry(value: unknown): value is IndexEntry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    ['id', 'name', 'hash', 'source', 'addedAt', 'dir'].every((key) => typeof e[key] === 'string' && e[key] !== '') &&
    typeof e.bytes === 'number' &&
    Number.isSafeInteger(e.bytes) &&
    typeof e.converted === 'boolean' &&
    (e.precision === undefined || PRECISIONS.includes(e.precision as string)) &&
    (e.licence === undefined || typeof e.licence === 'string') &&
    (e.supersedes === undefined || (Array.isArray(e.supersedes) && e.supersedes.every(isSha256Hex))) &&
    /^(packages|downloads)\/[0-9a-z-]+$/.test(e.dir as string)
  );
}

/**
 * Parses index.json. An index this build cannot read throws (the caller keeps the folders rather
 * than deleting gigabytes it cannot account for); entries that do not parse are dropped with a
 * reason each.
 */
export function parseStoreIndex(text: string): { index: StoreIndex; dropped: string[] } {
  const value = JSON.parse(text) as Partial<StoreIndex>;
  if (value?.format !== STORE_INDEX_FORMAT || value.version !== STORE_INDEX_VERSION || !Array.isArray(value.models)) {
    throw new Error(`index.json is not a ${STORE_INDEX_FORMAT} version ${STORE_INDEX_VERSION} index`);
  }
  const dropped: string[] = [];
  const models: IndexEntry[] = [];
  for (const entry of value.models) {
    if (isEntry(entry)) models.push(entry);
    else dropped.push(`an index entry that does not parse: ${JSON.stringify(entry).slice(0, 400)}`);
  }
  const index: StoreIndex = { ...emptyIndex(), models };
  if (typeof value.currentId === 'string' && models.some((m) => m.id === value.currentId)) index.currentId = value.currentId;
  return { index, dropped };
}

export function serializeStoreIndex(index: StoreIndex): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(index, null, 2)}\n`);
}
