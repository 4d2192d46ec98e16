/**
 * npm run bench:ops — where the WASM backend's time goes, op type by op type, against
 * onnxruntime-node on the same ONNX graph (one thread each). Printed, never asserted.
 *
 *   npm run bench:ops -- [--model models/default] [--component transformer] [--size 256] [--runs 20]
 *
 * 1. The component's graph runs whole on both backends (same inputs, batch 2 as with CFG): the
 *    medians after a warm-up long enough for V8 to finish optimising the .wasm.
 * 2. onnxruntime-node profiles the same graph (enableProfiling): the kernel time of every node,
 *    with its input and output shapes. onnxruntime-web cannot do this (its profile stays in the
 *    .wasm's in-memory file system, and the .wasm has no function names for a sampling profiler).
 * 3. So every distinct (op, shapes) of the hot op types is rebuilt as a one-node graph — weights
 *    as initializers, as in the model — and timed on both backends, less each backend's cost of
 *    running an empty graph. Ops whose output has their input's shape (Softmax, Add, LayerNorm, …)
 *    are timed as a chain of 5 against a chain of 1, so copying their large inputs in and outputs
 *    out of the runtime does not count as their time. Times × the node counts give each op type's share on each backend,
 *    and the WASM/native ratio per op type.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../worker/bench/stage-bench.js';
import { createNativeSessionAsync, loadNativeOrtAsync } from '../worker/cli/native-peer.js';
import { readOnnxGraphSummary } from '../worker/engine/onnx-graph.js';
import { DataType } from '../worker/engine/onnx/data-types.js';
import { GraphBuilder, type Value } from '../worker/engine/onnx/graph-builder.js';
import { serializeGraphAsync } from '../worker/engine/onnx/serialize-graph.js';
import { createSessionAsync, type HostTensor } from '../worker/engine/ort-backend.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/default' },
    component: { type: 'string', default: 'transformer' },
    size: { type: 'string', default: '256' },
    runs: { type: 'string', default: '20' },
  },
});
const RUNS = Number(values.runs);
const latent = Number(values.size) / 8;
const modelDir = path.resolve(values.model!);
const graphBytes = readFileSync(path.join(modelDir, values.component!, 'model.onnx'));
const manifest = JSON.parse(readFileSync(path.join(modelDir, 'flowfill.json'), 'utf8')) as { max_sequence_length?: number };
// CLIP's 77 tokens, then T5's block (zeros when the package has no T5).
const DIMS: Record<string, number> = { batch: 2, height: latent, width: latent, sequence: 77 + (manifest.max_sequence_length ?? 256) };

type Feeds = Record<string, HostTensor>;
interface Runner {
  runAsync(feeds: Feeds): Promise<unknown>;
}

const ortNode = await loadNativeOrtAsync();

function nativeFeeds(feeds: Feeds): Record<string, InstanceType<typeof ortNode.Tensor>> {
  return Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => [
      name,
      t.type === 'int64' ? new ortNode.Tensor('int64', t.data, t.dims) : new ortNode.Tensor('float32', t.data, t.dims),
    ]),
  );
}

function randomFloats(n: number, seed: number): Float32Array {
  let x = seed >>> 0 || 1;
  return new Float32Array(n).map(() => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) / 2 ** 32 - 0.5) * 0.5;
  });
}

/** The graph on the engine's own WASM session (one thread in Node) and on onnxruntime-node's CPU EP (one thread). */
async function sessionPairAsync(model: Uint8Array): Promise<{ wasm: Runner; native: Runner }> {
  const wasm = await createSessionAsync({ label: 'bench:ops', model, backend: 'wasm' });
  const native = await createNativeSessionAsync({ model, externalData: [] }, 1);
  return { wasm, native: { runAsync: (feeds) => native.run(nativeFeeds(feeds)) } };
}

async function medianMsAsync(runner: Runner, feeds: Feeds, warm: number, runs: number): Promise<number> {
  for (let i = 0; i < warm; i++) await runner.runAsync(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await runner.runAsync(feeds);
    times.push(performance.now() - t);
  }
  return median(times);
}

