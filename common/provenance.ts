/**
 * Provenance: the record Flowfill stores on every node it writes an image to, so "Regenerate" and
 * "Variations" can read back exactly how the image was made: format version, prompt, negative
 * prompt, seed, steps, guidance, generation size, model id and hash, backend, and for variations
 * the strength and the parent node.
 *
 * Stored as one JSON string under one plugin-data key (PROVENANCE_KEY). Figma caps a plugin-data
 * entry at 100 kB, so the record holds settings only, never image bytes.
 *
 * Runs in the Figma main thread too: ES2017, no DOM.
 */
import * as v from 'valibot';
import { finite, integer, oneOf, parseWith, text, type ParseOutcome } from './schema-kit.js';

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

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** A finite number above 0 (and at most `max`). */
function positive(expectation: string, max = Number.MAX_VALUE) {
  return v.pipe(v.number(expectation), v.finite(expectation), v.gtValue(0, expectation), v.maxValue(max, expectation));
}

export const uint32Schema = integer(0, UINT32_MAX);
/** A generated image's side in pixels. */
export const imageSideSchema = integer(1, MAX_IMAGE_SIDE);

export const provenanceSchema = v.object(
  {
    format: v.literal(PROVENANCE_FORMAT, JSON.stringify(PROVENANCE_FORMAT)),
    version: v.literal(PROVENANCE_VERSION, `${PROVENANCE_VERSION} (this build reads format version ${PROVENANCE_VERSION} only)`),
    prompt: text(PROMPT_MAX_CHARS),
    negativePrompt: text(PROMPT_MAX_CHARS, { expectation: `a string of at most ${PROMPT_MAX_CHARS} characters ("" for none)` }),
    seed: uint32Schema,
    steps: integer(1, 1000),
    guidance: finite(0, 100),
    /** Generation size in pixels (not the node's size: the image is scaled with FILL). */
    width: imageSideSchema,
    height: imageSideSchema,
    model: v.object(
      {
        id: text(200, { nonEmpty: true }),
        hash: text(200, { expectation: 'a string of at most 200 characters (hex sha256)' }),
      },
      'an object { id, hash }',
    ),
    backend: oneOf(['webgpu', 'wasm']),
    /** Image variations only: how far from the source the image moved, (0, 1]. */
    strength: v.optional(positive('a number in (0, 1], or absent for text-to-image', 1)),
    /** Variations: the node they were made from, and its seed when it is a Flowfill image. */
    parent: v.optional(
      v.object(
        { nodeId: text(200, { nonEmpty: true, expectation: 'a non-empty node id string' }), seed: v.optional(uint32Schema) },
        'an object { nodeId, seed? } or absent',
      ),
    ),
    /** Scheduler shift override, when one was used. */
    shift: v.optional(positive('a positive number, or absent to use the scheduler config')),
    /** ISO 8601 timestamp. */
    createdAt: v.pipe(v.string(), v.regex(ISO_DATE, 'an ISO 8601 timestamp such as "2026-01-31T12:00:00.000Z"')),
    /**
     * The host's id for the written image (Figma: imageHash, SHA-1 hex). Set by the host when it
     * stores the record, so a later fill in 'keep' mode replaces this image instead of stacking.
     */
    imageHash: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{1,128}$/, 'a lower-case hex string, or absent'))),
  },
  'an object (a provenance record)',
);

export type ProvenanceRecord = v.InferOutput<typeof provenanceSchema>;
export type ProvenanceParent = NonNullable<ProvenanceRecord['parent']>;

/**
 * Checks a value is a valid ProvenanceRecord; the error names the field, the value and what would
 * be valid. The value returned holds only the known fields, so unknown extras never reach the
 * document. Never throws.
 */
export function validateProvenance(x: unknown): ParseOutcome<ProvenanceRecord> {
  return parseWith(provenanceSchema, x, 'provenance');
}

/** Serialises a record for setPluginData; throws (naming the field) when the record is invalid. */
export function serializeProvenance(record: ProvenanceRecord): string {
  const checked = validateProvenance(record);
  if (!checked.ok) throw new Error(`Cannot store provenance: ${checked.error}`);
  const json = JSON.stringify(checked.value);
  if (json.length + PROVENANCE_KEY.length > PLUGIN_DATA_LIMIT_BYTES / 4) {
    // Characters may take up to 4 UTF-8 bytes; staying under a quarter of the limit in
    // characters keeps the entry under Figma's byte limit without encoding it.
    throw new Error(`Cannot store provenance: ${json.length} characters exceeds the ${PLUGIN_DATA_LIMIT_BYTES / 4} allowed`);
  }
  return json;
}

/** Parses plugin-data text back into a record. "" (no data) gives ok:false with a plain reason. */
export function parseProvenance(stored: unknown): ParseOutcome<ProvenanceRecord> {
  if (typeof stored !== 'string') return { ok: false, error: `provenance text is ${typeof stored}; expected a string` };
  if (stored === '') return { ok: false, error: 'no provenance stored on this node' };
  let value: unknown;
  try {
    value = JSON.parse(stored);
  } catch {
    return { ok: false, error: 'provenance is not valid JSON' };
  }
  return validateProvenance(value);
}
