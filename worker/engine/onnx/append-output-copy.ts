/**
 * Appends to a serialised ONNX model a node that copies one of its values by computing it
 * (`Max(x, x)`, exact for every float, NaN included) and a new graph output holding the copy, without
 * parsing the rest of the model: the graph's fields are left as they are and the new node and output
 * are added at the end of its GraphProto (repeated protobuf fields may come in any order).
 *
 * Why: under graph capture onnxruntime's WebGPU EP replays only its kernels' dispatches. A graph
 * output that a view-like kernel (Reshape, Squeeze…) produces reaches the caller's buffer through
 * a plain buffer copy, which is not replayed, so the caller's buffer would keep the capture run's
 * values. A computed copy writes the caller's buffer from a dispatch.
 */
import { concatBytes } from '../concat-bytes.js';
import { ProtoReader, WIRE_LENGTH_DELIMITED } from './protobuf-reader.js';
import { ProtobufWriter } from './protobuf-writer.js';

// ModelProto.graph, GraphProto.node / .output, NodeProto.input / .output / .name / .op_type,
// ValueInfoProto.name / .type, TypeProto.tensor_type, TypeProto.Tensor.elem_type.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const FLOAT = 1;

export function appendOutputCopy(model: Uint8Array, from: string, to: string, options: { replace?: boolean } = {}): Uint8Array {
  const reader = new ProtoReader(model);
  let graph: { fieldStart: number; start: number; end: number } | undefined;
  for (;;) {
    const fieldStart = reader.offset;
    const key = reader.key();
    if (!key) break;
    if (key.field === MODEL_GRAPH && key.wire === WIRE_LENGTH_DELIMITED) {
      const start = reader.message().offset;
      graph = { fieldStart, start, end: reader.offset };
    } else {
      reader.skip(key.wire);
    }
  }
  if (!graph) throw new Error('not an ONNX model: no graph');
  const added = new ProtobufWriter()
    .message(GRAPH_NODE, (node) => node.string(1, from).string(1, from).string(2, to).string(3, `${to}_copy`).string(4, 'Max'))
    .message(GRAPH_OUTPUT, (value) => value.string(1, to).message(2, (type) => type.message(1, (tensor) => tensor.int(1, FLOAT))))
    .finish();
  const kept = options.replace ? withoutOutput(model.subarray(graph.start, graph.end), from) : model.subarray(graph.start, graph.end);
  const field = new ProtobufWriter().bytes(MODEL_GRAPH, concatBytes([kept, added])).finish();
  return concatBytes([model.subarray(0, graph.fieldStart), field, model.subarray(graph.end)]);
}

/** A GraphProto's bytes without its graph output `name` (every other field as it was). */
function withoutOutput(graph: Uint8Array, name: string): Uint8Array {
  const reader = new ProtoReader(graph);
  const parts: Uint8Array[] = [];
  let found = false;
  for (;;) {
    const fieldStart = reader.offset;
    const key = reader.key();
    if (!key) break;
    if (key.field === GRAPH_OUTPUT && key.wire === WIRE_LENGTH_DELIMITED) {
      const value = reader.message();
      if (valueInfoName(value) === name) {
        found = true;
        continue;
      }
    } else {
      reader.skip(key.wire);
    }
    parts.push(graph.subarray(fieldStart, reader.offset));
  }
  if (!found) throw new Error(`the graph has no output "${name}"`);
  return concatBytes(parts);
}

function valueInfoName(value: ProtoReader): string {
  for (let key = value.key(); key; key = value.key()) {
    if (key.field === 1 && key.wire === WIRE_LENGTH_DELIMITED) return value.string();
    value.skip(key.wire);
  }
  return '';
}