// 1. The whole graph on both backends
const summary = readOnnxGraphSummary(graphBytes);
const wholeFeeds: Feeds = {};
summary.inputs.forEach((input, i) => {
  const dims = (input.shape ?? []).map((d) => (typeof d === 'number' ? d : (DIMS[d] ?? 1)));
  const n = dims.reduce((a, b) => a * b, 1);
  wholeFeeds[input.name] =
    input.elemType === 7
      ? { type: 'int64', data: new BigInt64Array(n).fill(1n), dims }
      : { type: 'float32', data: input.name === 'timestep' ? new Float32Array(n).fill(500) : randomFloats(n, i + 1), dims };
});
const whole = await sessionPairAsync(graphBytes);
// V8 compiles the .wasm with its baseline compiler first and optimises it in the background: the
// first runs are slow for reasons that are not the kernels'.
const wholeWasm = await medianMsAsync(whole.wasm, wholeFeeds, 15, RUNS);
const wholeNative = await medianMsAsync(whole.native, wholeFeeds, 5, RUNS);

// 2. The native profile
const profileDir = mkdtempSync(path.join(tmpdir(), 'flowfill-ops-'));
const profiled = await createNativeSessionAsync({ model: graphBytes, externalData: [] }, 1, {
  enableProfiling: true,
  profileFilePrefix: path.join(profileDir, 'profile'),
});
const profiledFeeds = nativeFeeds(wholeFeeds);
const PROFILED_RUNS = 5;
for (let i = 0; i < PROFILED_RUNS + 1; i++) await profiled.run(profiledFeeds);
await profiled.release();
const profileFile = readdirSync(profileDir).find((f) => f.endsWith('.json'));
if (!profileFile) throw new Error('onnxruntime-node wrote no profile');
interface ProfileEvent {
  cat?: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; input_type_shape?: Record<string, number[]>[]; output_type_shape?: Record<string, number[]>[] };
}
const events = JSON.parse(readFileSync(path.join(profileDir, profileFile), 'utf8')) as ProfileEvent[];
rmSync(profileDir, { recursive: true, force: true });
const runsOfModel = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
const after = runsOfModel[1].ts; // the first run allocates and prepacks
const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= after);

interface OpKey {
  op: string;
  inputs: { type: string; dims: number[] }[];
  output: number[];
  count: number;
  nativeProfileUs: number;
}
const byKey = new Map<string, OpKey>();
for (const e of kernels) {
  const op = e.args?.op_name ?? '?';
  const inputs = (e.args?.input_type_shape ?? []).map((entry) => {
    const [type, dims] = Object.entries(entry)[0];
    return { type, dims };
  });
  const output = Object.values(e.args?.output_type_shape?.[0] ?? {})[0] ?? [];
  const key = `${op} ${JSON.stringify(inputs)}`;
  const entry = byKey.get(key) ?? { op, inputs, output, count: 0, nativeProfileUs: 0 };
  entry.count += 1 / PROFILED_RUNS;
  entry.nativeProfileUs += e.dur / PROFILED_RUNS;
  byKey.set(key, entry);
}

// 3. One-node graphs of the hot op types
const MICRO_OPS = new Set([
  'MatMul',
  'FusedMatMul',
  'Gemm',
  'Softmax',
  'Add',
  'Mul',
  'FastGelu',
  'LayerNormalization',
  'SimplifiedLayerNormalization',
  'Transpose',
]);

/** The permutation that turns `from` into `to`, when the dims say it unambiguously. */
function permutation(from: number[], to: number[]): number[] | undefined {
  const perm: number[] = [];
  const used = new Set<number>();
  for (const d of to) {
    const candidates = from.map((v, i) => (v === d && !used.has(i) ? i : -1)).filter((i) => i >= 0);
    if (candidates.length !== 1 && from.filter((v) => v === d).length > 1) return undefined;
    if (candidates.length === 0) return undefined;
    perm.push(candidates[0]);
    used.add(candidates[0]);
  }
  return perm;
}

