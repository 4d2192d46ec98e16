/**
 * Serialises an ONNX model (onnx/onnx.proto, field numbers cited per message) from a plain
 * description. Initializers either carry their bytes (`raw_data`) or point at an external-data file
 * (`location`/`offset`/`length`), which is how Flowfill keeps multi-gigabyte weights out of the
 * protobuf (protobuf messages are limited to 2 GB) and lets onnxruntime-web upload them straight
 * to the GPU.
 */
import type { DataType } from './data-types.js';
import { ProtobufWriter } from './protobuf-writer.js';

export type AttributeValue = number | string | number[] | { floats: number[] } | { float: number } | TensorValue;

/** An attribute tensor (e.g. ConstantOfShape's value). */
export interface TensorValue {
  tensor: { dataType: DataType; dims: number[]; raw: Uint8Array };
}

export interface OnnxNode {
  opType: string;
  domain?: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, AttributeValue>;
}

export interface OnnxValue {
  name: string;
  elemType: DataType;
  /** Fixed sizes, or names of free dimensions; undefined: unknown rank (debug outputs). */
  shape: (number | string)[] | undefined;
}

export interface OnnxInitializer {
  name: string;
  dataType: DataType;
  dims: number[];
  /** Inline bytes, or the external-data location of the bytes. */
  data: { raw: Uint8Array } | { location: string; offset: number; length: number };
}

export interface OnnxModel {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  graph: {
    name: string;
    nodes: OnnxNode[];
    inputs: OnnxValue[];
    outputs: OnnxValue[];
    initializers: OnnxInitializer[];
  };
  metadata?: Record<string, string>;
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_TENSOR = 4;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

function writeTensor(w: ProtobufWriter, name: string, dataType: DataType, dims: number[], data: OnnxInitializer['data']): void {
  // TensorProto: dims 1, data_type 2, name 8, raw_data 9, external_data 13, data_location 14
  for (const dim of dims) w.int(1, dim);
  w.int(2, dataType);
  if (name) w.string(8, name);
  if ('raw' in data) {
    w.bytes(9, data.raw);
    return;
  }
  const entries: [string, string][] = [
    ['location', data.location],
    ['offset', String(data.offset)],
    ['length', String(data.length)],
  ];
  for (const [key, value] of entries) w.message(13, (entry) => entry.string(1, key).string(2, value));
  w.int(14, 1); // EXTERNAL
}

function writeAttribute(w: ProtobufWriter, name: string, value: AttributeValue): void {
  // AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20
  w.string(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new RangeError(`attribute ${name}: ${value} is not an integer; pass { float: ${value} }`);
    w.int(3, value).int(20, ATTR_INT);
  } else if (typeof value === 'string') {
    w.string(4, value).int(20, ATTR_STRING);
  } else if (Array.isArray(value)) {
    for (const v of value) w.int(8, v);
    w.int(20, ATTR_INTS);
  } else if ('floats' in value) {
    for (const v of value.floats) w.float(7, v);
    w.int(20, ATTR_FLOATS);
  } else if ('float' in value) {
    w.float(2, value.float).int(20, ATTR_FLOAT);
  } else {
    const { dataType, dims, raw } = value.tensor;
    w.message(5, (t) => writeTensor(t, '', dataType, dims, { raw })).int(20, ATTR_TENSOR);
  }
}

function writeValueInfo(w: ProtobufWriter, value: OnnxValue): void {
  // ValueInfoProto: name 1, type 2 → TypeProto.tensor_type 1 → elem_type 1, shape 2 → dim 1 → dim_value 1 | dim_param 2
  w.string(1, value.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, value.elemType);
      const dims = value.shape;
      if (dims) {
        tensor.message(2, (shape) => {
          for (const dim of dims) shape.message(1, (d) => (typeof dim === 'number' ? d.int(1, dim) : d.string(2, dim)));
        });
      }
    }),
  );
}

export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  // ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8, metadata_props 14
  const w = new ProtobufWriter();
  w.int(1, model.irVersion);
  w.string(2, model.producer);
  w.message(7, (graph) => {
    // GraphProto: node 1, name 2, initializer 5, input 11, output 12
    for (const node of model.graph.nodes) {
      graph.message(1, (n) => {
        // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, domain 7
        for (const input of node.inputs) n.string(1, input);
        for (const output of node.outputs) n.string(2, output);
        n.string(3, node.name);
        n.string(4, node.opType);
        for (const [name, value] of Object.entries(node.attributes ?? {})) n.message(5, (a) => writeAttribute(a, name, value));
        if (node.domain) n.string(7, node.domain);
      });
    }
    graph.string(2, model.graph.name);
    for (const init of model.graph.initializers) graph.message(5, (t) => writeTensor(t, init.name, init.dataType, init.dims, init.data));
    for (const input of model.graph.inputs) graph.message(11, (v) => writeValueInfo(v, input));
    for (const output of model.graph.outputs) graph.message(12, (v) => writeValueInfo(v, output));
  });
  for (const opset of model.opsets) w.message(8, (o) => o.string(1, opset.domain).int(2, opset.version));
  for (const [key, value] of Object.entries(model.metadata ?? {})) w.message(14, (entry) => entry.string(1, key).string(2, value));
  return w.finish();
}
