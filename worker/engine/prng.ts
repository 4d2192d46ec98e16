/**
 * Seeded Gaussian noise for generation — the same numbers on every backend, browser and host.
 *
 * Algorithm (this is the contract; changing any line changes every image made from a seed):
 *
 * 1. Bits: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11;
 *    the Random123 reference, whose known-answer vectors the tests check). It is counter based:
 *    block b of a stream is philox(counter = [b mod 2³², floor(b / 2³²), 0, 0], key = [seed, stream]),
 *    four uint32 words per block. The key's second word is the stream id, so each purpose
 *    (initial latent, VAE posterior sample, ...) gets an independent sequence for the same seed.
 * 2. Uniforms: a word x gives u = (x + 1) / 2³² in (0, 1] (so log(u) is finite), exact in float64.
 * 3. Gaussians: Box–Muller in float64 on the words of a block taken in pairs (w0, w1) and (w2, w3):
 *    r = sqrt(−2·ln u_a), z_0 = r·cos(2π·u_b), z_1 = r·sin(2π·u_b). Block b yields normals
 *    4b .. 4b+3 in the order (w0,w1)→cos, (w0,w1)→sin, (w2,w3)→cos, (w2,w3)→sin.
 * 4. Each float64 normal is rounded to float32 (Math.fround).
 *
 * Host independence: JavaScript numbers are IEEE-754 doubles without fused multiply-add, so
 * + − × ÷ and sqrt give the same bits everywhere; Math.log/sin/cos do not (the spec lets each
 * engine approximate them). ln, sin and cos are therefore computed here from + − × ÷ only, after
 * exact range reductions (2π·u_b is reduced by quadrant on the dyadic u_b, ln by the exponent of u_a),
 * with series accurate to about 1e-16 — far below the float32 rounding of step 4.
 * The largest |z| is sqrt(2·32·ln 2) ≈ 6.66 (u_a = 2⁻³²).
 */

import { checkLatentShape } from './latent-shape.js';

/** Independent noise streams: one per purpose, so adding a use never shifts another's numbers. */
export const NoiseStream = {
  /** The initial latent noise of text-to-image and the noise mixed in by image-to-image. */
  initialLatent: 0,
  /** Sampling of the VAE encoder posterior (mean + std·ε) for image-to-image. */
  vaePosterior: 1,
} as const;
export type NoiseStreamId = (typeof NoiseStream)[keyof typeof NoiseStream] | number;

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32 (low bits come from Math.imul). */
function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const hilo = aHi * bLo;
  const lohi = aLo * bHi;
  const hihi = aHi * bHi;
  const cross = (lolo >>> 16) + (hilo & 0xffff) + (lohi & 0xffff);
  return (hihi + (hilo >>> 16) + (lohi >>> 16) + (cross >>> 16)) >>> 0;
}

/**
 * Philox4x32-10 block function: counter [c0..c3], key [k0, k1] → four uint32 words, written to `out`.
 */
