/**
 * The init image of an image variation: the source layer's PNG (as the host exported it) as
 * opaque RGBA8 at exactly the generation size. Decoding and resizing are the engine's own
 * (worker/engine/png.ts handles every PNG colour type and bit depth, 16-bit rounded to 8;
 * worker/engine/image-convert.ts resizes bilinearly), so the panel and the CLI prepare init images
 * the same way.
 */
import type { InitImage } from '../../common/engine-types.js';
import { resizeRgbaBilinear } from '../../worker/engine/image-convert.js';
import { decodePng } from '../../worker/engine/png.js';

/**
 * Composites transparent pixels over white: the model never saw alpha, and a transparent export
 * (a frame without a fill) would otherwise read as black. Done before resizing, so edges blend
 * with white instead of with the colour hidden under alpha 0.
 */
export function flattenOnWhite(image: InitImage): InitImage {
  const rgba = new Uint8Array(image.rgba.length);
  for (let i = 0; i < rgba.length; i += 4) {
    const alpha = image.rgba[i + 3] / 255;
    for (let c = 0; c < 3; c++) rgba[i + c] = Math.round(image.rgba[i + c] * alpha + 255 * (1 - alpha));
    rgba[i + 3] = 255;
  }
  return { rgba, width: image.width, height: image.height };
}

/** PNG bytes → opaque RGBA8 at exactly width × height, ready for GenerationRequest.init. */
export function pngToInitImage(png: Uint8Array, width: number, height: number): InitImage {
  const flat = flattenOnWhite(decodePng(png));
  return { rgba: resizeRgbaBilinear(flat.rgba, flat.width, flat.height, width, height), width, height };
}
