/** Real image bytes for tests and the playground: PNGs made with fast-png, minimal JPEG/GIF headers. */
import { encode } from 'fast-png';

/** A width×height RGBA PNG; `pixel(x, y)` gives [r, g, b, a] (default: a solid colour). */
export function makePng(
  width: number,
  height: number,
  pixel: [number, number, number, number] | ((x: number, y: number) => [number, number, number, number]) = [200, 40, 40, 255],
): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(typeof pixel === 'function' ? pixel(x, y) : pixel, (y * width + x) * 4);
  }
  return encode({ width, height, data, channels: 4, depth: 8 });
}

/** A PNG signature + IHDR claiming width×height, no pixel data: enough for the size check to fire first. */
export function pngHeaderOnly(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(33);
  bytes.set([137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82]);
  const view = new DataView(bytes.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  bytes.set([8, 6, 0, 0, 0], 24);
  return bytes;
}

/** SOI + APP0 stub + SOF0 with the given size: a JPEG header as Figma sniffs it. */
export function jpegHeader(width: number, height: number): Uint8Array {
  return new Uint8Array([
    0xff,
    0xd8,
    0xff,
    0xe0,
    0x00,
    0x04,
    0x00,
    0x00,
    0xff,
    0xc0,
    0x00,
    0x11,
    0x08,
    height >> 8,
    height & 255,
    width >> 8,
    width & 255,
    0x03,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
  ]);
}

export function gifHeader(width: number, height: number): Uint8Array {
  return new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, width & 255, width >> 8, height & 255, height >> 8, 0, 0, 0]);
}
