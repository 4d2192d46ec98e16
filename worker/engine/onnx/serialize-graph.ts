/**
 * Turns a BuiltGraph into what onnxruntime loads: the model protobuf plus external-data files.
 * Initializers at or above `externalThresholdBytes` go to external files (each under
 * `maxFileBytes`, offsets aligned): onnxruntime-web uploads external initializers straight into
 * GPU buffers, outside the 4 GB wasm heap, and neither a protobuf message nor an ArrayBuffer can
 * exceed 2 GB, so a model of any size loads if each file stays under that.
 *
 * The external files are plans: ordered parts with a source each. `externalFileAsBlob` makes a
 * Blob from them (a checkpoint tensor used verbatim is a zero-copy slice of the picked file);
 * `writeExternalFileAsync` streams them to a sink (a package on disk or in OPFS).
 */
import type { BuiltGraph } from './graph-builder.js';
import { isVerbatim, produceBytesAsync, sourceByteLength, type InitializerSource } from './initializer-source.js';
import { encodeOnnxModel, type OnnxInitializer } from './onnx-model-writer.js';

export interface ExternalFilePart {
  initializer: string;
  offset: number;
  length: number;
  source: InitializerSource;
}

export interface ExternalFilePlan {
  /** File name next to the graph, as the graph's `location` fields name it. */
  path: string;
  byteLength: number;
  parts: ExternalFilePart[];
}

export interface SerializedGraph {
  model: Uint8Array;
  externalFiles: ExternalFilePlan[];
  /** Total bytes of all initializers (inline and external). */
  weightBytes: number;
}

export interface SerializeOptions {
  /** Base name of the external-data files: "model.onnx_data", then "model.onnx_data_1", … */
  externalFileName?: string;
  /** Just under 2 GB by default. */
  maxFileBytes?: number;
  /** Initializers smaller than this stay inside the protobuf. */
  externalThresholdBytes?: number;
  /** Metadata written into the model (e.g. the precision and the source checkpoint). */
  metadata?: Record<string, string>;
}

export const DEFAULT_MAX_EXTERNAL_FILE_BYTES = 2_000_000_000;
const ALIGNMENT = 64;

export async function serializeGraphAsync(graph: BuiltGraph, options: SerializeOptions = {}): Promise<SerializedGraph> {
  const baseName = options.externalFileName ?? 'model.onnx_data';
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_EXTERNAL_FILE_BYTES;
  const threshold = options.externalThresholdBytes ?? 1024;
  const externalFiles: ExternalFilePlan[] = [];
  const initializers: OnnxInitializer[] = [];
  let weightBytes = 0;
  let current: ExternalFilePlan | undefined;

  for (const { name, source } of graph.initializers) {
    const length = sourceByteLength(source);
    weightBytes += length;
    if (length < threshold) {
      initializers.push({ name, dataType: source.dataType, dims: source.dims, data: { raw: await produceBytesAsync(source) } });
      continue;
    }
    if (length > maxFileBytes) {
      throw new RangeError(`initializer ${name} has ${length} bytes, more than one external-data file may hold (${maxFileBytes})`);
    }
    let offset = current ? alignUp(current.byteLength) : 0;
    if (!current || offset + length > maxFileBytes) {
      current = { path: externalFiles.length === 0 ? baseName : `${baseName}_${externalFiles.length}`, byteLength: 0, parts: [] };
      externalFiles.push(current);
      offset = 0;
    }
    current.parts.push({ initializer: name, offset, length, source });
    current.byteLength = offset + length;
    initializers.push({ name, dataType: source.dataType, dims: source.dims, data: { location: current.path, offset, length } });
  }

  const model = encodeOnnxModel({
    irVersion: 8,
    opsets: graph.opsets,
    producer: 'flowfill',
    graph: { name: graph.name, nodes: graph.nodes, inputs: graph.inputs, outputs: graph.outputs, initializers },
    metadata: options.metadata,
  });
  return { model, externalFiles, weightBytes };
}

function alignUp(offset: number): number {
  return Math.ceil(offset / ALIGNMENT) * ALIGNMENT;
}

/** Streams one external file's bytes, in order, gaps zero-filled. */
export async function writeExternalFileAsync(plan: ExternalFilePlan, write: (chunk: Uint8Array) => Promise<void>): Promise<void> {
  let position = 0;
  for (const part of plan.parts) {
    if (part.offset > position) await write(new Uint8Array(part.offset - position));
    await write(await produceBytesAsync(part.source));
    position = part.offset + part.length;
  }
}

/** One external file in memory (for loading a converted model without writing it anywhere). */
export async function externalFileBytesAsync(plan: ExternalFilePlan): Promise<Uint8Array> {
  const out = new Uint8Array(plan.byteLength);
  for (const part of plan.parts) out.set(await produceBytesAsync(part.source), part.offset);
  return out;
}

/**
 * One external file as a Blob: verbatim checkpoint tensors are slices of their file (no copy
 * where the platform backs Blobs by files), converted ones are produced now.
 */
export async function externalFileAsBlobAsync(plan: ExternalFilePlan): Promise<Blob> {
  const parts: (Blob | Uint8Array<ArrayBuffer>)[] = [];
  let position = 0;
  for (const part of plan.parts) {
    if (part.offset > position) parts.push(new Uint8Array(part.offset - position));
    const { source } = part;
    const slice = source.kind === 'tensor' && isVerbatim(source) ? source.tensor.file.sliceBlob : undefined;
    if (slice && source.kind === 'tensor') parts.push(slice.call(source.tensor.file, source.tensor.offset, source.tensor.length));
    else parts.push((await produceBytesAsync(source)) as Uint8Array<ArrayBuffer>);
    position = part.offset + part.length;
  }
  return new Blob(parts);
}
