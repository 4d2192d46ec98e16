/**
 * How far two RGBA8 images of one size are apart, over their RGB values (alpha is the same opaque
 * 255 in every image the engine writes): the mean and largest |a − b| in 8-bit levels, the share within
 * 2 levels (the backends' parity measure) and the PSNR. Used where two ways of drawing the same picture
 * are compared (npm run compare-packages, the int8 products' test, WebGPU against WASM).
 */
export interface ImageDifference {
  mean: number;
  max: number;
  /** Share of RGB values at most 2 levels apart, [0, 1]. */
  withinTwoLevels: number;
  /** dB; Infinity for identical images. */
  psnr: number;
}

export function imageDifference(a: Uint8Array, b: Uint8Array): ImageDifference {
  if (a.length !== b.length) throw new Error(`images of ${a.length} and ${b.length} bytes cannot be compared`);
  let sum = 0;
  let squares = 0;
  let max = 0;
  let within = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (i % 4 === 3) continue;
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    squares += d * d;
    max = Math.max(max, d);
    within += d <= 2 ? 1 : 0;
    n += 1;
  }
  const mse = squares / n;
  return { mean: sum / n, max, withinTwoLevels: within / n, psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse) };
}
