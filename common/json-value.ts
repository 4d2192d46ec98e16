/**
 * JSON data a host stores for the panel (settings, history) without knowing its shape: bounded so
 * a bad value cannot exhaust the host (depth, number of values), and plain (no NaN, functions,
 * class instances or cycles), so what is stored reads back the same.
 */
import * as v from 'valibot';
import { describeValue, isPlainObject } from './plain-values.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export const JSON_LIMITS = { maxDepth: 8, maxValues: 20_000 } as const;

/** The first problem in `value` as JSON data, or null when it is fine. */
export function jsonProblem(value: unknown, path = 'value', depth = 0, budget = { values: JSON_LIMITS.maxValues }): string | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${path} is ${describeValue(value)}, not a finite number`;
  if (depth >= JSON_LIMITS.maxDepth) return `${path} nests deeper than ${JSON_LIMITS.maxDepth} levels`;
  const entries: [string, unknown][] | null = Array.isArray(value)
    ? value.map((item, i): [string, unknown] => [`${path}[${i}]`, item])
    : isPlainObject(value)
      ? Object.keys(value).map((key): [string, unknown] => [`${path}.${key}`, value[key]])
      : null;
  if (entries === null) return `${path} is ${describeValue(value)}, not JSON data`;
  for (const [itemPath, item] of entries) {
    if (--budget.values < 0) return `${path} holds more than ${JSON_LIMITS.maxValues} values`;
    const problem = jsonProblem(item, itemPath, depth + 1, budget);
    if (problem) return problem;
  }
  return null;
}

const JSON_EXPECTATION = `JSON data (objects, arrays, strings, finite numbers, booleans, null; at most ${JSON_LIMITS.maxDepth} levels)`;

/** Any JSON value within JSON_LIMITS; the issue message says where it is not. */
export const jsonValueSchema = v.custom<JsonValue>(
  (x) => jsonProblem(x) === null,
  (issue) => `${JSON_EXPECTATION}: ${jsonProblem(issue.input) ?? 'unreadable'}`,
);
