/**
 * The int8 fixture (fixtures/int8-tiny: a tiny v2-format package with random weights and PyTorch's
 * outputs for fixed inputs, made by `cd model && python3 -m flowfill.engine_fixture .cache/data
 * ../test/model/fixtures/int8-tiny`) and small helpers shared by its tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';

const here = path.dirname(fileURLToPath(import.meta.url));
export const INT8_FIXTURE = path.join(here, 'fixtures/int8-tiny');

interface Reference {
  prompts: string[];
  tensors: Record<string, { dtype: 'float32' | 'int64'; shape: number[] }>;
}
export const reference: Reference = JSON.parse(fs.readFileSync(path.join(INT8_FIXTURE, 'reference/reference.json'), 'utf8'));

export function referenceTensor(name: string): ort.Tensor {
  const info = reference.tensors[name];
  const bytes = fs.readFileSync(path.join(INT8_FIXTURE, 'reference', `${name}.bin`));
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return info.dtype === 'int64'
    ? new ort.Tensor('int64', new BigInt64Array(buffer), info.shape)
    : new ort.Tensor('float32', new Float32Array(buffer), info.shape);
}

/** max |a - b| and max |b| over two float arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}
