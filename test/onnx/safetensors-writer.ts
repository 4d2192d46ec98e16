/** Writes safetensors bytes for tests (the format: 8-byte header length, JSON header, data). */
export interface TestTensor {
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** Raw little-endian bytes. */
  data: Uint8Array;
}

export function writeSafetensors(tensors: Record<string, TestTensor>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces to 8 bytes, as the reference writer does.
  while ((json.length + 8) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.byteLength;
  for (const t of Object.values(tensors)) {
    out.set(t.data, position);
    position += t.data.byteLength;
  }
  return out;
}

export function f32(values: ArrayLike<number>, shape: number[]): TestTensor {
  return { dtype: 'F32', shape, data: new Uint8Array(Float32Array.from(values).buffer) };
}

/** Deterministic values in [-scale, scale] (no Math.random). */
export function pattern(count: number, scale: number, phase = 0): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.fround(scale * Math.sin(0.7 * i + phase) * Math.cos(0.13 * i));
  return out;
}
