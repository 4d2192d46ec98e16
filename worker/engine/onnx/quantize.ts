/**
 * Weight-only block quantisation in the layout of onnxruntime's com.microsoft MatMulNBits
 * (https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#commicrosoftmatmulnbits):
 * B is [N, n_blocks, blob] uint8, one block = `blockSize` consecutive input features of one output
 * row; 4-bit values are packed two per byte, low nibble first. Symmetric: no zero-point input, so
 * the operator's default zero point (8 for 4 bits, 128 for 8 bits) applies and
 * w ≈ (q − zero) · scale with scale = max|w| / (2^(bits−1) − 1) per block.
 */

export interface QuantizedWeight {
  /** [N, nBlocks, blockSize·bits/8] */
  packed: Uint8Array;
  /** [N · nBlocks] */
  scales: Float32Array;
  nBlocks: number;
}

/** `weight` is PyTorch's Linear layout [N (out), K (in)], row-major. K need not divide by blockSize (the tail is zero-padded). */
export function quantizeBlockwise(weight: Float32Array, n: number, k: number, bits: 4 | 8, blockSize: number): QuantizedWeight {
  if (weight.length !== n * k) throw new RangeError(`quantizeBlockwise: ${weight.length} values for [${n}, ${k}]`);
  if (!Number.isInteger(Math.log2(blockSize)) || blockSize < 16)
    throw new RangeError(`block size ${blockSize} must be a power of two ≥ 16`);
  const nBlocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  const packed = new Uint8Array(n * nBlocks * blob);
  const scales = new Float32Array(n * nBlocks);
  const zero = 1 << (bits - 1);
  const qmax = zero - 1;
  for (let row = 0; row < n; row++) {
    for (let block = 0; block < nBlocks; block++) {
      const start = row * k + block * blockSize;
      const end = row * k + Math.min((block + 1) * blockSize, k);
      let amax = 0;
      for (let i = start; i < end; i++) amax = Math.max(amax, Math.abs(weight[i]));
      const scale = amax / qmax;
      scales[row * nBlocks + block] = scale;
      const inverse = scale === 0 ? 0 : 1 / scale;
      const out = (row * nBlocks + block) * blob;
      for (let j = 0; j < blockSize; j++) {
        const i = start + j;
        const q = i < end ? Math.max(-zero, Math.min(qmax, Math.round(weight[i] * inverse))) + zero : zero;
        if (bits === 8) packed[out + j] = q;
        else packed[out + (j >> 1)] |= j & 1 ? q << 4 : q;
      }
    }
  }
  return { packed, scales, nBlocks };
}

/** The float weight MatMulNBits will compute with, [N, K] (tests and error reports). */
export function dequantizeBlockwise(q: QuantizedWeight, n: number, k: number, bits: 4 | 8, blockSize: number): Float32Array {
  const out = new Float32Array(n * k);
  const blob = (blockSize * bits) / 8;
  const zero = 1 << (bits - 1);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) {
      const block = Math.floor(col / blockSize);
      const j = col % blockSize;
      const base = (row * q.nBlocks + block) * blob;
      const byte = bits === 8 ? q.packed[base + j] : q.packed[base + (j >> 1)];
      const value = bits === 8 ? byte : j & 1 ? byte >> 4 : byte & 15;
      out[row * k + col] = (value - zero) * q.scales[row * q.nBlocks + block];
    }
  }
  return out;
}
