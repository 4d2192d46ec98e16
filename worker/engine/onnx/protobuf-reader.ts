/**
 * The protobuf wire format, read side: varint keys, varints (with int64's negative values),
 * fixed 32/64-bit fields and length-delimited sub-messages, over bytes already in memory. Unknown
 * fields are skipped by the callers, so newer ONNX versions still parse. Field numbers live with
 * the readers of each message (../onnx-graph.ts, onnx-model-reader.ts).
 * Wire format: https://protobuf.dev/programming-guides/encoding/
 */

export const WIRE_VARINT = 0;
export const WIRE_64BIT = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_32BIT = 5;

export class ProtoReader {
  private pos: number;
  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  /** Where the next read starts, as an index into the bytes given to the constructor. */
  get offset(): number {
    return this.pos;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** An unsigned varint; exact up to 2^53, which ONNX lengths and dims stay far below. */
  varint(): number {
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

  /** An int64 varint read as two's complement (ONNX's axis = -1 is ten bytes on the wire). */
  int64(): number {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.bytes[this.pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) break;
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
    const signed = BigInt.asIntN(64, result);
    if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < BigInt(Number.MIN_SAFE_INTEGER)) {
      // INT64_MAX / INT64_MIN stand for "to the end" in Slice; beyond 2^53 they keep their sign.
      return signed > 0n ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
    }
    return Number(signed);
  }

  float32(): number {
    if (this.pos + 4 > this.end) throw new Error('truncated float');
    const value = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return value;
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

  /** The payload of a length-delimited field (a view, not a copy). */
  bytesField(): Uint8Array {
    const sub = this.message();
    return this.bytes.subarray(sub.pos, sub.end);
  }

  string(): string {
    return new TextDecoder().decode(this.bytesField());
  }

  /** Values of a repeated scalar field, packed (one length-delimited run) or not (one value here). */
  repeated(wire: number, read: (reader: ProtoReader) => number): number[] {
    if (wire !== WIRE_LENGTH_DELIMITED) return [read(this)];
    const packed = this.message();
    const values: number[] = [];
    while (!packed.done()) values.push(read(packed));
    return values;
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

/** A StringStringEntryProto (key = field 1, value = field 2), e.g. a tensor's external-data entry. */
export function readStringEntry(entry: ProtoReader): [string, string] {
  let key = '';
  let value = '';
  for (let k = entry.key(); k; k = entry.key()) {
    if (k.field === 1 && k.wire === WIRE_LENGTH_DELIMITED) key = entry.string();
    else if (k.field === 2 && k.wire === WIRE_LENGTH_DELIMITED) value = entry.string();
    else entry.skip(k.wire);
  }
  return [key, value];
}

/**
 * Walks an ONNX ModelProto: `onGraphField` gets each length-delimited field of its graph (field
 * number and message reader); returns the opset imports. Throws a plain Error when the bytes hold
 * no graph (callers name the file).
 */
export function walkModelProto(
  bytes: Uint8Array,
  onGraphField: (field: number, message: ProtoReader) => void,
): { domain: string; version: number }[] {
  const opsets: { domain: string; version: number }[] = [];
  const model = new ProtoReader(bytes);
  let sawGraph = false;
  for (let key = model.key(); key; key = model.key()) {
    if (key.field === 7 && key.wire === WIRE_LENGTH_DELIMITED) {
      sawGraph = true;
      const graph = model.message();
      for (let k = graph.key(); k; k = graph.key()) {
        if (k.wire === WIRE_LENGTH_DELIMITED) onGraphField(k.field, graph.message());
        else graph.skip(k.wire);
      }
    } else if (key.field === 8 && key.wire === WIRE_LENGTH_DELIMITED) {
      const opset = model.message();
      const entry = { domain: '', version: 0 };
      for (let k = opset.key(); k; k = opset.key()) {
        if (k.field === 1 && k.wire === WIRE_LENGTH_DELIMITED) entry.domain = opset.string();
        else if (k.field === 2 && k.wire === WIRE_VARINT) entry.version = opset.int64();
        else opset.skip(k.wire);
      }
      opsets.push(entry);
    } else model.skip(key.wire);
  }
  if (!sawGraph) throw new Error('no graph in the model (not an ONNX ModelProto?)');
  return opsets;
}
