/**
 * Pixel ↔ tensor conversions around the VAE, matching diffusers' `VaeImageProcessor` and the SD3
 * pipelines' latent (un)scaling. All float math is float32 with one rounding per torch/numpy op.
 *
 * Decode side: latents → `latents / scaling_factor + shift_factor` → VAE decoder → raw NCHW in ≈[−1, 1]
 *   → `(x·0.5 + 0.5).clamp(0, 1)` → `(·255).round()` (numpy: round half to even) → RGBA8, alpha 255.
 * Encode side (image-to-image): RGBA8 → `x/255` → `2x − 1` (alpha dropped like PIL `convert("RGB")`)
 *   → VAE encoder → posterior sample z → `(z − shift_factor) · scaling_factor`.
 * Resizing is the caller's job (diffusers resizes with PIL Lanczos, which this module does not
 * reproduce); `resizeRgbaBilinear` is provided for hosts that need a simple resampler.
 */

const f32 = Math.fround;

/** The `vae/config.json` keys used to move between model space and VAE space. */
export interface VaeLatentConfig {
  scaling_factor: number;
  shift_factor?: number | null;
}

function checkVaeConfig(cfg: VaeLatentConfig): { scale: number; shift: number } {
  if (typeof cfg.scaling_factor !== 'number' || !Number.isFinite(cfg.scaling_factor) || cfg.scaling_factor === 0) {
    throw new RangeError(`vae config.scaling_factor must be a non-zero number, got ${JSON.stringify(cfg.scaling_factor)}`);
  }
  const shift = cfg.shift_factor ?? 0;
  if (typeof shift !== 'number' || !Number.isFinite(shift)) {
    throw new RangeError(`vae config.shift_factor must be a number or null, got ${JSON.stringify(cfg.shift_factor)}`);
  }
  return { scale: f32(cfg.scaling_factor), shift: f32(shift) };
}

/** Model-space latents → VAE decoder input: `latents / scaling_factor + shift_factor`. */
export function latentsToVaeInput(latents: Float32Array, vae: VaeLatentConfig): Float32Array {
  const { scale, shift } = checkVaeConfig(vae);
  const out = new Float32Array(latents.length);
  for (let k = 0; k < latents.length; k++) out[k] = f32(f32(latents[k] / scale) + shift);
  return out;
}

/** VAE encoder sample → model-space latents: `(z − shift_factor) · scaling_factor`. */
export function vaeLatentsToModelSpace(z: Float32Array, vae: VaeLatentConfig): Float32Array {
  const { scale, shift } = checkVaeConfig(vae);
  const out = new Float32Array(z.length);
  for (let k = 0; k < z.length; k++) out[k] = f32(f32(z[k] - shift) * scale);
  return out;
}

function checkImageDims(data: Float32Array, channels: number, height: number, width: number, batchIndex: number): number {
  for (const [name, v] of [
    ['channels', channels],
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  if (channels !== 3 && channels !== 4) {
    throw new RangeError(`VAE output must have 3 (RGB) or 4 (RGBA) channels, got ${channels}`);
  }
  const plane = channels * height * width;
  if (data.length % plane !== 0 || !Number.isInteger(batchIndex) || batchIndex < 0 || (batchIndex + 1) * plane > data.length) {
    throw new RangeError(
      `VAE output has ${data.length} values; expected a multiple of ${channels}·${height}·${width} = ${plane} with batch row ${batchIndex} present`,
    );
  }
  return batchIndex * plane;
}

/** diffusers `denormalize`: `(x·0.5 + 0.5).clamp(0, 1)`, NCHW float32, for one batch row. */
export function denormalizeVaeOutput(data: Float32Array, channels: number, height: number, width: number, batchIndex = 0): Float32Array {
  const base = checkImageDims(data, channels, height, width, batchIndex);
  const n = channels * height * width;
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const v = f32(f32(data[base + k] * 0.5) + 0.5);
    out[k] = v < 0 ? 0 : v > 1 ? 1 : v; // NaN stays NaN like torch.clamp, then becomes 0 in uint8 below
  }
  return out;
}

/** numpy `round`: to nearest, ties to even. */
export function roundHalfToEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Raw VAE decoder output (NCHW, ≈[−1, 1], before ×0.5+0.5) → RGBA8 for one batch row, exactly as
 * diffusers' `postprocess(output_type="pil")`: clamp(x·0.5+0.5, 0, 1), then (·255).round() in float32.
 * A 4th channel, if any, is ignored; alpha is 255.
 */
export function vaeOutputToRgba(data: Float32Array, channels: number, height: number, width: number, batchIndex = 0): Uint8Array {
  const image = denormalizeVaeOutput(data, channels, height, width, batchIndex);
  const plane = height * width;
  const rgba = new Uint8Array(plane * 4);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const v = roundHalfToEven(f32(image[c * plane + p] * 255));
      rgba[p * 4 + c] = Number.isNaN(v) ? 0 : v;
    }
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}

