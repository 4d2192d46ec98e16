/**
 * The latent→RGB preview factors of an SD3 package: its own (flowfill.json latent_rgb_factors and
 * latent_rgb_bias), else SD3's for a 16-channel latent space.
 */
import type { LatentRgbFactors } from '../latent-preview.js';
import type { Sd3Package } from './package.js';

/**
 * SD3's latent→RGB factors (16 latent channels × RGB) and bias, from ComfyUI
 * `comfy/latent_formats.py` class `SD3` (`latent_rgb_factors`, `latent_rgb_factors_bias`): used only
 * when a package with a 16-channel SD3-style VAE provides no factors of its own.
 */
export const SD3_LATENT_RGB_FACTORS: LatentRgbFactors = Object.freeze({
  factors: Object.freeze(
    [
      [-0.0922, -0.0175, 0.0749],
      [0.0311, 0.0633, 0.0954],
      [0.1994, 0.0927, 0.0458],
      [0.0856, 0.0339, 0.0902],
      [0.0587, 0.0272, -0.0496],
      [-0.0006, 0.1104, 0.0309],
      [0.0978, 0.0306, 0.0427],
      [-0.0042, 0.1038, 0.1358],
      [-0.0194, 0.002, 0.0669],
      [-0.0488, 0.013, -0.0268],
      [0.0922, 0.0988, 0.0951],
      [-0.0278, 0.0524, -0.0542],
      [0.0332, 0.0456, 0.0895],
      [-0.0069, -0.003, -0.081],
      [-0.0596, -0.0465, -0.0293],
      [-0.1448, -0.1463, -0.1189],
    ].map((row) => Object.freeze(row)),
  ),
  bias: Object.freeze([0.2394, 0.2135, 0.1925]),
});

/** The package's factors, SD3's when it gives none and its latent has their 16 channels, else none. */
export function previewFactors(pkg: Sd3Package): LatentRgbFactors | undefined {
  const own = pkg.manifest?.latent_rgb_factors;
  if (own) return { factors: own, bias: pkg.manifest?.latent_rgb_bias };
  return pkg.transformer.config.in_channels === SD3_LATENT_RGB_FACTORS.factors.length ? SD3_LATENT_RGB_FACTORS : undefined;
}
