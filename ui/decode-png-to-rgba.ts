/**
 * Turns PNG bytes exported by Figma (exportAsync) into the RGBA8 init image the engine takes for
 * image variations, at exactly the generation size. Figma's export size follows its constraint
 * and rounding, so the pixels are resampled to the requested size here.
 */
import { convertIndexedToRgb, decode } from 'fast-png';
import type { InitImage } from '../common/engine-types.js';

/** Decodes any PNG fast-png reads (grey, grey+alpha, RGB, RGBA, indexed; 8 or 16 bit) into RGBA8. */
export function decodePngToRgba(png: Uint8Array): InitImage {
  const decoded = decode(png);
  const { width, height } = decoded;
  const pixelCount = width * height;
  const rgba = new Uint8Array(pixelCount * 4);

  if (decoded.palette) {
    const expanded = convertIndexedToRgb(decoded);
    const channels = expanded.length / pixelCount;
    for (let i = 0; i < pixelCount; i++) {
      rgba[i * 4] = expanded[i * channels];
      rgba[i * 4 + 1] = expanded[i * channels + 1];
      rgba[i * 4 + 2] = expanded[i * channels + 2];
      rgba[i * 4 + 3] = channels === 4 ? expanded[i * channels + 3] : 255;
    }
    return { rgba, width, height };
  }

  const channels = decoded.channels;
  // 16-bit samples keep their high byte.
  const shift = decoded.depth === 16 ? 8 : 0;
  const data = decoded.data;
  for (let i = 0; i < pixelCount; i++) {
    const base = i * channels;
    if (channels >= 3) {
      rgba[i * 4] = data[base] >> shift;
      rgba[i * 4 + 1] = data[base + 1] >> shift;
      rgba[i * 4 + 2] = data[base + 2] >> shift;
      rgba[i * 4 + 3] = channels === 4 ? data[base + 3] >> shift : 255;
    } else {
      const grey = data[base] >> shift;
      rgba[i * 4] = grey;
      rgba[i * 4 + 1] = grey;
      rgba[i * 4 + 2] = grey;
      rgba[i * 4 + 3] = channels === 2 ? data[base + 1] >> shift : 255;
    }
  }
  return { rgba, width, height };
}

/**
 * Composites transparent pixels over white: the model never saw alpha, and a transparent export
 * (a frame without a fill) would otherwise read as black.
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

/** Bilinear resampling with pixel centres aligned (the convention of most image libraries). */
export function resizeRgbaBilinear(image: InitImage, width: number, height: number): InitImage {
  if (image.width === width && image.height === height) return image;
  const src = image.rgba;
  const out = new Uint8Array(width * height * 4);
  const scaleX = image.width / width;
  const scaleY = image.height / height;
  for (let y = 0; y < height; y++) {
    const sy = Math.min(image.height - 1, Math.max(0, (y + 0.5) * scaleY - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(image.height - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(image.width - 1, Math.max(0, (x + 0.5) * scaleX - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(image.width - 1, x0 + 1);
      const fx = sx - x0;
      for (let c = 0; c < 4; c++) {
        const top = src[(y0 * image.width + x0) * 4 + c] * (1 - fx) + src[(y0 * image.width + x1) * 4 + c] * fx;
        const bottom = src[(y1 * image.width + x0) * 4 + c] * (1 - fx) + src[(y1 * image.width + x1) * 4 + c] * fx;
        out[(y * width + x) * 4 + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return { rgba: out, width, height };
}

/** PNG bytes → opaque RGBA8 at exactly width×height, ready for GenerationRequest.init. */
export function pngToInitImage(png: Uint8Array, width: number, height: number): InitImage {
  return resizeRgbaBilinear(flattenOnWhite(decodePngToRgba(png)), width, height);
}
