/**
 * One Linear layer on onnxruntime-web's WASM backend (Node, one thread), two ways, at the shapes of
 * the default model's 256² CFG step (568 tokens = 2 × (256 image + 28 text)): a float32 MatMul on
 * the dequantised int8 weight (what an int8 package runs once onnxruntime has folded Cast → Mul),
 * and com.microsoft DynamicQuantizeMatMul on the int8 weight itself (activations quantised to
 * uint8 per call; RuntimeOptions.int8MatMul 'dynamic-quantized'). Prints medians and the error of
 * the quantised product; asserts nothing.
 *
 *   npm run bench:int8-matmul [-- --runs N]
 */
import { DataType } from '../worker/engine/onnx/data-types.js';
import { GraphBuilder, type BuiltGraph, type Value } from '../worker/engine/onnx/graph-builder.js';
import { createSessionAsync } from '../worker/engine/ort-backend.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../worker/engine/onnx/serialize-graph.js';

const runsIndex = process.argv.indexOf('--runs');
const RUNS = runsIndex > 0 ? Number(process.argv[runsIndex + 1]) : 15;
const TOKENS = 568;
// [in, out] of the Linears of one MM-DiT block at width 160 (today's), 256 and 320.
const SHAPES: [number, number][] = [
  [160, 160],
  [160, 640],
  [640, 160],
  [256, 1024],
  [1024, 256],
  [320, 1280],
  [1280, 320],
];

async function medianRunAsync(graph: BuiltGraph, x: Float32Array, k: number): Promise<{ ms: number; y: Float32Array }> {
  const serialized = await serializeGraphAsync(graph);
  const externalData = await Promise.all(
    serialized.externalFiles.map(async (f) => ({ path: f.path, data: await externalFileBytesAsync(f) })),
  );
  const session = await createSessionAsync({ label: graph.name, model: serialized.model, externalData, backend: 'wasm' });
  const feeds = { x: { type: 'float32' as const, data: x, dims: [1, TOKENS, k] } };
  let out = await session.runAsync(feeds);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    out = await session.runAsync(feeds);
    times.push(performance.now() - t);
  }
  await session.releaseAsync();
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(RUNS / 2)], y: out.y.data as Float32Array };
}

/** Symmetric int8 per output channel, as model/flowfill/quantize.py: q [k, n] and scale [n]. */
function quantise(k: number, n: number): { q: Int8Array; scale: Float32Array; dequantised: Float32Array } {
  const w = Float32Array.from({ length: k * n }, (_, i) => Math.sin(i * 0.013) * 0.05 * (1 + (i % n) / n));
  const scale = new Float32Array(n);
  for (let c = 0; c < k; c++) for (let j = 0; j < n; j++) scale[j] = Math.max(scale[j], Math.abs(w[c * n + j]) / 127);
  const q = Int8Array.from(w, (v, i) => Math.round(v / scale[i % n]));
  return { q, scale, dequantised: Float32Array.from(q, (v, i) => v * scale[i % n]) };
}

function linearGraph(name: string, k: number, n: number, body: (b: GraphBuilder, x: Value) => Value): BuiltGraph {
  const b = new GraphBuilder(name);
  const x = b.input('x', DataType.FLOAT, [1, TOKENS, k]);
  b.output(body(b, x), 'y', [1, TOKENS, n]);
  return b.build();
}

console.log(`Linear on [1, ${TOKENS}, K], WASM, 1 thread, median of ${RUNS} runs`);
for (const [k, n] of SHAPES) {
  const { q, scale, dequantised } = quantise(k, n);
  const bias = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.07) * 0.1);
  const x = Float32Array.from({ length: TOKENS * k }, (_, i) => Math.sin(i * 0.37) * 1.5);
  const float = await medianRunAsync(
    linearGraph('float32 MatMul', k, n, (b, x) =>
      b.op('Add', [b.op('MatMul', [x, b.float(dequantised, DataType.FLOAT, [k, n])]), b.float(bias, DataType.FLOAT, [n])]),
    ),
    x,
    k,
  );
  const quantised = await medianRunAsync(
    linearGraph('DynamicQuantizeMatMul', k, n, (b, x) => {
      const weight = b.initializer('w_int8', { kind: 'bytes', dataType: DataType.INT8, dims: [k, n], bytes: new Uint8Array(q.buffer) });
      const inputs = [x, weight, b.float(scale, DataType.FLOAT, [n]), '' as const, b.float(bias, DataType.FLOAT, [n])];
      return b.msOp('DynamicQuantizeMatMul', inputs, undefined, DataType.FLOAT);
    }),
    x,
    k,
  );
  let diff = 0;
  let size = 0;
  for (let i = 0; i < float.y.length; i++) {
    diff = Math.max(diff, Math.abs(float.y[i] - quantised.y[i]));
    size = Math.max(size, Math.abs(float.y[i]));
  }
  console.log(
    `  [${TOKENS}, ${k}] x [${k}, ${n}]: float32 ${float.ms.toFixed(2)} ms, DynamicQuantizeMatMul ${quantised.ms.toFixed(2)} ms ` +
      `(${(float.ms / quantised.ms).toFixed(2)}x); max |diff| ${diff.toExponential(2)} of max |y| ${size.toFixed(2)}`,
  );
}
