/**
 * Reads a whole ONNX model (onnx/onnx.proto3) into plain objects: every node with its name and
 * attributes, and every initializer with its element type, dims and where its bytes are (inline,
 * or an external-data file's location/offset/length). ../onnx-graph.ts reads only what a package
 * check needs; this reader is for tools that take a graph apart (e.g. recovering a checkpoint's
 * weights from an exported graph).
 *
 * Field numbers (onnx.proto3): ModelProto graph 7, opset_import 8; GraphProto node 1,
 * initializer 5; NodeProto input 1, output 2, name 3, op_type 4, attribute 5, domain 7;
 * AttributeProto name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20; TensorProto dims 1,
 * data_type 2, float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9, double_data 10,
 * external_data 13.
 */
import { bytesPerElement, DataType } from './data-types.js';
import { ProtoReader, readStringEntry, walkModelProto, WIRE_LENGTH_DELIMITED } from './protobuf-reader.js';

export interface OnnxTensor {
  name: string;
  dataType: DataType;
  dims: number[];
  /** Little-endian element bytes in hand, or where an external-data file holds them. */
  data: { raw: Uint8Array } | { location: string; offset: number; length: number };
}

export interface OnnxAttribute {
  f?: number;
  i?: number;
  s?: string;
  t?: OnnxTensor;
  floats?: number[];
  ints?: number[];
}

export interface OnnxGraphNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttribute>;
}

export interface OnnxModelContents {
  nodes: OnnxGraphNode[];
  initializers: OnnxTensor[];
  opsets: { domain: string; version: number }[];
}

function littleEndian(values: number[], type: DataType, write: (view: DataView, offset: number, value: number) => void): Uint8Array {
  const size = bytesPerElement(type);
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((value, i) => write(view, i * size, value));
  return out;
}

function readTensor(reader: ProtoReader): OnnxTensor {
  const tensor: OnnxTensor = { name: '', dataType: DataType.FLOAT, dims: [], data: { raw: new Uint8Array(0) } };
  const floats: number[] = [];
  const ints: number[] = [];
  const external: Record<string, string> = {};
  for (let key = reader.key(); key; key = reader.key()) {
    if (key.field === 1) tensor.dims.push(...reader.repeated(key.wire, (r) => r.int64()));
    else if (key.field === 2) tensor.dataType = reader.varint() as DataType;
    else if (key.field === 4) floats.push(...reader.repeated(key.wire, (r) => r.float32()));
    else if (key.field === 5 || key.field === 7) ints.push(...reader.repeated(key.wire, (r) => r.int64()));
    else if (key.field === 8 && key.wire === WIRE_LENGTH_DELIMITED) tensor.name = reader.string();
    else if (key.field === 9 && key.wire === WIRE_LENGTH_DELIMITED) tensor.data = { raw: reader.bytesField() };
    else if (key.field === 13 && key.wire === WIRE_LENGTH_DELIMITED) {
      const [entryKey, entryValue] = readStringEntry(reader.message());
      external[entryKey] = entryValue;
    } else reader.skip(key.wire);
  }
  if (external.location !== undefined) {
    const count = tensor.dims.reduce((a, b) => a * b, 1);
    const offset = Number(external.offset ?? 0);
    const length = external.length !== undefined ? Number(external.length) : count * bytesPerElement(tensor.dataType);
    tensor.data = { location: external.location, offset, length };
  } else if (floats.length > 0) {
    tensor.data = { raw: littleEndian(floats, DataType.FLOAT, (v, o, x) => v.setFloat32(o, x, true)) };
  } else if (ints.length > 0) {
    // int32_data also carries int8/uint8/int16/float16 values, one per entry.
    const type = tensor.dataType;
    const write =
      type === DataType.INT64
        ? (v: DataView, o: number, x: number) => v.setBigInt64(o, BigInt(x), true)
        : type === DataType.INT32
          ? (v: DataView, o: number, x: number) => v.setInt32(o, x, true)
          : type === DataType.FLOAT16 || type === DataType.BFLOAT16
            ? (v: DataView, o: number, x: number) => v.setUint16(o, x, true)
            : (v: DataView, o: number, x: number) => v.setInt8(o, x);
    tensor.data = { raw: littleEndian(ints, type, write) };
  }
  return tensor;
}

function readAttribute(reader: ProtoReader): [string, OnnxAttribute] {
  let name = '';
  const attribute: OnnxAttribute = {};
  for (let key = reader.key(); key; key = reader.key()) {
    if (key.field === 1 && key.wire === WIRE_LENGTH_DELIMITED) name = reader.string();
    else if (key.field === 2) attribute.f = reader.float32();
    else if (key.field === 3) attribute.i = reader.int64();
    else if (key.field === 4 && key.wire === WIRE_LENGTH_DELIMITED) attribute.s = reader.string();
    else if (key.field === 5 && key.wire === WIRE_LENGTH_DELIMITED) attribute.t = readTensor(reader.message());
    else if (key.field === 7) (attribute.floats ??= []).push(...reader.repeated(key.wire, (r) => r.float32()));
    else if (key.field === 8) (attribute.ints ??= []).push(...reader.repeated(key.wire, (r) => r.int64()));
    else reader.skip(key.wire);
  }
  return [name, attribute];
}

function readNode(reader: ProtoReader): OnnxGraphNode {
  const node: OnnxGraphNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: {} };
  for (let key = reader.key(); key; key = reader.key()) {
    if (key.wire !== WIRE_LENGTH_DELIMITED) reader.skip(key.wire);
    else if (key.field === 1) node.inputs.push(reader.string());
    else if (key.field === 2) node.outputs.push(reader.string());
    else if (key.field === 3) node.name = reader.string();
    else if (key.field === 4) node.opType = reader.string();
    else if (key.field === 5) {
      const [name, attribute] = readAttribute(reader.message());
      node.attributes[name] = attribute;
    } else if (key.field === 7) node.domain = reader.string();
    else reader.skip(key.wire);
  }
  return node;
}

/**
 * Parses a ModelProto's nodes, initializers and opsets. Throws a plain Error with the parser's
 * complaint when the bytes are not a well-formed ModelProto; callers name the file.
 */
export function readOnnxModel(bytes: Uint8Array): OnnxModelContents {
  const nodes: OnnxGraphNode[] = [];
  const initializers: OnnxTensor[] = [];
  const opsets = walkModelProto(bytes, (field, message) => {
    if (field === 1) nodes.push(readNode(message));
    else if (field === 5) initializers.push(readTensor(message));
  });
  return { nodes, initializers, opsets };
}
