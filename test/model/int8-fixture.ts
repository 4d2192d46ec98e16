/**
 * The int8 fixture (fixtures/int8-tiny: a tiny v2-format package with random weights and PyTorch's
 * outputs for fixed inputs, made by `cd model && python3 -m flowfill.engine_fixture .cache/data
 * ../test/model/fixtures/int8-tiny`) and small helpers shared by its tests.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { readOnnxGraphSummary } from '../../worker/engine/onnx-graph.js';

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

/**
 * For each network of a v2-format package: how many int8 weights its graph dequantises with
 * Cast -> Mul (quantize.py's form) against flowfill.json's count, and the element types of its
 * inputs and outputs (1 = float32, 7 = int64: nothing in float16, so WebGPU needs no shader-f16).
 */
export function int8GraphCensus(pkgDir: string) {
  const flowfill = JSON.parse(fs.readFileSync(path.join(pkgDir, 'flowfill.json'), 'utf8'));
  return ['transformer', 'text_encoder', 'vae_decoder', 'vae_encoder'].map((net) => {
    const graph = readOnnxGraphSummary(new Uint8Array(fs.readFileSync(path.join(pkgDir, net, 'model.onnx'))));
    const producer = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
    const dequantised = graph.nodes.filter(
      (n) => n.opType === 'Mul' && n.inputs.some((i) => producer.get(i)?.opType === 'Cast' && i.endsWith('_int8_as_float')),
    );
    return {
      net,
      dequantised: dequantised.length,
      listed: flowfill.weights.quantisation[net].int8_tensors as number,
      dequantizeLinear: graph.nodes.some((n) => n.opType === 'DequantizeLinear'),
      elemTypes: [...new Set([...graph.inputs, ...graph.outputs].map((v) => v.elemType))].sort(),
    };
  });
}
