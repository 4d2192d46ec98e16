/**
 * Which value of an SD3 transformer goes wrong under onnxruntime-web's graph capture? Headless Chromium
 * (WebGPU on SwiftShader), the golden fixture's transformer:
 *   npx tsx scripts/debug/capture-bisect.ts [--every N] [--from K] [--to K]
 * Appends every N-th node's first output (nodes K..K', in file order) as a graph output, runs the
 * graph regular and captured on the same inputs, and prints each value's largest difference: the
 * first DIFF row names the first node whose result capture changes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readOnnxModel } from '../../worker/engine/onnx/onnx-model-reader.js';
import { fixturesDir, runWorkerInChromiumOnceAsync } from '../../test/browser/browser-rig.js';

// Ops whose first output is a float tensor in these graphs (shape arithmetic is int64 and folded).
const FLOAT_OPS = new Set([
  'MatMul',
  'Add',
  'Mul',
  'Sub',
  'Div',
  'LayerNormalization',
  'Softmax',
  'Gemm',
  'Sigmoid',
  'Tanh',
  'Sqrt',
  'Pow',
  'ReduceMean',
  'Conv',
  'Transpose',
  'Sin',
  'Cos',
  'Einsum',
  'Concat',
]);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      every: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      value: { type: 'string', multiple: true },
      replace: { type: 'boolean' },
      rounds: { type: 'string' },
    },
  });
  const every = Number(values.every ?? 20);
  const model = readOnnxModel(new Uint8Array(readFileSync(path.join(fixturesDir(), 'transformer/model.onnx'))));
  const indexed = model.nodes.map((node, index) => ({ node, index }));
  const from = Number(values.from ?? 0);
  const to = Number(values.to ?? Number.POSITIVE_INFINITY);
  // --value NAME (repeatable): exactly these values instead of every N-th node's.
  const picked = values.value?.length
    ? indexed.filter(({ node }) => values.value!.includes(node.outputs[0]))
    : indexed.filter(({ node, index }) => FLOAT_OPS.has(node.opType) && index >= from && index <= to).filter((_, k) => k % every === 0);
  const names = picked.map(({ node }) => node.outputs[0]);
  const answer = await runWorkerInChromiumOnceAsync<{ rows?: string[]; names?: string[]; error?: string }>(
    'capture-bisect-worker',
    'scripts/debug/capture-bisect-worker.ts',
    { names, replace: values.replace ?? false, rounds: Number(values.rounds ?? 0) },
  );
  if (answer.error) throw new Error(answer.error);
  const byName = new Map(picked.map((p) => [p.node.outputs[0], p]));
  answer.rows!.forEach((row, k) => {
    const p = byName.get(answer.names![k])!;
    console.log(`node ${String(p.index).padStart(4)} ${p.node.opType.padEnd(18)} ${row}`);
  });
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
