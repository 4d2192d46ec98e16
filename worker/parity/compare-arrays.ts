/**
 * The comparisons parity checks make against reference arrays. NaN anywhere or a length mismatch
 * gives Infinity, so a broken output always fails and never passes.
 */

export function concat(first: Float32Array, second: Float32Array): Float32Array {
  const out = new Float32Array(first.length + second.length);
  out.set(first, 0);
  out.set(second, first.length);
  return out;
}

/** Max |a − b|. */
export function maxAbs(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return Infinity;
  let max = 0;
  for (let k = 0; k < actual.length; k++) {
    const d = Math.abs(actual[k] - expected[k]);
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

/** ‖a − b‖₂ / ‖b‖₂. */
export function relativeL2(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let k = 0; k < actual.length; k++) {
    const d = actual[k] - expected[k];
    num += d * d;
    den += expected[k] * expected[k];
  }
  return Math.sqrt(num / den);
}

/** Max |a − b| / |b| (|a| where b is 0). */
export function maxRelative(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) return Infinity;
  let max = 0;
  for (let k = 0; k < actual.length; k++) {
    const scale = Math.max(Math.abs(expected[k]), 1e-12);
    const d = expected[k] === 0 ? Math.abs(actual[k]) : Math.abs(actual[k] - expected[k]) / scale;
    if (!(d <= max)) max = Number.isNaN(d) ? Infinity : d;
  }
  return max;
}

/** Our RGBA vs diffusers' NHWC RGB uint8: the largest level difference and the share of equal pixels. */
export function compareU8(rgba: Uint8Array, rgb: Uint8Array): { maxDiff: number; equalFraction: number } {
  const pixels = rgb.length / 3;
  if (rgba.length !== pixels * 4) return { maxDiff: Infinity, equalFraction: 0 };
  let maxDiff = 0;
  let equal = 0;
  for (let p = 0; p < pixels; p++) {
    let pixelMax = 0;
    for (let c = 0; c < 3; c++) pixelMax = Math.max(pixelMax, Math.abs(rgba[p * 4 + c] - rgb[p * 3 + c]));
    maxDiff = Math.max(maxDiff, pixelMax);
    if (pixelMax === 0) equal += 1;
  }
  return { maxDiff, equalFraction: equal / pixels };
}
