/**
 * PNG bytes ↔ RGBA8 pixels with fast-png (pure JS: same code in Node, the worker and tests); the
 * engine's generated images are deflated by the host's zlib where it has one (encodeRgbaAsRgbPngAsync).
 * Encoding writes 8-bit RGB or RGBA; decoding accepts every PNG colour type and bit depth and
 * returns RGBA8, which is what image-to-image init images and hosts exchange.
 */

import { convertIndexedToRgb, decode, encode, hasPngSignature } from 'fast-png';

import { concatBytes } from './concat-bytes.js';

export interface RgbaImage {
  /** RGBA8, row-major, width·height·4 bytes. */
  rgba: Uint8Array;
  width: number;
  height: number;
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || width <= 0 || !Number.isInteger(height) || height <= 0) {
    throw new RangeError(`image size must be positive integers, got ${width}×${height}`);
  }
}

/**
 * Encodes 8-bit pixels as PNG. `channels` 4 = RGBA, 3 = RGB (no alpha chunk: smaller files for
 * generated images, which are opaque).
 */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 3 | 4 = 4): Uint8Array {
  checkSize(width, height);
  if (channels !== 3 && channels !== 4) throw new RangeError(`channels must be 3 (RGB) or 4 (RGBA), got ${channels}`);
  const expected = width * height * channels;
  if (pixels.length !== expected) {
    throw new RangeError(
      `encodePng: ${pixels.length} bytes for a ${width}×${height} image with ${channels} channels; expected ${expected}`,
    );
  }
  return encode({ width, height, data: pixels, channels, depth: 8 });
}

/** Encodes RGBA8 as an opaque RGB PNG, dropping the alpha channel. */
export function encodeRgbaAsRgbPng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  checkRgba(rgba, width, height, 'encodeRgbaAsRgbPng');
  return encodePng(rgbRows(rgba, width, height, 0), width, height, 3);
}

/**
 * encodeRgbaAsRgbPng through the host's own zlib (CompressionStream) where there is one: the same
 * pixels, and no JavaScript deflate to warm up. It was a quarter of a warm 512² image on the H200
 * machine (fast-png: 70–113 ms warm, 109–558 ms cold; this: 55–61 and 237–242 ms, conversion to 8 bit
 * included). Rows are stored unfiltered, as fast-png stores them. Hosts without it use fast-png.
 */
export async function encodeRgbaAsRgbPngAsync(rgba: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  checkRgba(rgba, width, height, 'encodeRgbaAsRgbPngAsync');
  const Compression = (globalThis as { CompressionStream?: typeof CompressionStream }).CompressionStream;
  if (!Compression) return encodeRgbaAsRgbPng(rgba, width, height);
  // PNG scanlines: each row starts with its filter type, 0 (none).
  const zlib = await compressAsync(new Compression('deflate'), rgbRows(rgba, width, height, 1));
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filtering, no interlace
  return concatBytes([PNG_SIGNATURE, pngChunk('IHDR', header), pngChunk('IDAT', zlib), pngChunk('IEND', new Uint8Array(0))]);
}

/** The RGB of RGBA8 pixels, row by row, each row after `lead` zero bytes. */
function rgbRows(rgba: Uint8Array, width: number, height: number, lead: 0 | 1): Uint8Array<ArrayBuffer> {
  const rowBytes = lead + width * 3;
  const rows = new Uint8Array(rowBytes * height);
  for (let y = 0, p = 0; y < height; y++) {
    for (let q = y * rowBytes + lead, end = q + width * 3; q < end; q += 3, p += 4) {
      rows[q] = rgba[p];
      rows[q + 1] = rgba[p + 1];
      rows[q + 2] = rgba[p + 2];
    }
  }
  return rows;
}

function checkRgba(rgba: Uint8Array, width: number, height: number, caller: string): void {
  checkSize(width, height);
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`${caller}: ${rgba.length} bytes; expected width·height·4 = ${width * height * 4}`);
  }
}

