/**
 * Reads the sd3-tiny-golden fixtures (diffusers reference runs, see that folder's README.md).
 * Location: test/fixture-paths.ts (the copy in test/fixtures/, or $FLOWFILL_FIXTURES).
 */
import fs from 'node:fs';
import path from 'node:path';
import { goldenFixtureDir } from '../fixture-paths.js';

export { repoRoot } from '../fixture-paths.js';
export const goldenDir = goldenFixtureDir;

export function readJson<T = any>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(goldenDir, name), 'utf8')) as T;
}

export function readF32(name: string): Float32Array {
  const buf = fs.readFileSync(path.join(goldenDir, name));
  // Copy so the view is aligned regardless of Buffer pooling.
  const bytes = new Uint8Array(buf.byteLength);
  bytes.set(buf);
  return new Float32Array(bytes.buffer, 0, bytes.byteLength / 4);
}

export function readU8(name: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(path.join(goldenDir, name)));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max |a−b| / max(|b|, tiny) over elements. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    m = Math.max(m, b[i] === 0 ? d : d / Math.abs(b[i]));
  }
  return m;
}