/**
 * RGBA8 (row-major) → VAE encoder input [1, 3, height, width] in [−1, 1]:
 * `2·(v/255) − 1` in float32, as diffusers `pil_to_numpy` + `normalize`. Alpha is dropped
 * (PIL `convert("RGB")` semantics); composite over a background first if that matters.
 */
export function rgbaToVaeInput(rgba: Uint8Array, width: number, height: number): Float32Array {
  if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0) {
    throw new RangeError(`image size must be positive integers, got ${width}×${height}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new RangeError(
      `rgbaToVaeInput: ${rgba.length} bytes for ${width}×${height}; expected width·height·4 = ${width * height * 4} (resize the init image to the generation size first)`,
    );
  }
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = f32(f32(2 * f32(rgba[p * 4 + c] / 255)) - 1);
  }
  return out;
}

/**
 * Bilinear resize of RGBA8 (pixel centres at half-integers, edges clamped, like
 * `align_corners=False`). No antialiasing: for large downscales prefer the host's resampler.
 */
export function resizeRgbaBilinear(src: Uint8Array, srcWidth: number, srcHeight: number, dstWidth: number, dstHeight: number): Uint8Array {
  for (const [name, v] of [
    ['srcWidth', srcWidth],
    ['srcHeight', srcHeight],
    ['dstWidth', dstWidth],
    ['dstHeight', dstHeight],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  if (src.length !== srcWidth * srcHeight * 4) {
    throw new RangeError(`resizeRgbaBilinear: ${src.length} bytes; expected ${srcWidth}·${srcHeight}·4 = ${srcWidth * srcHeight * 4}`);
  }
  if (srcWidth === dstWidth && srcHeight === dstHeight) return src.slice();
  const dst = new Uint8Array(dstWidth * dstHeight * 4);
  const sx = srcWidth / dstWidth;
  const sy = srcHeight / dstHeight;
  for (let y = 0; y < dstHeight; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), srcHeight - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, srcHeight - 1);
    const wy = fy - y0;
    for (let x = 0; x < dstWidth; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), srcWidth - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, srcWidth - 1);
      const wx = fx - x0;
      const i00 = (y0 * srcWidth + x0) * 4;
      const i01 = (y0 * srcWidth + x1) * 4;
      const i10 = (y1 * srcWidth + x0) * 4;
      const i11 = (y1 * srcWidth + x1) * 4;
      const o = (y * dstWidth + x) * 4;
      for (let c = 0; c < 4; c++) {
        const top = src[i00 + c] + (src[i01 + c] - src[i00 + c]) * wx;
        const bottom = src[i10 + c] + (src[i11 + c] - src[i10 + c]) * wx;
        dst[o + c] = Math.round(top + (bottom - top) * wy);
      }
    }
  }
  return dst;
}
