/**
 * Live previews without the VAE: a linear map from latent channels to RGB, applied to the predicted
 * clean latent x0 = x_t − σ·v (model space, first batch row), at latent resolution.
 * As ComfyUI's `latent_preview.py`: rgb = x0ᵀ·factors + bias, clamp(−1, 1), (rgb + 1)·127.5, round.
 *
 * The factors belong to the model (its VAE's latent space): a package supplies them in flowfill.json,
 * or its family knows them (sd3/latent-rgb-factors.ts).
 */

import { checkLatentShape } from './latent-shape.js';

/** Linear latent→RGB map: `factors[c] = [r, g, b]` for latent channel c, optional RGB bias. */
export interface LatentRgbFactors {
  factors: readonly (readonly number[])[];
  bias?: readonly number[];
}

export interface LatentPreview {
  /** RGBA8, row-major, alpha 255. */
  rgba: Uint8Array;
  width: number;
  height: number;
}

/** Checks factors read from a package (e.g. flowfill.json) against the latent channel count. */
export function validateLatentRgbFactors(value: unknown, channels: number, source = 'latent RGB factors'): LatentRgbFactors {
  const v = value as Partial<LatentRgbFactors> | null;
  if (!v || !Array.isArray(v.factors)) {
    throw new RangeError(`${source}: expected { factors: number[${channels}][3], bias?: number[3] }, got ${JSON.stringify(value)}`);
  }
  if (v.factors.length !== channels) {
    throw new RangeError(
      `${source}: factors has ${v.factors.length} rows but the latent has ${channels} channels; give one [r, g, b] row per channel`,
    );
  }
  v.factors.forEach((row, c) => {
    if (!Array.isArray(row) || row.length !== 3 || !row.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new RangeError(`${source}: factors[${c}] must be 3 finite numbers [r, g, b], got ${JSON.stringify(row)}`);
    }
  });
  if (v.bias !== undefined) {
    if (!Array.isArray(v.bias) || v.bias.length !== 3 || !v.bias.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new RangeError(`${source}: bias must be 3 finite numbers [r, g, b], got ${JSON.stringify(v.bias)}`);
    }
  }
  return v as LatentRgbFactors;
}

/** x0 = x_t − σ·v (float32): the clean latent the model currently predicts. */
export function predictCleanLatent(sample: Float32Array, velocity: Float32Array, sigma: number): Float32Array {
  if (sample.length !== velocity.length) {
    throw new RangeError(`predictCleanLatent: sample has ${sample.length} values, velocity ${velocity.length}; they must match`);
  }
  const s = Math.fround(sigma);
  const out = new Float32Array(sample.length);
  for (let k = 0; k < sample.length; k++) out[k] = Math.fround(sample[k] - Math.fround(s * velocity[k]));
  return out;
}

/**
 * Latent [channels, height, width] (first batch row of NCHW; extra rows are ignored) → RGBA8 preview
 * at latent resolution.
 */
export function latentToPreview(
  latent: Float32Array,
  channels: number,
  height: number,
  width: number,
  factors: LatentRgbFactors,
): LatentPreview {
  checkLatentShape(channels, height, width);
  const plane = height * width;
  if (latent.length < channels * plane) {
    throw new RangeError(`latent has ${latent.length} values; expected at least channels·height·width = ${channels * plane}`);
  }
  validateLatentRgbFactors(factors, channels);
  const bias = factors.bias ?? [0, 0, 0];
  const rgba = new Uint8Array(plane * 4);
  const acc = new Float64Array(3);
  for (let p = 0; p < plane; p++) {
    acc[0] = bias[0];
    acc[1] = bias[1];
    acc[2] = bias[2];
    for (let c = 0; c < channels; c++) {
      const x = latent[c * plane + p];
      const row = factors.factors[c];
      acc[0] += x * row[0];
      acc[1] += x * row[1];
      acc[2] += x * row[2];
    }
    for (let k = 0; k < 3; k++) {
      const v = acc[k] < -1 ? -1 : acc[k] > 1 ? 1 : acc[k];
      rgba[p * 4 + k] = Number.isNaN(v) ? 0 : Math.round((v + 1) * 127.5);
    }
    rgba[p * 4 + 3] = 255;
  }
  return { rgba, width, height };
}
