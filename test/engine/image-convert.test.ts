import * as fastPng from 'fast-png';
import {
  denormalizeVaeOutput,
  latentsToVaeInput,
  resizeRgbaBilinear,
  rgbaToVaeInput,
  roundHalfToEven,
  vaeLatentsToModelSpace,
  vaeOutputToRgba,
} from '../../worker/engine/image-convert.js';
import { crc32 } from 'node:zlib';
import { decodePng, encodePng, encodeRgbaAsRgbPng, encodeRgbaAsRgbPngAsync } from '../../worker/engine/png.js';
import { maxAbsDiff, readF32, readJson, readU8 } from './golden.js';

const cases = readJson('cases.json').cases as any[];
const vaeConfig = readJson('vae_decoder/config.json');

describe('VAE latent scaling (diffusers: latents / scaling_factor + shift_factor)', () => {
  test.each(cases.map((c) => [c.name, c]))('%s: vae_in from final latents', (_n, c: any) => {
    const vaeIn = latentsToVaeInput(readF32(c.arrays.final_latents.file), vaeConfig);
    expect(maxAbsDiff(vaeIn, readF32(c.arrays.vae_decoder_input.file))).toBeLessThanOrEqual(1e-6);
  });

  test('vaeLatentsToModelSpace inverts it to float32 rounding', () => {
    const z = new Float32Array([-2, -0.5, 0, 0.0609, 1, 3.25]);
    const back = latentsToVaeInput(vaeLatentsToModelSpace(z, vaeConfig), vaeConfig);
    expect(maxAbsDiff(back, z)).toBeLessThan(1e-6);
    expect(() => latentsToVaeInput(z, { scaling_factor: 0 })).toThrow(/scaling_factor must be a non-zero number, got 0/);
  });
});

describe('VAE output → image (diffusers postprocess)', () => {
  test.each(cases.map((c) => [c.name, c]))('%s: float image and uint8 pixels', (_n, c: any) => {
    const [, C, H, W] = c.arrays.vae_decoder_output.shape;
    const raw = readF32(c.arrays.vae_decoder_output.file);
    const image = denormalizeVaeOutput(raw, C, H, W);
    expect(maxAbsDiff(image, readF32(c.arrays.image.file))).toBeLessThanOrEqual(1e-6);

    const rgba = vaeOutputToRgba(raw, C, H, W);
    const ref = readU8(c.arrays.image_uint8_nhwc.file); // NHWC RGB
    let equal = 0;
    let worst = 0;
    for (let p = 0; p < H * W; p++) {
      for (let ch = 0; ch < 3; ch++) {
        const d = Math.abs(rgba[p * 4 + ch] - ref[p * 3 + ch]);
        worst = Math.max(worst, d);
        if (d === 0) equal++;
      }
      expect(rgba[p * 4 + 3]).toBe(255);
    }
    // README: every pixel within 1 and ≥ 99.9 % equal; from the same VAE output we expect all equal.
    expect(worst).toBeLessThanOrEqual(1);
    expect(equal / (H * W * 3)).toBeGreaterThanOrEqual(0.999);
    expect(equal).toBe(H * W * 3);
  });

  test("rounding is numpy's: half to even", () => {
    expect([0.5, 1.5, 2.5, 254.5, 253.5, 2.4999, -0.5].map(roundHalfToEven)).toEqual([0, 2, 2, 254, 254, 2, -0]);
    // x·0.5+0.5 = 0.5 exactly → 127.5 → 128 (even); value 1/255·k stays k.
    const raw = new Float32Array([0, 0, 0, 2, 2, 2, -5, -5, -5]); // 3 channels × 3 pixels (1×3 image)
    const rgba = vaeOutputToRgba(raw, 3, 1, 3);
    expect(Array.from(rgba)).toEqual([128, 255, 0, 255, 128, 255, 0, 255, 128, 255, 0, 255]);
  });

  test('shape errors name the numbers', () => {
    expect(() => vaeOutputToRgba(new Float32Array(10), 3, 2, 2)).toThrow(/10 values; expected a multiple of 3·2·2 = 12/);
    expect(() => vaeOutputToRgba(new Float32Array(12), 3, 2, 2, 1)).toThrow(/batch row 1/);
  });
});

