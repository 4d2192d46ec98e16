/**
 * The transformer graph a runtime runs, by how its int8 weights multiply (RuntimeOptions.int8MatMul).
 *
 * A package stores its big Linear weights as int8 with per-output-channel scales, dequantised in the
 * graph by Cast → Mul, which onnxruntime folds into float32 weights when the session is created:
 * exact and right on every backend, but the products then run as float32 MatMuls. On WASM,
 * onnxruntime's com.microsoft DynamicQuantizeMatMul multiplies the int8 weights directly, quantising
 * each call's activations to uint8 (one scale per call): up to 2–3x the float32 MatMul for the larger
 * Linears, slower for 160 → 160 timed alone (npm run bench:int8-matmul); yet keeping those exact
 * made the v2 candidate's whole step slower, so every int8 Linear takes it: the whole step took
 * 0.50–0.78x the time. The price is the activations' rounding. So 'auto' rebuilds the transformer
 * that way on WASM (./rebuild-transformer-graph.ts, the engine's own builder, from the weights of
 * the package's graph) and leaves it as shipped elsewhere: WebGPU has no kernel for it.
 */
import type { Backend } from '../../../common/engine-types.js';
import { blobSource, bytesSource } from '../byte-source.js';
import { EngineError } from '../engine-error.js';
import { graphFromBytes, type GraphFile } from '../graph-file.js';
import type { Int8MatMul } from '../onnx/layers.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../onnx/serialize-graph.js';
import type { RuntimeOptions } from '../model-family.js';
import type { Sd3Package } from './package.js';
import { rebuildSd3TransformerAsync } from './rebuild-transformer-graph.js';

export interface PreparedTransformer {
  graph: GraphFile;
  /** How its int8 weights multiply; 'none' when the graph holds no int8 Linear weight. */
  int8MatMul: Int8MatMul | 'none';
  /** Milliseconds spent rebuilding the graph (0 when the package's graph is used as it is). */
  rebuildMs: number;
  /** Why the graph runs as shipped although 'dynamic-quantized' was asked for (it could not be rebuilt). */
  fallback?: string;
}

/** RuntimeOptions.int8MatMul for `backend`: 'auto' is 'dynamic-quantized' on WASM, 'dequantized' elsewhere. */
export function resolveInt8MatMul(choice: RuntimeOptions['int8MatMul'], backend: Backend): Int8MatMul {
  if (choice === 'dynamic-quantized' && backend !== 'wasm') {
    throw new EngineError(
      'invalid-request',
      `int8 MatMul 'dynamic-quantized' runs only on WASM (onnxruntime has no ${backend} kernel for DynamicQuantizeMatMul); use 'auto' or 'dequantized'`,
    );
  }
  if (choice === undefined || choice === 'auto') return backend === 'wasm' ? 'dynamic-quantized' : 'dequantized';
  return choice;
}

/**
 * True when the graph multiplies by weights it dequantises the way int8 packages store them
 * (model/flowfill/quantize.py, layers.ts): MatMul or Gemm (x, Mul(Cast(q), scale)) with q and scale
 * initializers (names no node produces and no graph input carries). Float packages (v1, SD3
 * checkpoints) have none, so they are never rebuilt.
 */
export function dequantisesStoredWeights(graph: GraphFile): boolean {
  const { nodes, inputs } = graph.summary;
  const computed = new Set([...nodes.flatMap((node) => node.outputs), ...inputs.map((input) => input.name)]);
  const castOfStored = new Set(
    nodes.filter((node) => node.opType === 'Cast' && !computed.has(node.inputs[0])).flatMap((node) => node.outputs),
  );
  const dequantised = new Set(
    nodes
      .filter((node) => node.opType === 'Mul' && node.inputs.some((i) => castOfStored.has(i)) && node.inputs.some((i) => !computed.has(i)))
      .flatMap((node) => node.outputs),
  );
  return nodes.some((node) => (node.opType === 'MatMul' || node.opType === 'Gemm') && dequantised.has(node.inputs[1]));
}

/** The package's transformer graph, or the same weights rebuilt to multiply by DynamicQuantizeMatMul. */
export async function prepareTransformerAsync(pkg: Sd3Package, mode: Int8MatMul): Promise<PreparedTransformer> {
  const shipped = pkg.transformer.graph;
  if (!dequantisesStoredWeights(shipped)) return { graph: shipped, int8MatMul: 'none', rebuildMs: 0 };
  if (mode === 'dequantized') return { graph: shipped, int8MatMul: 'dequantized', rebuildMs: 0 };
  const started = performance.now();
  const external = new Map(shipped.externalData.map((file) => [file.path, file.data]));
  let rebuilt;
  try {
    rebuilt = await rebuildSd3TransformerAsync(shipped.model, pkg.transformer.configJson, {
      int8MatMul: mode,
      path: shipped.path,
      openExternalAsync: async (location) => {
        const data = external.get(location);
        if (!data) throw new EngineError('model-missing-file', `${shipped.path} keeps weights in ${location}, which was not read`);
        return data instanceof Uint8Array ? bytesSource(location, data) : blobSource(location, data);
      },
    });
  } catch (error) {
    // The shipped graph is right as it is; only the faster form is lost, and the reason is kept.
    return { graph: shipped, int8MatMul: 'dequantized', rebuildMs: performance.now() - started, fallback: (error as Error).message };
  }
  if (rebuilt.recovered.int8.length === 0) return { graph: shipped, int8MatMul: 'none', rebuildMs: performance.now() - started };
  const serialized = await serializeGraphAsync(rebuilt.graph);
  const externalData = await Promise.all(
    serialized.externalFiles.map(async (file) => ({ path: file.path, data: await externalFileBytesAsync(file) })),
  );
  return {
    graph: graphFromBytes(`${shipped.path} (rebuilt: int8 MatMul ${mode})`, serialized.model, externalData),
    int8MatMul: mode,
    rebuildMs: performance.now() - started,
  };
}
