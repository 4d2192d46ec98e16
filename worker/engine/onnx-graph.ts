/**
 * A minimal reader of the ONNX protobuf (onnx/onnx.proto3): just enough of ModelProto → GraphProto
 * to check a package before any session is created — graph inputs/outputs with their ranks, the
 * op types and domains of the nodes, and which external-data files the initializers point at.
 *
 * Why not a protobuf library: onnxruntime-web bundles protobufjs but exposes no parser, and the
 * handful of fields needed here is a short wire-format walk (varint keys, length-delimited
 * messages). Unknown fields are skipped, so newer ONNX versions still parse.
 */
import { ProtoReader, readStringEntry, walkModelProto, WIRE_LENGTH_DELIMITED, WIRE_VARINT } from './onnx/protobuf-reader.js';

/** One dimension: a fixed size or the name of a free dimension. */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
  name: string;
  /** ONNX TensorProto.DataType (1 = float32, 7 = int64, 10 = float16). */
  elemType: number;
  /** undefined when the graph gives no shape. */
  shape?: OnnxDim[];
}

export interface OnnxNodeSummary {
  opType: string;
  /** '' for the default ONNX domain, e.g. 'com.microsoft' for contrib ops. */
  domain: string;
  inputs: string[];
  outputs: string[];
}

export interface OnnxGraphSummary {
  opsets: { domain: string; version: number }[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  nodes: OnnxNodeSummary[];
  /** Distinct `location` values of initializers stored as external data. */
  externalDataFiles: string[];
}

function readDimension(reader: ProtoReader): OnnxDim {
  let dim: OnnxDim = '?';
  for (let key = reader.key(); key; key = reader.key()) {
    if (key.field === 1 && key.wire === WIRE_VARINT) dim = reader.varint();
    else if (key.field === 2 && key.wire === WIRE_LENGTH_DELIMITED) dim = reader.string();
    else reader.skip(key.wire);
  }
  return dim;
}

function readTensorType(reader: ProtoReader, info: OnnxValueInfo): void {
  for (let key = reader.key(); key; key = reader.key()) {
    if (key.field === 1 && key.wire === WIRE_VARINT) info.elemType = reader.varint();
    else if (key.field === 2 && key.wire === WIRE_LENGTH_DELIMITED) {
      const shape = reader.message();
      info.shape = [];
      for (let k = shape.key(); k; k = shape.key()) {
        if (k.field === 1 && k.wire === WIRE_LENGTH_DELIMITED) info.shape.push(readDimension(shape.message()));
        else shape.skip(k.wire);
      }
    } else reader.skip(key.wire);
  }
}

function readValueInfo(reader: ProtoReader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', elemType: 0 };
  for (let key = reader.key(); key; key = reader.key()) {
    if (key.field === 1 && key.wire === WIRE_LENGTH_DELIMITED) info.name = reader.string();
    else if (key.field === 2 && key.wire === WIRE_LENGTH_DELIMITED) {
      const type = reader.message();
      for (let k = type.key(); k; k = type.key()) {
        if (k.field === 1 && k.wire === WIRE_LENGTH_DELIMITED) readTensorType(type.message(), info);
        else type.skip(k.wire);
      }
    } else reader.skip(key.wire);
  }
  return info;
}

function readNode(reader: ProtoReader): OnnxNodeSummary {
  const node: OnnxNodeSummary = { opType: '', domain: '', inputs: [], outputs: [] };
  for (let key = reader.key(); key; key = reader.key()) {
    if (key.wire !== WIRE_LENGTH_DELIMITED) reader.skip(key.wire);
    else if (key.field === 1) node.inputs.push(reader.string());
    else if (key.field === 2) node.outputs.push(reader.string());
    else if (key.field === 4) node.opType = reader.string();
    else if (key.field === 7) node.domain = reader.string();
    else reader.skip(key.wire);
  }
  return node;
}

/** Returns the initializer's name and its external-data location, if it has one. */
function readInitializer(reader: ProtoReader): { name: string; location?: string } {
  let name = '';
  let location: string | undefined;
  for (let key = reader.key(); key; key = reader.key()) {
    if (key.field === 8 && key.wire === WIRE_LENGTH_DELIMITED) name = reader.string();
    else if (key.field === 13 && key.wire === WIRE_LENGTH_DELIMITED) {
      const [entryKey, entryValue] = readStringEntry(reader.message());
      if (entryKey === 'location') location = entryValue;
    } else reader.skip(key.wire);
  }
  return { name, location };
}

/**
 * Parses the parts of an ONNX model that the engine checks. Throws a plain Error with the
 * parser's complaint when the bytes are not a well-formed ModelProto; callers wrap it in an
 * EngineError that names the file.
 */
export function readOnnxGraphSummary(bytes: Uint8Array): OnnxGraphSummary {
  const summary: OnnxGraphSummary = { opsets: [], inputs: [], outputs: [], nodes: [], externalDataFiles: [] };
  const initializerNames = new Set<string>();
  const locations = new Set<string>();
  summary.opsets = walkModelProto(bytes, (field, message) => {
    if (field === 1) summary.nodes.push(readNode(message));
    else if (field === 5) {
      const init = readInitializer(message);
      initializerNames.add(init.name);
      if (init.location) locations.add(init.location);
    } else if (field === 11) summary.inputs.push(readValueInfo(message));
    else if (field === 12) summary.outputs.push(readValueInfo(message));
  });
  // IR < 4 lists initializers among the graph inputs; they are weights, not feeds.
  summary.inputs = summary.inputs.filter((input) => !initializerNames.has(input.name));
  summary.externalDataFiles = [...locations];
  return summary;
}
