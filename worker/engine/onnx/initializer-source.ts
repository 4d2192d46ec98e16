/**
 * Where an initializer's bytes come from. Weights are not read when a graph is built: a source
 * says how to produce the bytes, and they are produced once, in order, when the external-data
 * files are written (or handed to onnxruntime), so memory holds one tensor at a time.
 */
import type { SafetensorsTensor } from '../safetensors.js';
import { readFloat32Async } from '../safetensors.js';
import { EngineError } from '../engine-error.js';
import { bytesPerElement, DataType, fromFloat32 } from './data-types.js';

export type InitializerSource =
  /** Bytes in hand (small constants, computed tables). */
  | { kind: 'bytes'; dataType: DataType; dims: number[]; bytes: Uint8Array }
  /** A checkpoint tensor, converted to `dataType` and optionally transposed (2-D only: [out, in] → [in, out]). */
  | { kind: 'tensor'; tensor: SafetensorsTensor; dataType: DataType; dims: number[]; transpose?: boolean }
  /** Bytes derived from checkpoint tensors (quantised blocks, fused matrices), produced on demand. */
  | { kind: 'derived'; dataType: DataType; dims: number[]; byteLength: number; produce: () => Promise<Uint8Array> };

export function sourceByteLength(source: InitializerSource): number {
  switch (source.kind) {
    case 'bytes':
      return source.bytes.byteLength;
    case 'derived':
      return source.byteLength;
    case 'tensor':
      return source.dims.reduce((a, b) => a * b, 1) * bytesPerElement(source.dataType);
  }
}

/** True when the bytes are the checkpoint's own, unchanged (so they can be sliced, not copied). */
export function isVerbatim(source: InitializerSource): boolean {
  return source.kind === 'tensor' && !source.transpose && source.dataType === source.tensor.dataType;
}

export async function produceBytesAsync(source: InitializerSource): Promise<Uint8Array> {
  switch (source.kind) {
    case 'bytes':
      return source.bytes;
    case 'derived': {
      const bytes = await source.produce();
      if (bytes.byteLength !== source.byteLength) {
        throw new Error(`derived initializer produced ${bytes.byteLength} bytes; ${source.byteLength} were planned`);
      }
      return bytes;
    }
    case 'tensor': {
      if (isVerbatim(source)) return source.tensor.file.readAsync(source.tensor.offset, source.tensor.length);
      let values = await readFloat32Async(source.tensor);
      if (source.transpose) values = transpose2d(values, source.tensor.shape[0], source.tensor.shape[1]);
      if (source.dataType !== DataType.FLOAT && source.dataType !== DataType.FLOAT16) {
        throw new Error(`tensor ${source.tensor.name}: conversion to element type ${source.dataType} is not supported`);
      }
      if (source.dataType === DataType.FLOAT16) checkFitsHalf(source.tensor, values);
      return fromFloat32(values, source.dataType);
    }
  }
}

/** [rows, cols] → [cols, rows]. */
export function transpose2d(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[row + c];
  }
  return out;
}

/** Largest finite float16. */
const HALF_MAX = 65504;

/**
 * A weight beyond float16's range would become ±Infinity (bfloat16 checkpoints can hold such
 * values): refuse the conversion, naming the tensor, instead of building a model that outputs NaN.
 */
function checkFitsHalf(tensor: SafetensorsTensor, values: Float32Array): void {
  let count = 0;
  let largest = 0;
  for (const v of values) {
    const a = Math.abs(v);
    if (a > HALF_MAX && Number.isFinite(a)) {
      count++;
      largest = Math.max(largest, a);
    }
  }
  if (count > 0) {
    throw new EngineError(
      'model-mismatch',
      `${tensor.file.name}: tensor "${tensor.name}" has ${count} value(s) beyond float16's range (largest |v| = ${largest.toExponential(3)} > ${HALF_MAX}); fp16 cannot hold this checkpoint — use fp32, int8 or int4`,
    );
  }
}
