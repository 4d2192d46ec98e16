/**
 * A minimal reader of the ONNX protobuf (onnx/onnx.proto3): just enough of ModelProto → GraphProto
 * to check a package before any session is created — graph inputs/outputs with their ranks, the
 * op types and domains of the nodes, and which external-data files the initializers point at.
 *
 * Why not a protobuf library: onnxruntime-web bundles protobufjs but exposes no parser, and the
 * handful of fields needed here is a short wire-format walk (varint keys, length-delimited
 * messages). Unknown fields are skipped, so newer ONNX versions still parse.
 */

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

const WIRE_VARINT = 0;
const WIRE_64BIT = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_32BIT = 5;

class ProtoReader {
  private pos: number;
  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    // Numbers up to 2^53 are exact; ONNX lengths and dims stay far below that.
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.bytes[this.pos++];
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
      if (scale > 2 ** 63) throw new Error('varint too long');
    }
  }

  /** Next field key, or undefined at the end of this message. */
  key(): { field: number; wire: number } | undefined {
    if (this.done()) return undefined;
    const key = this.varint();
    return { field: Math.floor(key / 8), wire: key & 7 };
  }

  /** Sub-reader over a length-delimited field. */
  message(): ProtoReader {
    const length = this.varint();
    const start = this.pos;
    if (start + length > this.end) throw new Error('length-delimited field runs past its message');
    this.pos += length;
    return new ProtoReader(this.bytes, start, start + length);
  }

  string(): string {
    const sub = this.message();
    return new TextDecoder().decode(this.bytes.subarray(sub.pos, sub.end));
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_64BIT) this.pos += 8;
    else if (wire === WIRE_LENGTH_DELIMITED) this.message();
    else if (wire === WIRE_32BIT) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new Error('field runs past its message');
  }
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
      const entry = reader.message();
      let entryKey = '';
      let entryValue = '';
      for (let k = entry.key(); k; k = entry.key()) {
        if (k.field === 1 && k.wire === WIRE_LENGTH_DELIMITED) entryKey = entry.string();
        else if (k.field === 2 && k.wire === WIRE_LENGTH_DELIMITED) entryValue = entry.string();
        else entry.skip(k.wire);
      }
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
  const model = new ProtoReader(bytes);
  let sawGraph = false;
  const initializerNames = new Set<string>();
  const locations = new Set<string>();
  for (let key = model.key(); key; key = model.key()) {
    if (key.field === 7 && key.wire === WIRE_LENGTH_DELIMITED) {
      sawGraph = true;
      const graph = model.message();
      for (let k = graph.key(); k; k = graph.key()) {
        if (k.wire !== WIRE_LENGTH_DELIMITED) graph.skip(k.wire);
        else if (k.field === 1) summary.nodes.push(readNode(graph.message()));
        else if (k.field === 5) {
          const init = readInitializer(graph.message());
          initializerNames.add(init.name);
          if (init.location) locations.add(init.location);
        } else if (k.field === 11) summary.inputs.push(readValueInfo(graph.message()));
        else if (k.field === 12) summary.outputs.push(readValueInfo(graph.message()));
        else graph.skip(k.wire);
      }
    } else if (key.field === 8 && key.wire === WIRE_LENGTH_DELIMITED) {
      const opset = model.message();
      const entry = { domain: '', version: 0 };
      for (let k = opset.key(); k; k = opset.key()) {
        if (k.field === 1 && k.wire === WIRE_LENGTH_DELIMITED) entry.domain = opset.string();
        else if (k.field === 2 && k.wire === WIRE_VARINT) entry.version = opset.varint();
        else opset.skip(k.wire);
      }
      summary.opsets.push(entry);
    } else model.skip(key.wire);
  }
  if (!sawGraph) throw new Error('no graph in the model (not an ONNX ModelProto?)');
  // IR < 4 lists initializers among the graph inputs; they are weights, not feeds.
  summary.inputs = summary.inputs.filter((input) => !initializerNames.has(input.name));
  summary.externalDataFiles = [...locations];
  return summary;
}
