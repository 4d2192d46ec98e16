/**
 * Provenance (DESIGN §2.5): the record Flowfill stores on every node it writes an image to, so
 * "Regenerate" and "Variations" can read back exactly how the image was made.
 *
 * Stored as one JSON string under one plugin-data key (PROVENANCE_KEY). Figma caps a plugin-data
 * entry at 100 kB, so the record holds settings only, never image bytes.
 *
 * Runs in the Figma main thread too: ES2017, no DOM.
 */

import type { Backend } from './engine-types.js';
import { describeValue, isPlainObject } from './plain-values.js';

export const PROVENANCE_FORMAT = 'flowfill-provenance';
export const PROVENANCE_VERSION = 1;
/** Plugin-data key the record lives under. */
export const PROVENANCE_KEY = 'flowfill';
/** Figma's limit on one plugin-data entry (key + value), bytes; we keep a margin under it. */
export const PLUGIN_DATA_LIMIT_BYTES = 100_000;
export const PROMPT_MAX_CHARS = 4000;
export const UINT32_MAX = 0xffffffff;
/** Figma refuses images beyond 4096 px a side; nothing we record can be larger. */
export const MAX_IMAGE_SIDE = 4096;

export interface ProvenanceParent {
  /** The node the variation was made from. */
  nodeId: string;
  /** The parent's seed when the parent is itself a Flowfill image. */
  seed?: number;
}

export interface ProvenanceRecord {
  format: typeof PROVENANCE_FORMAT;
  version: typeof PROVENANCE_VERSION;
  prompt: string;
  negativePrompt: string;
  /** uint32 */
  seed: number;
  steps: number;
  guidance: number;
  /** Generation size in pixels (not the node's size: the image is scaled with FILL). */
  width: number;
  height: number;
  model: { id: string; hash: string };
  backend: Backend;
  /** Image variations only: strength in (0, 1] and the source node. */
  strength?: number;
  parent?: ProvenanceParent;
  /** Scheduler shift override, when one was used. */
  shift?: number;
  /** ISO 8601 timestamp. */
  createdAt: string;
  /**
   * The host's id for the written image (Figma: imageHash, SHA-1 hex). Set by the main thread when
   * it stores the record, so a later fill in 'keep' mode replaces this image instead of stacking.
   */
  imageHash?: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

function isUint32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= UINT32_MAX;
}

