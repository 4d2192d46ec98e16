/**
 * Shared by the text-encoder graph tests: the sd3-diffusers-tiny fixture (cases.json, the golden
 * arrays, the two model folders), opening a component's safetensors from disk, and running a
 * BuiltGraph through the engine's onnxruntime-web WASM session.
 */
import { existsSync, openAsBlob, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { blobSource, type ByteSource } from '../../worker/engine/byte-source.js';
import type { BuiltGraph } from '../../worker/engine/onnx/graph-builder.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../../worker/engine/onnx/serialize-graph.js';
import { createSessionAsync, type BackendSession, type HostTensor } from '../../worker/engine/ort-backend.js';
import { openWeightSetAsync, type WeightSet } from '../../worker/engine/safetensors.js';
import { diffusersFixtureDir } from '../fixture-paths.js';

export const FIXTURE = diffusersFixtureDir();

export interface ArraySpec {
  file: string;
  shape: number[];
  dtype: 'float32' | 'int64' | 'uint8';
}

export interface GoldenCase {
  name: string;
  prompt: string;
  negative: string;
  model: 'sd35m_style' | 'sd3m_style_no_t5';
  max_sequence_length: number;
  do_classifier_free_guidance: boolean;
  arrays: Record<string, ArraySpec>;
}

export const CASES: GoldenCase[] = JSON.parse(readFileSync(path.join(FIXTURE, 'cases.json'), 'utf8')).cases;

export function goldenFloat32(spec: ArraySpec): Float32Array {
  const bytes = readFileSync(path.join(FIXTURE, spec.file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

export function goldenIds(spec: ArraySpec): number[] {
  const bytes = readFileSync(path.join(FIXTURE, spec.file));
  return Array.from(new BigInt64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), Number);
}

/** The model folder's files, read on demand (undefined when absent), as the engine's readers ask for them. */
export function folderReader(model: string): (relative: string) => Promise<Uint8Array | undefined> {
  return async (relative) => {
    const full = path.join(FIXTURE, model, relative);
    return existsSync(full) ? new Uint8Array(await readFile(full)) : undefined;
  };
}

export async function openFileSourceAsync(full: string): Promise<ByteSource | undefined> {
  return existsSync(full) ? blobSource(full, await openAsBlob(full)) : undefined;
}

/** `<model>/<component>/model*.safetensors`, sharded through its index. */
export function openComponentWeightsAsync(model: string, component: string): Promise<WeightSet> {
  return openWeightSetAsync(openFileSourceAsync, path.join(FIXTURE, model, component), 'model');
}

export function componentConfig(model: string, component: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(FIXTURE, model, component, 'config.json'), 'utf8'));
}

/** Time budget of one test that builds tokenisers or runs a few tiny encoder graphs, on a shared 2-core machine. */
export const GRAPH_TEST_TIMEOUT_MS = 60_000;

/** A WASM session of `graph`, its weights serialised as external data. */
export async function textEncoderSessionAsync(graph: BuiltGraph): Promise<BackendSession> {
  const serialized = await serializeGraphAsync(graph);
  const externalData = await Promise.all(
    serialized.externalFiles.map(async (file) => ({ path: file.path, data: await externalFileBytesAsync(file) })),
  );
  return createSessionAsync({ label: graph.name, model: serialized.model, externalData, backend: 'wasm' });
}

/** One run with int64 `input_ids` [rows, length]. */
export function runIdsAsync(session: BackendSession, ids: number[][]): Promise<Record<string, HostTensor>> {
  const flat = BigInt64Array.from(ids.flat(), (id) => BigInt(id));
  return session.runAsync({ input_ids: { type: 'int64', data: flat, dims: [ids.length, ids[0].length] } });
}

/** Builds a session for `graph`, runs it once and releases it. */
export async function runTextEncoderAsync(graph: BuiltGraph, ids: number[][]): Promise<Record<string, HostTensor>> {
  const session = await textEncoderSessionAsync(graph);
  try {
    return await runIdsAsync(session, ids);
  } finally {
    await session.releaseAsync();
  }
}

export function float32Output(outputs: Record<string, HostTensor>, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor || tensor.type !== 'float32') throw new Error(`no float32 output ${name}; got ${Object.keys(outputs).join(', ')}`);
  return tensor.data;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** ‖a − ref‖ / ‖ref‖. */
export function relativeL2(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (a.length !== ref.length) throw new Error(`lengths differ: ${a.length} vs ${ref.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Rows [start, end) of the token axis of a [1, S, width] array, columns [c0, c1). */
export function sliceTokens(data: Float32Array, width: number, start: number, end: number, c0: number, c1: number): Float32Array {
  const out = new Float32Array((end - start) * (c1 - c0));
  for (let t = start; t < end; t++) out.set(data.subarray(t * width + c0, t * width + c1), (t - start) * (c1 - c0));
  return out;
}
