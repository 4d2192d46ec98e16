/**
 * Checks for values that crossed a realm boundary (postMessage between the plugin's sandbox, the
 * panel iframe and the worker, or jest's vm contexts): structured clones carry the other realm's
 * prototypes, so these compare shapes and type tags, never `instanceof`. Used by every schema in
 * common/ so their error messages describe a bad value the same way.
 */

export type PlainObject = Record<string, unknown>;

/** A plain object from any realm (its prototype is some realm's Object.prototype, or null). */
export function isPlainObject(x: unknown): x is PlainObject {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  if (Object.prototype.toString.call(x) !== '[object Object]') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/** Bytes from any realm: a cloned Uint8Array is not `instanceof` this realm's class. */
export function isBytes(x: unknown): x is Uint8Array {
  return Object.prototype.toString.call(x) === '[object Uint8Array]';
}

/** A short description of a value for an error message ("a Uint8Array of 12", "\"abc\"", ...). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (isBytes(value)) return `a Uint8Array of ${value.length}`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
