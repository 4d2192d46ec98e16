/**
 * ONNX tensor element types (onnx.proto TensorProto.DataType) and the safetensors dtypes that map
 * onto them, with the conversions a checkpoint needs on its way into a graph: half and bfloat16
 * to float32, float32 (or bfloat16) to half with round-to-nearest-even.
 */

export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export function dataTypeName(type: DataType): string {
  return (Object.entries(DataType).find(([, value]) => value === type)?.[0] ?? `type ${type}`).toLowerCase();
}

export function bytesPerElement(type: DataType): number {
  switch (type) {
    case DataType.UINT8:
    case DataType.INT8:
    case DataType.BOOL:
      return 1;
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
      return 2;
    case DataType.FLOAT:
    case DataType.INT32:
      return 4;
    case DataType.INT64:
    case DataType.DOUBLE:
      return 8;
  }
}

/** safetensors header dtypes Flowfill reads, and their ONNX element type. */
export const SAFETENSORS_DTYPES: Record<string, DataType> = {
  F32: DataType.FLOAT,
  F16: DataType.FLOAT16,
  BF16: DataType.BFLOAT16,
  F64: DataType.DOUBLE,
  I64: DataType.INT64,
  I32: DataType.INT32,
  I8: DataType.INT8,
  U8: DataType.UINT8,
  BOOL: DataType.BOOL,
};

const scratch = new DataView(new ArrayBuffer(4));

/** IEEE half (as its 16 bits) → float32 value. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** float32 value → IEEE half bits, round to nearest even; beyond ±65504 gives ±Infinity, as a cast does. */
export function floatToHalf(value: number): number {
  scratch.setFloat32(0, value);
  const x = scratch.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal half: shift the implicit bit in, then round to nearest even.
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let result = mantissa >>> shift;
    if (rest > half || (rest === half && (result & 1) === 1)) result += 1;
    return sign | result;
  }
  const rest = mantissa & 0x1fff;
  let result = (e << 10) | (mantissa >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (result & 1) === 1)) result += 1;
  // A carry out of the mantissa bumps the exponent, which is exactly the right answer (up to Infinity).
  return sign | result;
}

/** Decodes raw little-endian bytes of `type` into float32 values. */
export function toFloat32(bytes: Uint8Array, type: DataType): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type) {
    case DataType.FLOAT: {
      const out = new Float32Array(bytes.byteLength / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case DataType.FLOAT16: {
      const out = new Float32Array(bytes.byteLength / 2);
      const table = halfTable();
      for (let i = 0; i < out.length; i++) out[i] = table[view.getUint16(i * 2, true)];
      return out;
    }
    case DataType.BFLOAT16: {
      const out = new Float32Array(bytes.byteLength / 2);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < out.length; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case DataType.DOUBLE: {
      const out = new Float32Array(bytes.byteLength / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    }
    default:
      throw new RangeError(`cannot read ${dataTypeName(type)} weights as float32`);
  }
}

let halfLookup: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!halfLookup) {
    halfLookup = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) halfLookup[bits] = halfToFloat(bits);
  }
  return halfLookup;
}

/** float32 values → little-endian bytes of float32 or float16. */
export function fromFloat32(values: Float32Array, type: typeof DataType.FLOAT | typeof DataType.FLOAT16): Uint8Array {
  if (type === DataType.FLOAT) {
    const out = new Uint8Array(values.length * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    return out;
  }
  const out = new Uint8Array(values.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(i * 2, floatToHalf(values[i]), true);
  return out;
}
