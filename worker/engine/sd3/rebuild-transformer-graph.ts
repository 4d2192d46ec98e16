/**
 * The graph half of ./rebuild-transformer.ts: a package's SD3 transformer graph rebuilt by the
 * engine's own builder (./graphs/sd3-transformer.ts) from the weights of the graph it ships
 * (./recover-transformer-weights.ts). Kept apart from the package writer so that the runtime
 * (./int8-matmul.ts) can rebuild graphs without importing package reading.
 */
import type { ByteSource } from '../byte-source.js';
import { EngineError } from '../engine-error.js';
import type { BuiltGraph } from '../onnx/graph-builder.js';
import type { AttentionForm, Int8MatMul, Precision } from '../onnx/layers.js';
import { readOnnxModel } from '../onnx/onnx-model-reader.js';
import { buildSd3TransformerGraph, readSd3TransformerConfig, type Sd3TransformerConfig } from './graphs/sd3-transformer.js';
import { recoverSd3TransformerWeightsAsync, type RecoveredTransformerWeights } from './recover-transformer-weights.js';

export const TRANSFORMER_GRAPH = 'transformer/model.onnx';
export const TRANSFORMER_CONFIG = 'transformer/config.json';

export interface RebuildOptions {
  /**
   * 'unfused' (default): attention as MatMul → Softmax → MatMul, right on every backend.
   * 'fused': com.microsoft MultiHeadAttention, which onnxruntime-web 1.30's WebGPU kernel gets
   * wrong on some adapters; the engine then runs such a package on WASM there
   * (worker/engine/fused-attention-check.ts).
   */
  attention?: AttentionForm;
  /** How Linears with int8 weights multiply (LayerContext.int8MatMul); default 'dequantized'. */
  int8MatMul?: Int8MatMul;
  /**
   * 'fp32' (default): the weights as the package stores them (float32, or int8 dequantised in the
   * graph), float32 compute. 'int8' / 'int4': the big Linears re-quantised into com.microsoft
   * MatMulNBits blocks (float32 activations; ../onnx/layers.ts) — fewer bytes, different weights.
   */
  precision?: Extract<Precision, 'fp32' | 'int8' | 'int4'>;
  /** Sd3TransformerBuildOptions.posEmbedForm; default 'factored' (the same values in 2/grid of the bytes). */
  posEmbedForm?: 'table' | 'factored';
}

export interface RebuiltTransformer {
  config: Sd3TransformerConfig;
  graph: BuiltGraph;
  recovered: RecoveredTransformerWeights;
  /** Node counts of the package's graph and of the rebuilt one. */
  nodes: { original: number; rebuilt: number };
  /** The external-data files the package's graph reads (relative to its folder), which the rebuilt graph replaces. */
  originalExternalFiles: string[];
}

/**
 * Recovers the weights of `model` (the package's transformer graph, `config` its config.json) and
 * builds the transformer graph from them. `openExternalAsync` opens external-data files named by
 * the graph (relative to its folder).
 */
export async function rebuildSd3TransformerAsync(
  model: Uint8Array,
  configJson: unknown,
  options: RebuildOptions & { path?: string; openExternalAsync?: (location: string) => Promise<ByteSource> } = {},
): Promise<RebuiltTransformer> {
  const path = options.path ?? TRANSFORMER_GRAPH;
  const config = readSd3TransformerConfig(configJson, TRANSFORMER_CONFIG);
  let contents;
  try {
    contents = readOnnxModel(model);
  } catch (error) {
    throw new EngineError('model-corrupt', `${path} is not a readable ONNX model: ${(error as Error).message}`, { cause: error });
  }
  const recovered = await recoverSd3TransformerWeightsAsync(contents, config, { path, openExternalAsync: options.openExternalAsync });
  const graph = buildSd3TransformerGraph(config, recovered.weights, options.precision ?? 'fp32', {
    attentionKernel: options.attention ?? 'unfused',
    int8MatMul: options.int8MatMul,
    posEmbedForm: options.posEmbedForm ?? 'factored',
  });
  const originalExternalFiles = [
    ...new Set(contents.initializers.flatMap((tensor) => ('location' in tensor.data ? [tensor.data.location] : []))),
  ];
  return { config, graph, recovered, nodes: { original: contents.nodes.length, rebuilt: graph.nodes.length }, originalExternalFiles };
}