export function philox4x32(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  c0 >>>= 0;
  c1 >>>= 0;
  c2 >>>= 0;
  c3 >>>= 0;
  k0 >>>= 0;
  k1 >>>= 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

const TWO_POW_32 = 4294967296;
const LN2 = 0.6931471805599453;
const HALF_PI = 1.5707963267948966;
const SQRT_HALF = 0.7071067811865476;

/** ln(u) for u = k / 2³², k in [1, 2³²], from + − × ÷ only (see header). */
function lnUniform(u: number): number {
  // u = m · 2^e with m in [√½, √2): exact, since scaling by 2 is exact.
  let m = u;
  let e = 0;
  while (m < SQRT_HALF) {
    m *= 2;
    e -= 1;
  }
  // ln m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.1716: the series converges fast.
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let term = s;
  let sum = 0;
  for (let n = 1; n <= 29; n += 2) {
    sum += term / n;
    term *= s2;
  }
  return 2 * sum + e * LN2;
}

/** sin(a) and cos(a) for |a| ≤ π/4 by Taylor series (|error| < 1e-17 there). */
function sinSmall(a: number): number {
  const a2 = a * a;
  let term = a;
  let sum = a;
  for (let n = 1; n <= 11; n++) {
    term *= -a2 / (2 * n * (2 * n + 1));
    sum += term;
  }
  return sum;
}
function cosSmall(a: number): number {
  const a2 = a * a;
  let term = 1;
  let sum = 1;
  for (let n = 1; n <= 11; n++) {
    term *= -a2 / ((2 * n - 1) * (2 * n));
    sum += term;
  }
  return sum;
}

/** [cos(2π·u), sin(2π·u)] for u = k / 2³² in [0, 1), with exact quadrant reduction. */
function cosSinTurn(u: number): [number, number] {
  const t = u * 4; // exact: u has at most 32 significant bits
  const quadrant = Math.floor(t);
  const r = t - quadrant; // exact, in [0, 1): angle r·π/2 within the quadrant
  let c: number;
  let s: number;
  if (r <= 0.5) {
    const a = r * HALF_PI;
    c = cosSmall(a);
    s = sinSmall(a);
  } else {
    const a = (1 - r) * HALF_PI; // 1 − r exact; cos(π/2 − a) = sin(a)
    c = sinSmall(a);
    s = cosSmall(a);
  }
  switch (quadrant) {
    case 0:
      return [c, s];
    case 1:
      return [-s, c];
    case 2:
      return [-c, -s];
    default:
      return [s, -c];
  }
}

function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in [0, 4294967295] (uint32), got ${seed}`);
  }
}

function checkStream(stream: number): void {
  if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff) {
    throw new RangeError(`stream must be a uint32 id (see NoiseStream), got ${stream}`);
  }
}

/**
 * `count` standard normal float32 values for (seed, stream), starting at normal index `offset`
 * (a multiple of 4 gives block-aligned, cheap offsets; any offset is allowed).
 */
export function gaussianNoise(seed: number, count: number, stream: NoiseStreamId = NoiseStream.initialLatent, offset = 0): Float32Array {
  checkSeed(seed);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  checkStream(stream);
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`offset must be a non-negative integer, got ${offset}`);
  const out = new Float32Array(count);
  const words = new Uint32Array(4);
  const firstBlock = Math.floor(offset / 4);
  const lastBlock = Math.floor((offset + count - 1) / 4);
  for (let b = firstBlock; b <= lastBlock && count > 0; b++) {
    philox4x32(b % TWO_POW_32, Math.floor(b / TWO_POW_32), 0, 0, seed, stream, words);
    for (let pair = 0; pair < 2; pair++) {
      const r = Math.sqrt(-2 * lnUniform((words[2 * pair] + 1) / TWO_POW_32));
      const [c, s] = cosSinTurn(words[2 * pair + 1] / TWO_POW_32);
      const idx = b * 4 + pair * 2 - offset;
      if (idx >= 0 && idx < count) out[idx] = Math.fround(r * c);
      if (idx + 1 >= 0 && idx + 1 < count) out[idx + 1] = Math.fround(r * s);
    }
  }
  return out;
}

/** Uniform float64 values in (0, 1] for (seed, stream): word x → (x + 1) / 2³², block words in order. */
export function uniformNoise(seed: number, count: number, stream: NoiseStreamId): Float64Array {
  checkSeed(seed);
  checkStream(stream);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  const out = new Float64Array(count);
  const words = new Uint32Array(4);
  for (let b = 0; b * 4 < count; b++) {
    philox4x32(b % TWO_POW_32, Math.floor(b / TWO_POW_32), 0, 0, seed, stream, words);
    for (let k = 0; k < 4 && b * 4 + k < count; k++) out[b * 4 + k] = (words[k] + 1) / TWO_POW_32;
  }
  return out;
}

/** Initial latent noise for one image: [1, channels, height, width] NCHW, stream `initialLatent`. */
export function initialLatentNoise(seed: number, channels: number, height: number, width: number): Float32Array {
  checkLatentShape(channels, height, width);
  return gaussianNoise(seed, channels * height * width, NoiseStream.initialLatent);
}

/** Internals exposed for tests of the host-independent math. */
export const __test = { lnUniform, cosSinTurn, mulhi32 };