function isSide(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= MAX_IMAGE_SIDE;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Checks a value is a valid ProvenanceRecord. Returns the first problem, naming the field, the
 * value and what would be valid. Never throws.
 */
export function validateProvenance(x: unknown): ParseResult<ProvenanceRecord> {
  const fail = (field: string, value: unknown, expected: string): ParseResult<ProvenanceRecord> => ({
    ok: false,
    error: `provenance.${field} is ${describeValue(value)}; expected ${expected}`,
  });
  try {
    if (!isPlainObject(x)) return { ok: false, error: `provenance is ${describeValue(x)}; expected an object` };
    if (x.format !== PROVENANCE_FORMAT) return fail('format', x.format, JSON.stringify(PROVENANCE_FORMAT));
    if (x.version !== PROVENANCE_VERSION) {
      return fail('version', x.version, `${PROVENANCE_VERSION} (this build reads format version ${PROVENANCE_VERSION} only)`);
    }
    if (typeof x.prompt !== 'string' || x.prompt.length > PROMPT_MAX_CHARS) {
      return fail('prompt', x.prompt, `a string of at most ${PROMPT_MAX_CHARS} characters`);
    }
    if (typeof x.negativePrompt !== 'string' || x.negativePrompt.length > PROMPT_MAX_CHARS) {
      return fail('negativePrompt', x.negativePrompt, `a string of at most ${PROMPT_MAX_CHARS} characters ("" for none)`);
    }
    if (!isUint32(x.seed)) return fail('seed', x.seed, `an integer in [0, ${UINT32_MAX}]`);
    if (typeof x.steps !== 'number' || !Number.isInteger(x.steps) || x.steps < 1 || x.steps > 1000) {
      return fail('steps', x.steps, 'an integer in [1, 1000]');
    }
    if (typeof x.guidance !== 'number' || !Number.isFinite(x.guidance) || x.guidance < 0 || x.guidance > 100) {
      return fail('guidance', x.guidance, 'a number in [0, 100]');
    }
    if (!isSide(x.width)) return fail('width', x.width, `an integer in [1, ${MAX_IMAGE_SIDE}]`);
    if (!isSide(x.height)) return fail('height', x.height, `an integer in [1, ${MAX_IMAGE_SIDE}]`);
    const model = x.model;
    if (!isPlainObject(model)) return fail('model', model, 'an object { id, hash }');
    if (typeof model.id !== 'string' || model.id.length === 0 || model.id.length > 200) {
      return fail('model.id', model.id, 'a non-empty string of at most 200 characters');
    }
    if (typeof model.hash !== 'string' || model.hash.length > 200) {
      return fail('model.hash', model.hash, 'a string of at most 200 characters (hex sha256)');
    }
    if (x.backend !== 'webgpu' && x.backend !== 'wasm') return fail('backend', x.backend, '"webgpu" or "wasm"');
    if (x.strength !== undefined) {
      if (typeof x.strength !== 'number' || !(x.strength > 0 && x.strength <= 1)) {
        return fail('strength', x.strength, 'a number in (0, 1], or absent for text-to-image');
      }
    }
    if (x.parent !== undefined) {
      const parent = x.parent;
      if (!isPlainObject(parent)) return fail('parent', parent, 'an object { nodeId, seed? } or absent');
      if (typeof parent.nodeId !== 'string' || parent.nodeId.length === 0 || parent.nodeId.length > 200) {
        return fail('parent.nodeId', parent.nodeId, 'a non-empty node id string');
      }
      if (parent.seed !== undefined && !isUint32(parent.seed)) {
        return fail('parent.seed', parent.seed, `an integer in [0, ${UINT32_MAX}] or absent`);
      }
    }
    if (x.shift !== undefined) {
      if (typeof x.shift !== 'number' || !Number.isFinite(x.shift) || x.shift <= 0) {
        return fail('shift', x.shift, 'a positive number, or absent to use the scheduler config');
      }
    }
    if (x.imageHash !== undefined && (typeof x.imageHash !== 'string' || !/^[0-9a-f]{1,128}$/.test(x.imageHash))) {
      return fail('imageHash', x.imageHash, 'a lower-case hex string, or absent');
    }
    if (typeof x.createdAt !== 'string' || !ISO_DATE.test(x.createdAt)) {
      return fail('createdAt', x.createdAt, 'an ISO 8601 timestamp such as "2026-01-31T12:00:00.000Z"');
    }
    return { ok: true, value: copyRecord(x as unknown as ProvenanceRecord) };
  } catch (e) {
    return { ok: false, error: `provenance could not be read: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** A copy holding only the known fields, so unknown extras never reach the document. */
function copyRecord(r: ProvenanceRecord): ProvenanceRecord {
  const out: ProvenanceRecord = {
    format: PROVENANCE_FORMAT,
    version: PROVENANCE_VERSION,
    prompt: r.prompt,
    negativePrompt: r.negativePrompt,
    seed: r.seed,
    steps: r.steps,
    guidance: r.guidance,
    width: r.width,
    height: r.height,
    model: { id: r.model.id, hash: r.model.hash },
    backend: r.backend,
    createdAt: r.createdAt,
  };
  if (r.strength !== undefined) out.strength = r.strength;
  if (r.parent !== undefined) {
    out.parent = { nodeId: r.parent.nodeId };
    if (r.parent.seed !== undefined) out.parent.seed = r.parent.seed;
  }
  if (r.shift !== undefined) out.shift = r.shift;
  if (r.imageHash !== undefined) out.imageHash = r.imageHash;
  return out;
}

/** Serialises a record for setPluginData; throws (naming the field) when the record is invalid. */
export function serializeProvenance(record: ProvenanceRecord): string {
  const checked = validateProvenance(record);
  if (!checked.ok) throw new Error(`Cannot store provenance: ${checked.error}`);
  const text = JSON.stringify(checked.value);
  if (text.length + PROVENANCE_KEY.length > PLUGIN_DATA_LIMIT_BYTES / 4) {
    // Characters may take up to 4 UTF-8 bytes; staying under a quarter of the limit in
    // characters keeps the entry under Figma's byte limit without encoding it.
    throw new Error(`Cannot store provenance: ${text.length} characters exceeds the ${PLUGIN_DATA_LIMIT_BYTES / 4} allowed`);
  }
  return text;
}

/** Parses plugin-data text back into a record. "" (no data) gives ok:false with a plain reason. */
export function parseProvenance(text: unknown): ParseResult<ProvenanceRecord> {
  if (typeof text !== 'string') return { ok: false, error: `provenance text is ${describeValue(text)}; expected a string` };
  if (text === '') return { ok: false, error: 'no provenance stored on this node' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: 'provenance is not valid JSON' };
  }
  return validateProvenance(value);
}
