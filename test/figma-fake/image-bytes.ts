/**
 * What the fake needs to know about encoded images: the type by magic bytes, the pixel size from
 * the header, a content hash like Figma's imageHash (SHA-1 hex of the bytes), and PNG encode/decode
 * through fast-png. Browser-safe: no Node APIs.
 */
import { decode as decodePng, encode as encodePng } from 'fast-png';

export type ImageKind = 'png' | 'jpeg' | 'gif';

export function sniffImageKind(bytes: Uint8Array): ImageKind | null {
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const head = String.fromCharCode(...Array.from(bytes.subarray(0, 6)));
  if (head === 'GIF87a' || head === 'GIF89a') return 'gif';
  return null;
}

/** Pixel size from the file header; null when the header is truncated or has no size. */
export function readImageSize(bytes: Uint8Array, kind: ImageKind): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (kind === 'png') {
    // IHDR is always the first chunk: length(4) "IHDR"(4) width(4) height(4).
    if (bytes.length < 24 || String.fromCharCode(...Array.from(bytes.subarray(12, 16))) !== 'IHDR') return null;
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (kind === 'gif') {
    if (bytes.length < 10) return null;
    return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
  }
  // JPEG: walk the marker segments to the first start-of-frame (SOF0..SOF15 except DHT/JPG/DAC).
  let offset = 2;
  while (offset + 9 < bytes.length) {
    if (bytes[offset] !== 0xff) return null;
    const marker = bytes[offset + 1];
    const length = view.getUint16(offset + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: view.getUint16(offset + 7), height: view.getUint16(offset + 5) };
    }
    offset += 2 + length;
  }
  return null;
}

export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decodes a PNG to 8-bit RGBA (expanding grey, grey+alpha, RGB, palette and 16-bit). */
export function decodePngToRgba(bytes: Uint8Array): Rgba {
  const img = decodePng(bytes);
  const { width, height } = img;
  const out = new Uint8Array(width * height * 4);
  const src = img.data;
  const depthScale = img.depth === 16 ? 1 / 257 : 1;
  if (img.palette) {
    const palette = img.palette;
    for (let i = 0; i < width * height; i++) {
      const entry = palette[src[i]] ?? [0, 0, 0, 0];
      out.set([entry[0], entry[1], entry[2], entry.length > 3 ? (entry[3] as number) : 255], i * 4);
    }
    return { width, height, data: out };
  }
  const channels = img.channels;
  for (let i = 0; i < width * height; i++) {
    const at = (c: number) => Math.round(src[i * channels + c] * depthScale);
    if (channels === 1 || channels === 2) {
      const g = at(0);
      out.set([g, g, g, channels === 2 ? at(1) : 255], i * 4);
    } else {
      out.set([at(0), at(1), at(2), channels === 4 ? at(3) : 255], i * 4);
    }
  }
  return { width, height, data: out };
}

export function encodeRgbaToPng(image: Rgba): Uint8Array {
  return encodePng({ width: image.width, height: image.height, data: image.data, channels: 4, depth: 8 });
}

/** SHA-1 (FIPS 180-4), hex. Figma's imageHash is the SHA-1 of the image bytes; sync, unlike crypto.subtle. */
export function sha1Hex(bytes: Uint8Array): string {
  const bitLength = bytes.length * 8;
  const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  let h0 = 0x67452301,
    h1 = 0xefcdab89,
    h2 = 0x98badcfe,
    h3 = 0x10325476,
    h4 = 0xc3d2e1f0;
  const w = new Uint32Array(80);
  for (let block = 0; block < padded.length; block += 64) {
    for (let t = 0; t < 16; t++) w[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = h0,
      b = h1,
      c = h2,
      d = h3,
      e = h4;
    for (let t = 0; t < 80; t++) {
      const f = t < 20 ? (b & c) | (~b & d) : t < 40 ? b ^ c ^ d : t < 60 ? (b & c) | (b & d) | (c & d) : b ^ c ^ d;
      const k = t < 20 ? 0x5a827999 : t < 40 ? 0x6ed9eba1 : t < 60 ? 0x8f1bbcdc : 0xca62c1d6;
      const temp = (((a << 5) | (a >>> 27)) + f + e + k + w[t]) >>> 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) >>> 0;
    h1 = (h1 + b) >>> 0;
    h2 = (h2 + c) >>> 0;
    h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0;
  }
  return [h0, h1, h2, h3, h4].map((h) => h.toString(16).padStart(8, '0')).join('');
}