/** Shape-preserving ops are chained `repeat` times in one graph; the difference of two lengths is free of input/output copies. */
function chainable(key: OpKey): boolean {
  return (
    key.op !== 'MatMul' &&
    key.op !== 'FusedMatMul' &&
    key.op !== 'Gemm' &&
    key.op !== 'Transpose' &&
    JSON.stringify(key.inputs[0].dims) === JSON.stringify(key.output)
  );
}

function oneNodeGraph(key: OpKey, repeat = 1): { model: GraphBuilder; feeds: Feeds } | undefined {
  if (!MICRO_OPS.has(key.op) || key.inputs.some((i) => i.type !== 'float')) return undefined;
  const b = new GraphBuilder(`micro ${key.op}`);
  const feeds: Feeds = {};
  const input = (i: number): Value => {
    const dims = key.inputs[i].dims;
    if (dims.length === 0) return b.float(0.5);
    const name = `x${i}`;
    feeds[name] = {
      type: 'float32',
      data: randomFloats(
        dims.reduce((a, c) => a * c, 1),
        i + 7,
      ),
      dims,
    };
    return b.input(name, DataType.FLOAT, dims);
  };
  const weight = (dims: number[]) =>
    b.float(
      randomFloats(
        dims.reduce((a, c) => a * c, 1),
        99,
      ),
      DataType.FLOAT,
      dims,
    );
  const last = (dims: number[]) => dims[dims.length - 1];
  let y: Value | undefined;
  const first = input(0);
  const others = key.inputs
    .slice(1)
    .map((_, i) => (key.op === 'Add' || key.op === 'Mul' || key.op === 'FusedMatMul' || key.op === 'MatMul' ? input(i + 1) : undefined));
  for (let r = 0; r < repeat; r++) {
    const x = y ?? first;
    const operand = (i: number) => others[i - 1] ?? input(i);
    switch (key.op) {
      case 'MatMul':
        // One listed input: the other is a weight (an initializer, which onnxruntime prepacks).
        y =
          key.inputs.length === 1
            ? b.op('MatMul', [x, weight([last(key.inputs[0].dims), last(key.output)])])
            : b.op('MatMul', [x, operand(1)]);
        break;
      case 'FusedMatMul':
        y = b.msOp('FusedMatMul', [x, operand(1)], { alpha: { float: 0.25 } });
        break;
      case 'Gemm': {
        // PyTorch's Linear: weight [N, K] with transB, bias [N].
        const [a, c] = [key.inputs[0].dims, key.inputs[1]?.dims];
        if (!c) return undefined;
        y = b.op('Gemm', [x, weight([last(c), last(a)]), weight(c)], { transB: 1 });
        break;
      }
      case 'Softmax':
        y = b.op('Softmax', [x], { axis: -1 });
        break;
      case 'Add':
      case 'Mul':
        y = b.op(key.op, [x, operand(1)]);
        break;
      case 'FastGelu':
        y = key.inputs.length > 1 ? b.msOp('FastGelu', [x, weight(key.inputs[1].dims)]) : b.msOp('FastGelu', [x]);
        break;
      case 'LayerNormalization':
        y = b.op('LayerNormalization', [x, weight([last(key.inputs[0].dims)]), weight([last(key.inputs[0].dims)])], {
          axis: -1,
          epsilon: { float: 1e-6 },
        });
        break;
      case 'SimplifiedLayerNormalization':
        y = b.op('SimplifiedLayerNormalization', [x, weight([last(key.inputs[0].dims)])], {
          axis: -1,
          epsilon: { float: 1e-6 },
        });
        break;
      case 'Transpose': {
        const perm = permutation(key.inputs[0].dims, key.output);
        if (!perm) return undefined;
        y = b.op('Transpose', [x], { perm });
        break;
      }
      default:
        return undefined;
    }
  }
  b.output(y!, 'y', key.output);
  return { model: b, feeds };
}

async function overheadAsync(): Promise<{ wasm: number; native: number }> {
  const b = new GraphBuilder('empty');
  b.output(b.op('Identity', [b.input('x', DataType.FLOAT, [1])]), 'y', [1]);
  const pair = await sessionPairAsync((await serializeGraphAsync(b.build())).model);
  const feeds: Feeds = { x: { type: 'float32', data: new Float32Array(1), dims: [1] } };
  return { wasm: await medianMsAsync(pair.wasm, feeds, 50, 200), native: await medianMsAsync(pair.native, feeds, 50, 200) };
}

