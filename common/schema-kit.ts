/**
 * The few schema shapes Flowfill's contracts are built from (valibot), and one way to turn a
 * failed parse into a sentence that names the field, the value and what would be valid:
 * "placeImage: args.record.seed is -1; expected an integer in [0, 4294967295]".
 *
 * Every message given to a schema here is the *expectation* ("an integer in [1, 4096]"), so any
 * issue reads the same way. Runs in the Figma main thread too: ES2017, no DOM.
 */
import * as v from 'valibot';
import { describeValue, isBytes } from './plain-values.js';

/** An integer in [min, max]. */
export function integer(min: number, max: number, expectation = `an integer in [${min}, ${max}]`) {
  return v.pipe(v.number(expectation), v.integer(expectation), v.minValue(min, expectation), v.maxValue(max, expectation));
}

/** A finite number in [min, max]. */
export function finite(min: number, max: number, expectation = `a number in [${min}, ${max}]`) {
  return v.pipe(v.number(expectation), v.finite(expectation), v.minValue(min, expectation), v.maxValue(max, expectation));
}

/** A string of at most `max` characters; `nonEmpty` also refuses "". */
export function text(max: number, { nonEmpty = false, expectation }: { nonEmpty?: boolean; expectation?: string } = {}) {
  const expected = expectation ?? `a ${nonEmpty ? 'non-empty ' : ''}string of at most ${max} characters`;
  return nonEmpty
    ? v.pipe(v.string(expected), v.minLength(1, expected), v.maxLength(max, expected))
    : v.pipe(v.string(expected), v.maxLength(max, expected));
}

/** One of a fixed set of strings. */
export function oneOf<const T extends readonly [string, ...string[]]>(options: T) {
  return v.picklist(options, `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`);
}

/** A Uint8Array from any realm (a structured clone is not `instanceof` this realm's class). */
export function bytes(maxBytes: number, expectation = `a Uint8Array of at most ${maxBytes} bytes`) {
  return v.custom<Uint8Array>((x) => isBytes(x) && x.length <= maxBytes, expectation);
}

export type ParseOutcome<T> = { ok: true; value: T } | { ok: false; error: string };

type AnySchema = v.GenericSchema<unknown, unknown>;

/** "args.record.seed", "targets[3].name": the issue's place under `label`. */
function issuePath(label: string, issue: v.BaseIssue<unknown>): string {
  let out = label;
  for (const item of issue.path ?? []) {
    const key = (item as { key: unknown }).key;
    out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? 'value' : out;
}

/** One issue as a sentence: the field, what it is, what it should be. */
export function describeIssue(label: string, issue: v.BaseIssue<unknown>): string {
  const path = issuePath(label, issue);
  const last = issue.path?.[issue.path.length - 1] as { origin?: string; value?: unknown } | undefined;
  // valibot reports a missing object key as a "key" issue of the object, with the key as its path.
  if (last?.origin === 'key' && issue.expected !== 'never') return `${path} is missing`;
  if (last?.origin === 'key') return `${path} is not a known field`;
  const value = last ? last.value : issue.input;
  return `${path} is ${describeValue(value)}; expected ${issue.message}`;
}

/**
 * Parses `input` with `schema`; never throws. The output holds only the schema's fields (unknown
 * extras are dropped). Exotic inputs (proxies, throwing getters) are refused, not thrown.
 */
export function parseWith<S extends AnySchema>(schema: S, input: unknown, label: string): ParseOutcome<v.InferOutput<S>> {
  try {
    const result = v.safeParse(schema, input, { abortEarly: true });
    if (result.success) return { ok: true, value: result.output as v.InferOutput<S> };
    return { ok: false, error: describeIssue(label, result.issues[0]) };
  } catch (error) {
    return { ok: false, error: `${label || 'value'} could not be read: ${error instanceof Error ? error.message : String(error)}` };
  }
}
