/**
 * The image-variation init image from real PNG bytes (fast-png encodes them at the bit depth and
 * colour type given): 8- and 16-bit, with and without alpha, flattened on white and resized to
 * exactly the generation size with the engine's own decoder and resizer.
 */
import { encode } from 'fast-png';
import { flattenOnWhite, pngToInitImage } from '../../../ui/jobs/init-image.js';

const png8 = (width: number, height: number, data: number[], channels: 1 | 2 | 3 | 4) =>
  encode({ width, height, data: new Uint8Array(data), channels, depth: 8 });
const png16 = (width: number, height: number, data: number[], channels: 1 | 2 | 3 | 4) =>
  encode({ width, height, data: new Uint16Array(data), channels, depth: 16 });

describe('pngToInitImage', () => {
  test('8-bit RGBA, opaque, at its own size: the exact pixels', () => {
    const init = pngToInitImage(png8(2, 1, [1, 2, 3, 255, 250, 251, 252, 255], 4), 2, 1);
    expect(init).toEqual({ width: 2, height: 1, rgba: new Uint8Array([1, 2, 3, 255, 250, 251, 252, 255]) });
  });

  test('16-bit samples are rounded to 8 bits (v·255/65535), not truncated to their high byte', () => {
    // 0x00ff is 0.99 in 8-bit terms: rounding gives 1, truncation would give 0.
    const init = pngToInitImage(png16(2, 1, [0x00ff, 0x8080, 0xffff, 0xffff, 0, 0x7fff, 0xabcd, 0xffff], 4), 2, 1);
    expect(Array.from(init.rgba)).toEqual([1, 128, 255, 255, 0, 127, 171, 255]);
  });

  test('16-bit RGB and grey without alpha become opaque', () => {
    expect(Array.from(pngToInitImage(png16(1, 1, [0xffff, 0x0000, 0x8000], 3), 1, 1).rgba)).toEqual([255, 0, 128, 255]);
    expect(Array.from(pngToInitImage(png16(1, 1, [0x4000], 1), 1, 1).rgba)).toEqual([64, 64, 64, 255]);
  });

  test('transparent pixels are flattened on white (8-bit RGBA and 16-bit grey+alpha): a frame without a fill reads white, not black', () => {
    expect(Array.from(pngToInitImage(png8(2, 1, [0, 0, 0, 0, 0, 0, 0, 128], 4), 2, 1).rgba)).toEqual([
      255, 255, 255, 255, 127, 127, 127, 255,
    ]);
    expect(Array.from(pngToInitImage(png16(2, 1, [0, 0, 0, 0xffff], 2), 2, 1).rgba)).toEqual([255, 255, 255, 255, 0, 0, 0, 255]);
  });

  test('resized bilinearly to exactly the generation size, after flattening', () => {
    const init = pngToInitImage(png8(2, 1, [0, 0, 0, 255, 200, 100, 50, 255], 4), 4, 3);
    expect([init.width, init.height, init.rgba.length]).toEqual([4, 3, 48]);
    // Pixel centres at x = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped) of the source.
    const row = [0, 0, 0, 255, 50, 25, 13, 255, 150, 75, 38, 255, 200, 100, 50, 255];
    expect(Array.from(init.rgba.slice(0, 16))).toEqual(row);
    expect(Array.from(init.rgba.slice(32, 48))).toEqual(row);
    // A transparent source blends with white at the edges, never with the colour hidden under alpha 0.
    const edge = pngToInitImage(png8(2, 1, [255, 0, 0, 0, 0, 0, 255, 255], 4), 4, 1);
    expect(Array.from(edge.rgba.slice(4, 8))).toEqual([191, 191, 255, 255]);
  });

  test('bytes that are not a PNG are refused with a reason', () => {
    expect(() => pngToInitImage(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0]), 16, 16)).toThrow(
      /not a PNG \(first bytes ff d8 ff e0\)/,
    );
  });
});

test('flattenOnWhite keeps opaque pixels and makes every pixel opaque', () => {
  const flat = flattenOnWhite({ width: 2, height: 1, rgba: new Uint8Array([10, 20, 30, 255, 0, 0, 0, 0]) });
  expect(Array.from(flat.rgba)).toEqual([10, 20, 30, 255, 255, 255, 255, 255]);
});