async function compressAsync(stream: CompressionStream, bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  // Not awaited before reading: the stream holds the write until its output is read.
  const written = writer.write(bytes).then(() => writer.close());
  const reader = stream.readable.getReader();
  const parts: Uint8Array[] = [];
  for (let next = await reader.read(); !next.done; next = await reader.read()) parts.push(next.value);
  await written;
  return concatBytes(parts);
}

const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** One PNG chunk: length, type, data, CRC-32 of type and data. */
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + data.length);
  const view = new DataView(chunk.buffer);
  view.setUint32(0, data.length);
  for (let k = 0; k < 4; k++) chunk[4 + k] = type.charCodeAt(k);
  chunk.set(data, 8);
  view.setUint32(8 + data.length, crc32(chunk.subarray(4, 8 + data.length)));
  return chunk;
}

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** True when the bytes start with the PNG signature. */
export function isPng(bytes: Uint8Array): boolean {
  return hasPngSignature(bytes);
}

/**
 * Decodes a PNG (any colour type: grey, grey+alpha, RGB, RGBA, palette; 1–16 bit) to RGBA8.
 * 16-bit samples are rounded to 8 bit (v·255/65535). JPEG and other formats are not decoded here:
 * hosts convert them to PNG or RGBA first (Figma's getBytesAsync already returns the image's bytes).
 */
export function decodePng(bytes: Uint8Array): RgbaImage {
  if (!isPng(bytes)) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new RangeError(
      `decodePng: not a PNG (first bytes ${head || 'none'}); pass PNG bytes or decoded RGBA (e.g. convert JPEG in the host first)`,
    );
  }
  const png = decode(bytes);
  const { width, height, depth, channels, data, palette, transparency } = png;
  const n = width * height;
  const rgba = new Uint8Array(n * 4);
  if (palette) {
    // convertIndexedToRgb unpacks 1/2/4/8-bit indices; entries carry alpha when a tRNS chunk exists.
    const colours = convertIndexedToRgb(png);
    const stride = palette[0].length;
    for (let p = 0; p < n; p++) {
      rgba[p * 4] = colours[p * stride];
      rgba[p * 4 + 1] = colours[p * stride + 1];
      rgba[p * 4 + 2] = colours[p * stride + 2];
      rgba[p * 4 + 3] = stride > 3 ? colours[p * stride + 3] : 255;
    }
    return { rgba, width, height };
  }
  // Sub-byte depths (grey only) are packed per row, each row starting on a byte boundary.
  const rowBytes = Math.ceil((width * channels * depth) / 8);
  const sample =
    depth >= 8
      ? (x: number, y: number, c: number) => data[(y * width + x) * channels + c]
      : (x: number, y: number, c: number) => {
          const bit = (x * channels + c) * depth;
          const byte = data[y * rowBytes + (bit >> 3)];
          return (byte >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
        };
  const maxValue = (1 << depth) - 1;
  const to8 = depth === 8 ? (v: number) => v : (v: number) => Math.round((v * 255) / maxValue);
  // tRNS for grey/RGB names one colour (in sample units) that is fully transparent.
  const key = transparency && (channels === 1 || channels === 3) ? Array.from(transparency) : undefined;
  const colourChannels = channels >= 3 ? 3 : 1;
  const hasAlpha = channels === 2 || channels === 4;
  const raw = [0, 0, 0];
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      for (let c = 0; c < colourChannels; c++) raw[c] = sample(x, y, c);
      const r = to8(raw[0]);
      rgba[p * 4] = r;
      rgba[p * 4 + 1] = colourChannels === 3 ? to8(raw[1]) : r;
      rgba[p * 4 + 2] = colourChannels === 3 ? to8(raw[2]) : r;
      let a = hasAlpha ? to8(sample(x, y, channels - 1)) : 255;
      if (key && key.slice(0, colourChannels).every((v, i) => v === raw[i])) a = 0;
      rgba[p * 4 + 3] = a;
    }
  }
  return { rgba, width, height };
}