const overhead = await overheadAsync();
const CHAIN = 5;
interface OpRow {
  nodes: number;
  nativeProfileMs: number;
  nativeMicroMs: number;
  wasmMicroMs: number;
  covered: number;
}
const rows = new Map<string, OpRow>();
for (const key of byKey.values()) {
  const row = rows.get(key.op) ?? { nodes: 0, nativeProfileMs: 0, nativeMicroMs: 0, wasmMicroMs: 0, covered: 0 };
  row.nodes += key.count;
  row.nativeProfileMs += key.nativeProfileUs / 1000;
  const micro = oneNodeGraph(key);
  if (micro) {
    const timeAsync = async (graph: NonNullable<ReturnType<typeof oneNodeGraph>>) => {
      const pair = await sessionPairAsync((await serializeGraphAsync(graph.model.build(), { externalThresholdBytes: Infinity })).model);
      return { wasm: await medianMsAsync(pair.wasm, graph.feeds, 5, RUNS), native: await medianMsAsync(pair.native, graph.feeds, 5, RUNS) };
    };
    const one = await timeAsync(micro);
    let wasm = Math.max(0, one.wasm - overhead.wasm);
    let native = Math.max(0, one.native - overhead.native);
    if (chainable(key)) {
      const chained = await timeAsync(oneNodeGraph(key, CHAIN)!);
      wasm = Math.max(0, (chained.wasm - one.wasm) / (CHAIN - 1));
      native = Math.max(0, (chained.native - one.native) / (CHAIN - 1));
    }
    row.wasmMicroMs += wasm * key.count;
    row.nativeMicroMs += native * key.count;
    row.covered += key.count;
  }
  rows.set(key.op, row);
}

const fmt = (ms: number) => ms.toFixed(2).padStart(8);
const profileTotal = [...rows.values()].reduce((s, r) => s + r.nativeProfileMs, 0);
console.log(
  `${values.component} of ${path.relative(process.cwd(), modelDir) || modelDir} at ${values.size}² (batch 2; ${summary.nodes.length} nodes before optimisation), one thread each`,
);
console.log(
  `whole graph, median of ${RUNS}: onnxruntime-web WASM ${wholeWasm.toFixed(1)} ms, onnxruntime-node ${wholeNative.toFixed(1)} ms, ratio ${(wholeWasm / wholeNative).toFixed(2)}`,
);
console.log(
  `empty-graph run (subtracted from each one-node time): WASM ${overhead.wasm.toFixed(3)} ms, native ${overhead.native.toFixed(3)} ms`,
);
console.log('op type | nodes/run | native profile ms | native one-node ms | WASM one-node ms | WASM/native | share of WASM');
const sorted = [...rows.entries()].sort((a, b) => b[1].wasmMicroMs - a[1].wasmMicroMs || b[1].nativeProfileMs - a[1].nativeProfileMs);
const wasmMicroTotal = sorted.reduce((s, [, r]) => s + r.wasmMicroMs, 0);
for (const [op, r] of sorted) {
  const measured = r.covered > 0;
  console.log(
    [
      op.padEnd(28),
      r.nodes.toFixed(0).padStart(4),
      fmt(r.nativeProfileMs),
      measured ? fmt(r.nativeMicroMs) : '       —',
      measured ? fmt(r.wasmMicroMs) : '       —',
      measured && r.nativeMicroMs > 0 ? (r.wasmMicroMs / r.nativeMicroMs).toFixed(2).padStart(6) : '     —',
      measured ? `${((100 * r.wasmMicroMs) / wholeWasm).toFixed(1)} %` : '',
    ].join(' | '),
  );
}
console.log(
  `sums: native profile ${profileTotal.toFixed(1)} ms of ${wholeNative.toFixed(1)} ms whole; one-node graphs WASM ${wasmMicroTotal.toFixed(1)} ms of ${wholeWasm.toFixed(1)} ms whole`,
);
