/** Shared by the engine-runtime tests: the golden fixture package as in-memory files. */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LoadProgress, ModelSource } from '../../common/engine-types.js';
import { engineErrorCodeOf } from '../../worker/engine/engine-error.js';
import { openPackageAsync } from '../../worker/engine/package-source.js';
import type { Sd3Package } from '../../worker/engine/sd3/package.js';
import { readSd3PackageFilesAsync } from '../../worker/engine/sd3/read-sd3-package-files.js';
import { goldenFixtureDir } from '../fixture-paths.js';

export const FIXTURE_DIR = goldenFixtureDir;

/** The package files of the fixture folder (model_index, configs, graphs), keyed by package path. */
export async function fixturePackageFiles(): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  files['model_index.json'] = new Uint8Array(await readFile(path.join(FIXTURE_DIR, 'model_index.json')));
  for (const folder of ['scheduler', 'transformer', 'vae_decoder']) {
    for (const name of await readdir(path.join(FIXTURE_DIR, folder))) {
      files[`${folder}/${name}`] = new Uint8Array(await readFile(path.join(FIXTURE_DIR, folder, name)));
    }
  }
  return files;
}

export function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

export function parseJson(bytes: Uint8Array): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

/** Runs `promise` and returns the EngineError code and message it rejects with. */
export async function rejectionOf(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { code: engineErrorCodeOf(error), message: error instanceof Error ? error.message : String(error) };
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Replaces every occurrence of an ASCII string in `bytes` by another of the same length. */
export function replaceAscii(bytes: Uint8Array, from: string, to: string): Uint8Array {
  if (from.length !== to.length) throw new Error('replaceAscii keeps lengths equal so protobuf lengths stay valid');
  const out = bytes.slice();
  const a = new TextEncoder().encode(from);
  const b = new TextEncoder().encode(to);
  let count = 0;
  for (let i = 0; i + a.length <= out.length; i++) {
    let match = true;
    for (let k = 0; k < a.length && match; k++) match = out[i + k] === a[k];
    if (match) {
      out.set(b, i);
      count += 1;
    }
  }
  if (count === 0) throw new Error(`"${from}" not found`);
  return out;
}

/** The SD3 package behind `source`, read and checked as the engine reads it (for tests of SD3 internals). */
export async function sd3PackageAsync(source: ModelSource, onProgress?: (progress: LoadProgress) => void): Promise<Sd3Package> {
  return readSd3PackageFilesAsync(await openPackageAsync(source, onProgress));
}
