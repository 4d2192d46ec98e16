import { __test, gaussianNoise, initialLatentNoise, NoiseStream, philox4x32, uniformNoise } from '../../worker/engine/prng.js';

const hex = (a: Uint32Array) => Array.from(a, (x) => x.toString(16).padStart(8, '0'));

describe('Philox4x32-10 core', () => {
  // Known-answer vectors of the Random123 reference (kat_vectors: philox4x32 10).
  test.each([
    [
      [0, 0, 0, 0],
      [0, 0],
      ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8'],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      ['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd'],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      ['d16cfe09', '94fdcceb', '5001e420', '24126ea1'],
    ],
  ])('counter %j key %j', (c, k, expected) => {
    expect(hex(philox4x32(c[0], c[1], c[2], c[3], k[0], k[1]))).toEqual(expected);
  });

  test('mulhi32 is the high word of the exact 64-bit product', () => {
    const pairs = [
      [0xffffffff, 0xffffffff],
      [0xd2511f53, 0x12345678],
      [0xcd9e8d57, 0xfedcba98],
      [1, 0xffffffff],
      [65536, 65536],
    ];
    for (const [a, b] of pairs) expect(__test.mulhi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
  });
});

describe('gaussianNoise: the documented seed → noise mapping', () => {
  test('golden values for seeds 0 and 42 (computed once by this module, literals kept)', () => {
    expect(Array.from(gaussianNoise(0, 8))).toEqual([
      0.991137683391571, -0.9246625900268555, -0.6176089644432068, -0.48206859827041626, -0.15363822877407074, 0.18082590401172638,
      0.8317351341247559, 0.19743971526622772,
    ]);
    expect(Array.from(gaussianNoise(42, 8))).toEqual([
      -0.9701898097991943, 0.19401895999908447, -1.2356207370758057, 1.9239267110824585, -0.07318150997161865, 0.13913749158382416,
      -1.106665015220642, 0.3266829550266266,
    ]);
    expect(Array.from(gaussianNoise(42, 4, NoiseStream.vaePosterior))).toEqual([
      0.7522793412208557, -0.7114101648330688, -0.8368810415267944, 1.35960054397583,
    ]);
  });

  test('the seed-0 literals follow from the Philox KAT block by Box–Muller (libm cross-check)', () => {
    // Seed 0, stream 0, block 0 is philox(counter 0, key 0) = the first KAT vector.
    const words = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8];
    const expected: number[] = [];
    for (const [a, b] of [
      [words[0], words[1]],
      [words[2], words[3]],
    ]) {
      const r = Math.sqrt(-2 * Math.log((a + 1) / 2 ** 32));
      expected.push(r * Math.cos((2 * Math.PI * b) / 2 ** 32), r * Math.sin((2 * Math.PI * b) / 2 ** 32));
    }
    const got = gaussianNoise(0, 4);
    for (let i = 0; i < 4; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-6);
  });

  test('deterministic ln/sin/cos agree with Math to ~1e-15 on a grid of 32-bit uniforms', () => {
    let errLn = 0;
    let errTrig = 0;
    for (let k = 1; k <= 2 ** 32; k += 2 ** 32 / 4099 + 17) {
      const j = Math.floor(k);
      const u = j / 2 ** 32;
      errLn = Math.max(errLn, Math.abs(__test.lnUniform(u) - Math.log(u)));
      const [c, s] = __test.cosSinTurn((j - 1) / 2 ** 32);
      errTrig = Math.max(
        errTrig,
        Math.abs(c - Math.cos((2 * Math.PI * (j - 1)) / 2 ** 32)),
        Math.abs(s - Math.sin((2 * Math.PI * (j - 1)) / 2 ** 32)),
      );
    }
    expect(__test.lnUniform(1)).toBe(0);
    expect(__test.lnUniform(2 ** -32)).toBeCloseTo(-32 * Math.LN2, 13);
    expect(errLn).toBeLessThan(1e-14);
    expect(errTrig).toBeLessThan(1e-14);
  });

  test('statistics over 1e5 samples: mean ≈ 0, std ≈ 1, tails plausible', () => {
    const n = 100_000;
    const z = gaussianNoise(123456789, n);
    let sum = 0;
    let sq = 0;
    let beyond2 = 0;
    for (const x of z) {
      sum += x;
      sq += x * x;
      if (Math.abs(x) > 2) beyond2++;
    }
    const mean = sum / n;
    const std = Math.sqrt(sq / n - mean * mean);
    // Standard errors: mean 0.0032, std 0.0022; allow ~5σ.
    expect(Math.abs(mean)).toBeLessThan(0.016);
    expect(Math.abs(std - 1)).toBeLessThan(0.012);
    // P(|z| > 2) = 0.0455.
    expect(beyond2 / n).toBeGreaterThan(0.042);
    expect(beyond2 / n).toBeLessThan(0.049);
  });

  test('seeds and streams differ; offsets and lengths are consistent', () => {
    const a = gaussianNoise(1, 64);
    const b = gaussianNoise(2, 64);
    const c = gaussianNoise(1, 64, NoiseStream.vaePosterior);
    const same = (x: Float32Array, y: Float32Array) => x.every((v, i) => v === y[i]);
    expect(same(a, b)).toBe(false);
    expect(same(a, c)).toBe(false);
    expect(same(a, gaussianNoise(1, 64))).toBe(true);
    // A prefix of a longer draw, and an unaligned offset, give the same numbers.
    expect(same(gaussianNoise(1, 10), a.subarray(0, 10))).toBe(true);
    expect(same(gaussianNoise(1, 13, NoiseStream.initialLatent, 7), a.subarray(7, 20))).toBe(true);
    expect(gaussianNoise(0xffffffff, 3)).toHaveLength(3);
  });

  test('initialLatentNoise is stream 0 in NCHW order; bad inputs are explained', () => {
    expect(initialLatentNoise(42, 16, 2, 3)).toEqual(gaussianNoise(42, 96));
    expect(() => gaussianNoise(-1, 4)).toThrow(/seed must be an integer in \[0, 4294967295\] \(uint32\), got -1/);
    expect(() => gaussianNoise(1.5, 4)).toThrow(/got 1.5/);
    expect(() => gaussianNoise(2 ** 32, 4)).toThrow(/uint32/);
    expect(() => initialLatentNoise(1, 16, 0, 8)).toThrow(/latent height must be a positive integer, got 0/);
  });

  test('uniformNoise maps words to (0, 1]', () => {
    const u = uniformNoise(0, 4, 0);
    expect(u[0]).toBe((0x6627e8d5 + 1) / 2 ** 32);
    expect(Array.from(u).every((x) => x > 0 && x <= 1)).toBe(true);
  });
});
