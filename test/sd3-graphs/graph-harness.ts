/**
 * What the graph tests share: the sd3-diffusers-tiny fixture's checkpoints and golden arrays, a
 * built graph serialised and run by the engine's onnxruntime-web WASM backend, and the error
 * measures the fixture README states its tolerances in.
 */
import { existsSync, openAsBlob, readFileSync } from 'node:fs';
import path from 'node:path';
import { blobSource, type ByteSource } from '../../worker/engine/byte-source.js';
import type { BuiltGraph } from '../../worker/engine/onnx/graph-builder.js';
import { externalFileBytesAsync, serializeGraphAsync, type SerializedGraph } from '../../worker/engine/onnx/serialize-graph.js';
import { createSessionAsync, type BackendSession, type HostTensor } from '../../worker/engine/ort-backend.js';
import { openWeightSetAsync, type WeightSet } from '../../worker/engine/safetensors.js';
import { diffusersFixtureDir } from '../fixture-paths.js';

export const fixtureDir = diffusersFixtureDir();

interface ArrayEntry {
  file: string;
  shape: number[];
  dtype: string;
}
export interface GoldenCase {
  name: string;
  model: 'sd35m_style' | 'sd3m_style_no_t5';
  latent_height: number;
  latent_width: number;
  do_classifier_free_guidance: boolean;
  arrays: Record<string, ArrayEntry>;
}

export const cases: GoldenCase[] = (JSON.parse(readFileSync(path.join(fixtureDir, 'cases.json'), 'utf8')) as { cases: GoldenCase[] }).cases;

export function goldenCase(prefix: string): GoldenCase {
  const found = cases.find((c) => c.name.startsWith(prefix));
  if (!found) throw new Error(`no golden case ${prefix} in ${fixtureDir}/cases.json`);
  return found;
}

/** A float32 golden array with its shape. */
export function goldenArray(c: GoldenCase, name: string): { data: Float32Array; dims: number[] } {
  const entry = c.arrays[name];
  if (!entry || entry.dtype !== 'float32') throw new Error(`case ${c.name} has no float32 array ${name}`);
  const bytes = readFileSync(path.join(fixtureDir, entry.file));
  return { data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), dims: entry.shape };
}

/** Opens files under `root` the way the engine opens a picked folder (undefined when absent). */
export function folderOpener(root: string): (relative: string) => Promise<ByteSource | undefined> {
  return async (relative) => {
    const full = path.join(root, relative);
    return existsSync(full) ? blobSource(relative, await openAsBlob(full)) : undefined;
  };
}

/** A component's weights in one of the fixture's model folders, e.g. ("sd35m_style", "transformer"). */
export function fixtureWeightsAsync(model: string, component: string): Promise<WeightSet> {
  return openWeightSetAsync(folderOpener(path.join(fixtureDir, model)), component, 'diffusion_pytorch_model');
}

export function fixtureConfig(model: string, component: string): unknown {
  return JSON.parse(readFileSync(path.join(fixtureDir, model, component, 'config.json'), 'utf8'));
}

export interface LoadedGraph {
  session: BackendSession;
  serialized: SerializedGraph;
  graph: BuiltGraph;
}

/** Serialises `graph` (weights as external data, as a package holds them) and opens it on WASM. */
export async function loadGraphAsync(graph: BuiltGraph): Promise<LoadedGraph> {
  const serialized = await serializeGraphAsync(graph);
  const externalData = await Promise.all(
    serialized.externalFiles.map(async (file) => ({ path: file.path, data: await externalFileBytesAsync(file) })),
  );
  const session = await createSessionAsync({ label: graph.name, model: serialized.model, externalData, backend: 'wasm' });
  return { session, serialized, graph };
}

export function f32(data: Float32Array, dims: number[]): HostTensor {
  return { type: 'float32', data, dims };
}

export function maxAbsDiff(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let max = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

export function relativeL2(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} vs ${want.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < got.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** Node count per op type, most frequent first ("MatMul 120, Add 98, …"). */
export function opCounts(graph: BuiltGraph): string {
  const counts = new Map<string, number>();
  for (const node of graph.nodes) counts.set(node.opType, (counts.get(node.opType) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([op, n]) => `${op} ${n}`)
    .join(', ');
}
