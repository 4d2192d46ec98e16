import { encode } from 'fast-png';
import { decodePngToRgba, flattenOnWhite, pngToInitImage, resizeRgbaBilinear } from '../../ui/decode-png-to-rgba.js';

describe('PNG → RGBA init image', () => {
  test('RGBA 8-bit round-trips exactly', () => {
    const data = new Uint8Array([1, 2, 3, 4, 250, 251, 252, 253]);
    const image = decodePngToRgba(encode({ width: 2, height: 1, data, channels: 4, depth: 8 }));
    expect(image).toEqual({ width: 2, height: 1, rgba: data });
  });

  test('grey, grey+alpha, RGB and 16-bit inputs become RGBA8', () => {
    const grey = decodePngToRgba(encode({ width: 1, height: 1, data: new Uint8Array([90]), channels: 1, depth: 8 }));
    expect(Array.from(grey.rgba)).toEqual([90, 90, 90, 255]);
    const greyAlpha = decodePngToRgba(encode({ width: 1, height: 1, data: new Uint8Array([90, 10]), channels: 2, depth: 8 }));
    expect(Array.from(greyAlpha.rgba)).toEqual([90, 90, 90, 10]);
    const rgb = decodePngToRgba(encode({ width: 1, height: 1, data: new Uint8Array([5, 6, 7]), channels: 3, depth: 8 }));
    expect(Array.from(rgb.rgba)).toEqual([5, 6, 7, 255]);
    const deep = decodePngToRgba(encode({ width: 1, height: 1, data: new Uint16Array([0xabcd, 0x1234, 0xff00, 0xffff]), channels: 4, depth: 16 }));
    expect(Array.from(deep.rgba)).toEqual([0xab, 0x12, 0xff, 0xff]);
  });

  test('indexed (palette) PNGs are expanded', () => {
    const png = encode({ width: 2, height: 1, data: new Uint8Array([0, 1]), channels: 1, depth: 8, palette: [[255, 0, 0], [0, 0, 255]] });
    expect(Array.from(decodePngToRgba(png).rgba)).toEqual([255, 0, 0, 255, 0, 0, 255, 255]);
  });

  test('transparent pixels are flattened on white', () => {
    const flat = flattenOnWhite({ width: 2, height: 1, rgba: new Uint8Array([0, 0, 0, 0, 0, 0, 0, 128]) });
    expect(Array.from(flat.rgba)).toEqual([255, 255, 255, 255, 127, 127, 127, 255]);
  });

  test('bilinear resize keeps flat colour, interpolates edges, and hits the exact size', () => {
    const src = { width: 2, height: 1, rgba: new Uint8Array([0, 0, 0, 255, 200, 100, 50, 255]) };
    const out = resizeRgbaBilinear(src, 4, 3);
    expect([out.width, out.height, out.rgba.length]).toEqual([4, 3, 48]);
    const row = Array.from(out.rgba.slice(0, 16));
    // Pixel centres at x = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped) of the source.
    expect(row).toEqual([0, 0, 0, 255, 50, 25, 13, 255, 150, 75, 38, 255, 200, 100, 50, 255]);
    expect(Array.from(out.rgba.slice(32, 48))).toEqual(row);
  });

  test('pngToInitImage gives an opaque image of the generation size', () => {
    const png = encode({ width: 3, height: 2, data: new Uint8Array(3 * 2 * 4).fill(0), channels: 4, depth: 8 });
    const init = pngToInitImage(png, 16, 32);
    expect([init.width, init.height]).toEqual([16, 32]);
    expect(Array.from(init.rgba.slice(0, 4))).toEqual([255, 255, 255, 255]);
  });
});
