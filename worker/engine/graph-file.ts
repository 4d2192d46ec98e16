/**
 * One ONNX graph of a model package, wherever its bytes came from (a file of the package, or a
 * graph built in memory), and the check of its inputs and outputs against what the package's
 * configs promise. Model families say what they expect; this module only compares.
 */
import { EngineError } from './engine-error.js';
import { readOnnxGraphSummary, type OnnxDim, type OnnxGraphSummary, type OnnxValueInfo } from './onnx-graph.js';

export interface GraphFile {
  /** Names the graph in messages: its package path ("transformer/model.onnx") or where it was built. */
  path: string;
  model: Uint8Array;
  /** External-data files keyed by the location the graph names (a Blob: read by onnxruntime when the session is made). */
  externalData: { path: string; data: Uint8Array | Blob }[];
  summary: OnnxGraphSummary;
}

/** The inputs, outputs, nodes and external-data locations of `model`; 'model-corrupt' naming `path` when unreadable. */
export function readGraphSummary(path: string, model: Uint8Array): OnnxGraphSummary {
  try {
    return readOnnxGraphSummary(model);
  } catch (error) {
    throw new EngineError('model-corrupt', `${path} is not a readable ONNX model: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A graph held in memory (e.g. built from safetensors weights): checks that every external-data
 * location the graph names is among `externalData`, so a missing weight file fails here, not in ORT.
 */
export function graphFromBytes(path: string, model: Uint8Array, externalData: GraphFile['externalData'] = []): GraphFile {
  const summary = readGraphSummary(path, model);
  const given = new Set(externalData.map((file) => file.path));
  const missing = summary.externalDataFiles.filter((location) => !given.has(location));
  if (missing.length > 0) {
    throw new EngineError(
      'model-missing-file',
      `${path} keeps weights in ${missing.join(', ')}, which ${missing.length === 1 ? 'was' : 'were'} not given`,
    );
  }
  return { path, model, externalData, summary };
}

/** What a family expects of one graph input or output. */
export interface ExpectedValue {
  name: string;
  rank: number;
  /** Dimension index → the size the configs require there. */
  fixed?: Record<number, number>;
  /** Names the config field behind each fixed size, for the message ("text_encoder/config.json hidden_size"). */
  fixedFrom?: Record<number, string>;
}

export function formatShape(shape: OnnxDim[] | undefined): string {
  return shape ? `[${shape.join(', ')}]` : '(no shape)';
}

function checkValues(path: string, role: 'input' | 'output', actual: OnnxValueInfo[], expected: ExpectedValue[]): void {
  for (const want of expected) {
    const got = actual.find((value) => value.name === want.name);
    if (!got) {
      const names = actual.map((value) => value.name).join(', ') || 'none';
      throw new EngineError('model-mismatch', `${path}: no ${role} named "${want.name}" (the graph's ${role}s are ${names})`);
    }
    if (got.elemType !== 1 && got.elemType !== 7) {
      throw new EngineError(
        'model-mismatch',
        `${path}: ${role} "${want.name}" has ONNX element type ${got.elemType}; the engine feeds float32 (1) or int64 (7)`,
      );
    }
    if (!got.shape) continue; // shape-less values are checked by ORT at run time
    if (got.shape.length !== want.rank) {
      throw new EngineError(
        'model-mismatch',
        `${path}: ${role} "${want.name}" has rank ${got.shape.length} ${formatShape(got.shape)}; expected rank ${want.rank}`,
      );
    }
    for (const [index, size] of Object.entries(want.fixed ?? {})) {
      const dim = got.shape[Number(index)];
      if (typeof dim === 'number' && dim !== size) {
        const source = want.fixedFrom?.[Number(index)] ?? 'the package configs';
        throw new EngineError(
          'model-mismatch',
          `${path}: ${role} "${want.name}" has size ${dim} in dimension ${index} ${formatShape(got.shape)}; ${source} says ${size}`,
        );
      }
    }
  }
}

/** Throws 'model-mismatch' naming the graph, the value and both numbers when the graph's I/O differ from `expected`. */
export function checkGraphIo(graph: GraphFile, expected: { inputs: ExpectedValue[]; outputs: ExpectedValue[] }): void {
  checkValues(graph.path, 'input', graph.summary.inputs, expected.inputs);
  checkValues(graph.path, 'output', graph.summary.outputs, expected.outputs);
}