describe('RGBA → VAE encoder input', () => {
  test('2·(v/255) − 1 per channel, NCHW, alpha dropped', () => {
    const rgba = new Uint8Array([0, 255, 51, 7, 255, 0, 102, 255]);
    const x = rgbaToVaeInput(rgba, 2, 1);
    const f = (v: number) => Math.fround(Math.fround(2 * Math.fround(v / 255)) - 1);
    expect(Array.from(x)).toEqual([f(0), f(255), f(255), f(0), f(51), f(102)]);
    expect(x[0]).toBe(-1);
    expect(x[1]).toBe(1);
    expect(() => rgbaToVaeInput(rgba, 3, 1)).toThrow(/expected width·height·4 = 12 \(resize the init image/);
  });

  test('bilinear resize: identity, constant images, and a 2× upscale of a ramp', () => {
    const src = new Uint8Array([0, 0, 0, 255, 200, 100, 50, 255]); // 2×1
    expect(resizeRgbaBilinear(src, 2, 1, 2, 1)).toEqual(src);
    const constant = new Uint8Array(4 * 9).fill(77);
    expect(Array.from(resizeRgbaBilinear(constant, 3, 3, 5, 2)).every((v) => v === 77)).toBe(true);
    const up = resizeRgbaBilinear(src, 2, 1, 4, 1);
    // Centres at src x = −0.25 (clamped 0), 0.25, 0.75, 1.25 (clamped 1).
    expect(Array.from(up.filter((_, i) => i % 4 === 0))).toEqual([0, 50, 150, 200]);
  });
});

describe('PNG encode/decode', () => {
  test('RGBA round trip is lossless', () => {
    const w = 5;
    const h = 3;
    const rgba = new Uint8Array(w * h * 4).map((_, i) => (i * 37) % 256);
    const png = encodePng(rgba, w, h, 4);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const back = decodePng(png);
    expect([back.width, back.height]).toEqual([w, h]);
    expect(back.rgba).toEqual(rgba);
  });

  test('RGB PNG of a generated image decodes to the same pixels with alpha 255', () => {
    const c = cases[1];
    const [, C, H, W] = c.arrays.vae_decoder_output.shape;
    const rgba = vaeOutputToRgba(readF32(c.arrays.vae_decoder_output.file), C, H, W);
    const png = encodeRgbaAsRgbPng(rgba, W, H);
    const back = decodePng(png);
    expect(back.rgba).toEqual(rgba);
    // Colour type 2 (RGB) in the IHDR chunk: byte 25.
    expect(png[25]).toBe(2);
  });

  /** Each chunk's type and whether its stored CRC-32 is right (checked with Node's zlib). */
  function chunks(png: Uint8Array): { type: string; crcOk: boolean }[] {
    const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
    const out: { type: string; crcOk: boolean }[] = [];
    for (let at = 8; at < png.length;) {
      const length = view.getUint32(at);
      const body = png.subarray(at + 4, at + 8 + length);
      out.push({ type: String.fromCharCode(...body.subarray(0, 4)), crcOk: crc32(body) === view.getUint32(at + 8 + length) });
      at += 12 + length;
    }
    return out;
  }

  test("through the host's zlib (CompressionStream): the same pixels as fast-png's, valid chunks; fast-png without it", async () => {
    expect(typeof CompressionStream).toBe('function');
    const c = cases[1];
    const [, C, H, W] = c.arrays.vae_decoder_output.shape;
    const rgba = vaeOutputToRgba(readF32(c.arrays.vae_decoder_output.file), C, H, W);
    const png = await encodeRgbaAsRgbPngAsync(rgba, W, H);
    expect(decodePng(png).rgba).toEqual(rgba);
    expect(png[25]).toBe(2);
    expect(chunks(png)).toEqual(['IHDR', 'IDAT', 'IEND'].map((type) => ({ type, crcOk: true })));
    // A 1×1 and a wide odd-sized image: row lengths that are not multiples of anything.
    for (const [w, h] of [
      [1, 1],
      [333, 7],
    ]) {
      const pixels = new Uint8Array(w * h * 4).map((_, i) => (i * 97 + (i >> 7)) % 256);
      const back = decodePng(await encodeRgbaAsRgbPngAsync(pixels, w, h));
      expect(back.rgba).toEqual(pixels.map((v, i) => (i % 4 === 3 ? 255 : v)));
    }
    const hostCompression = globalThis.CompressionStream;
    try {
      (globalThis as { CompressionStream?: unknown }).CompressionStream = undefined;
      expect(await encodeRgbaAsRgbPngAsync(rgba, W, H)).toEqual(encodeRgbaAsRgbPng(rgba, W, H));
    } finally {
      globalThis.CompressionStream = hostCompression;
    }
    await expect(encodeRgbaAsRgbPngAsync(new Uint8Array(7), 2, 1)).rejects.toThrow(/7 bytes; expected width·height·4 = 8/);
  });

  test('grey, grey+alpha, 16-bit, sub-byte and palette PNGs decode to RGBA8', () => {
    const { encode } = fastPng;
    const g8 = decodePng(encode({ width: 3, height: 1, data: new Uint8Array([0, 100, 255]), channels: 1, depth: 8 }));
    expect(Array.from(g8.rgba)).toEqual([0, 0, 0, 255, 100, 100, 100, 255, 255, 255, 255, 255]);
    const ga = decodePng(encode({ width: 1, height: 1, data: new Uint8Array([60, 30]), channels: 2, depth: 8 }));
    expect(Array.from(ga.rgba)).toEqual([60, 60, 60, 30]);
    const rgb16 = decodePng(encode({ width: 1, height: 1, data: new Uint16Array([65535, 0, 32896]), channels: 3, depth: 16 }));
    expect(Array.from(rgb16.rgba)).toEqual([255, 0, 128, 255]);
    const g1 = decodePng(
      encode({ width: 10, height: 2, data: new Uint8Array([0b10100000, 0b01000000, 0b11111111, 0b11000000]), channels: 1, depth: 1 }),
    );
    expect(Array.from(g1.rgba.filter((_, i) => i % 4 === 0))).toEqual([
      255, 0, 255, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    ]);
    const pal = decodePng(
      encode({
        width: 3,
        height: 1,
        data: new Uint8Array([2, 0, 1]),
        channels: 1,
        depth: 8,
        palette: [
          [255, 0, 0],
          [0, 255, 0],
          [0, 0, 255],
        ],
      }),
    );
    expect(Array.from(pal.rgba)).toEqual([0, 0, 255, 255, 255, 0, 0, 255, 0, 255, 0, 255]);
  });

  test('non-PNG bytes and wrong sizes are explained', () => {
    expect(() => decodePng(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0]))).toThrow(/not a PNG \(first bytes ff d8 ff e0\)/);
    expect(() => encodePng(new Uint8Array(11), 2, 2, 3)).toThrow(/11 bytes for a 2×2 image with 3 channels; expected 12/);
  });
});
