import { MAX_IMAGE_SIDE, planGenerationSize, sideLimit, validateGenerationSize } from '../../common/resolution-planner.js';

// SD3 medium: sample_size 128 · 8 = 1024 native, pos_embed_max_size 192 · 2 · 8 = 3072 max side, 8 · 2 = 16 multiple.
const SD3 = { nativeSize: 1024, maxSide: 3072, sizeMultiple: 16, toString: () => 'SD3 1024' };
// SD3.5 medium-like grid (384 · 16 = 6144 > Figma's limit) and a tiny model like the fixtures (32 · 16 = 512).
const WIDE_GRID = { nativeSize: 1024, maxSide: 6144, sizeMultiple: 16 };
const TINY = { nativeSize: 256, maxSide: 512, sizeMultiple: 16, toString: () => 'tiny 256' };

describe('planGenerationSize', () => {
  test.each([
    // frame W, H, geometry, expected width × height, clamped
    [1, 1, SD3, 1024, 1024, false],
    [1024, 1024, SD3, 1024, 1024, false],
    [20000, 20000, SD3, 1024, 1024, false],
    [1920, 1080, SD3, 1360, 768, false],
    [1080, 1920, SD3, 768, 1360, false],
    [4, 3, SD3, 1168, 880, false],
    [2, 1, SD3, 1440, 720, false],
    [1, 2, SD3, 720, 1440, false],
    [20, 1, SD3, 2880, 144, true],
    [1, 20, SD3, 144, 2880, true],
    [1, 1, TINY, 256, 256, false],
    [4, 3, TINY, 320, 240, false],
    [20, 1, TINY, 320, 16, true],
  ])('frame %s×%s (native %s) → %s×%s', (w, h, geometry, ew, eh, clamped) => {
    const plan = planGenerationSize(w as number, h as number, geometry as typeof SD3);
    expect([plan.width, plan.height]).toEqual([ew, eh]);
    expect(plan.clamped).toBe(clamped);
    expect(plan.aspectError).toBeLessThan(0.01);
    // A note when the grid forced a compromise, or when the frame enlarges the image more than 8×.
    expect(plan.note !== undefined).toBe(clamped || plan.enlargement > 8);
  });

  test('every plan: multiples of 16, within the grid and 4096, aspect < 1 %, area within 3 % of native', () => {
    for (const geometry of [SD3, WIDE_GRID]) {
      for (let r = 1 / 3; r <= 3; r *= 1.037) {
        for (const [w, h] of [
          [r * 500, 500],
          [1000, 1000 / r],
        ]) {
          const plan = planGenerationSize(w, h, geometry);
          expect(plan.width % 16).toBe(0);
          expect(plan.height % 16).toBe(0);
          expect(Math.max(plan.width, plan.height)).toBeLessThanOrEqual(Math.min(geometry.maxSide, MAX_IMAGE_SIDE));
          expect(plan.aspectError).toBeLessThan(0.01);
          const q = plan.width / plan.height / (w / h);
          expect(Math.max(q, 1 / q) - 1).toBeCloseTo(plan.aspectError, 12);
          expect(Math.abs(Math.log((plan.width * plan.height) / geometry.nativeSize ** 2))).toBeLessThan(Math.log(1.03));
          expect(plan.clamped).toBe(false);
        }
      }
    }
  });

  test('a coarse grid trades a little aspect for area instead of tripling the area', () => {
    // 256 px native = 16 × 16 cells: 1.028:1 is within 1 % only at 448×432 (2.95× the area).
    const plan = planGenerationSize(1.0281 * 500, 500, TINY);
    expect(plan.width * plan.height).toBeLessThan(1.25 * 256 * 256);
    expect(plan.aspectError).toBeLessThan(0.03);
    expect(plan.clamped).toBe(true);
    expect(plan.note).toMatch(
      /^Generating \d+×\d+: the frame is \d\.\d% (wider|taller) than the closest size; the fill crops the image\.$/,
    );
    for (let r = 1 / 3; r <= 3; r *= 1.037) {
      const p = planGenerationSize(r, 1, TINY);
      expect(p.clamped).toBe(p.aspectError >= 0.01);
      expect(p.aspectError).toBeLessThan(0.03);
      expect(Math.abs(Math.log((p.width * p.height) / 256 ** 2))).toBeLessThan(Math.log(1.5));
    }
  });

  test('extreme ratios get the nearest size the grid allows, with a note that says so', () => {
    const wide = planGenerationSize(20, 1, SD3);
    expect(wide.width).toBeLessThanOrEqual(3072);
    expect(wide.note).toBe("Generating 2880×144: 40% of the model's native area, as its sides go from 16 to 3072 px.");
    const extreme = planGenerationSize(1000, 1, SD3);
    expect([extreme.width, extreme.height]).toEqual([3072, 16]);
    expect(extreme.clamped).toBe(true);
    expect(extreme.note).toBe('Generating 3072×16: the frame is 5.2× wider than the model can make; the fill crops the image.');
    const tall = planGenerationSize(1, 1000, SD3);
    expect([tall.width, tall.height]).toEqual([16, 3072]);
  });

  test('the aspect figure is symmetric: 1:4000 and 4000:1 read the same', () => {
    const wide = planGenerationSize(4000, 1, TINY);
    const tall = planGenerationSize(1, 4000, TINY);
    expect([wide.width, wide.height, tall.width, tall.height]).toEqual([512, 16, 16, 512]);
    // The grid's widest shape is 512:16 = 32:1, and 4000 / 32 = 125.
    expect(wide.aspectError).toBeCloseTo(124, 9);
    expect(tall.aspectError).toBeCloseTo(wide.aspectError, 9);
    expect(wide.note).toBe('Generating 512×16: the frame is 125× wider than the model can make; the fill crops the image.');
    expect(tall.note).toBe('Generating 16×512: the frame is 125× taller than the model can make; the fill crops the image.');
  });

  test('a large frame filled from a small native size says the image will look soft', () => {
    const plan = planGenerationSize(4096, 4096, TINY);
    expect(plan).toMatchObject({ width: 256, height: 256, clamped: false, enlargement: 16 });
    expect(plan.note).toBe('Generating 256×256: enlarged 16× to fill the 4096×4096 frame, it will look soft.');
    // Up to 8× is ordinary (a 256 px model on a 1440 px frame) and stays quiet.
    expect(planGenerationSize(2048, 2048, TINY)).toMatchObject({ enlargement: 8 });
    expect(planGenerationSize(2048, 2048, TINY).note).toBeUndefined();
  });

  test("never beyond Figma's 4096 px, even when the grid allows more", () => {
    expect(sideLimit(WIDE_GRID)).toBe(4096);
    const plan = planGenerationSize(20, 1, WIDE_GRID);
    expect(plan.width).toBeLessThanOrEqual(4096);
    expect(plan.clamped).toBe(true);
    expect(planGenerationSize(1, 1, { nativeSize: 8192, maxSide: 16384, sizeMultiple: 16 })).toMatchObject({
      width: 4096,
      height: 4096,
      clamped: true,
    });
  });

  test.each([
    [0, 100, /frame width must be greater than 0, got 0/],
    [-5, 100, /frame width must be greater than 0, got -5/],
    [100, NaN, /frame height must be a number, got NaN/],
    [Infinity, 100, /frame width must be finite, got Infinity/],
    [100, -Infinity, /frame height must be finite, got -Infinity/],
  ])('frame %s×%s is rejected with field and value', (w, h, message) => {
    expect(() => planGenerationSize(w, h, SD3)).toThrow(message);
  });

  test('invalid model geometry is rejected with the key', () => {
    expect(() => planGenerationSize(1, 1, { ...SD3, sizeMultiple: 0 })).toThrow(/geometry sizeMultiple must be a positive integer, got 0/);
    expect(() => planGenerationSize(1, 1, { ...SD3, maxSide: 8 })).toThrow(/maxSide 8 is below sizeMultiple 16/);
  });
});

describe('validateGenerationSize', () => {
  test('valid sizes pass unchanged', () => {
    expect(validateGenerationSize(1024, 768, SD3)).toEqual({ width: 1024, height: 768, adjusted: false });
    expect(validateGenerationSize(3072, 16, SD3)).toMatchObject({
      width: 3072,
      height: 16,
      adjusted: false,
      note: expect.stringMatching(/^3072×16 is far below/),
    });
  });

  test('non-multiples are rounded to the nearest multiple with a note', () => {
    expect(validateGenerationSize(1000, 1024, SD3)).toEqual({
      width: 1008,
      height: 1024,
      adjusted: true,
      note: 'width 1000 is not a multiple of 16; using 1008',
    });
    const both = validateGenerationSize(5, 1030.5, SD3);
    expect([both.width, both.height]).toEqual([16, 1024]);
    expect(both.note).toMatch(/width 5 .*using 16; height 1030.5 .*using 1024/);
  });

  test("a size far below the model's native area says so; a quarter of it does not", () => {
    expect(validateGenerationSize(17, 9, TINY).note).toBe(
      "width 17 is not a multiple of 16; using 16; height 9 is not a multiple of 16; using 16; 16×16 is far below the model's native 256×256 (0.4% of its area): expect little detail",
    );
    expect(validateGenerationSize(112, 112, TINY).note).toBe(
      "112×112 is far below the model's native 256×256 (19% of its area): expect little detail",
    );
    expect(validateGenerationSize(112, 112, TINY).adjusted).toBe(false);
    expect(validateGenerationSize(128, 128, TINY)).toEqual({ width: 128, height: 128, adjusted: false });
  });

  test.each([
    [0, 512, /width must be greater than 0, got 0/],
    [512, -16, /height must be greater than 0, got -16/],
    [NaN, 512, /width must be a number, got NaN/],
    [512, Infinity, /height must be finite, got Infinity/],
    [3088, 512, /width 3088 is larger than this model's positional grid \(maxSide 3072 px\); the largest width is 3072/],
  ])('%s×%s is an error', (w, h, message) => {
    expect(() => validateGenerationSize(w, h, SD3)).toThrow(message);
  });

  test("beyond 4096 names Figma's limit when the grid is larger", () => {
    expect(() => validateGenerationSize(512, 4112, WIDE_GRID)).toThrow(
      /height 4112 is larger than Figma's 4096 px image limit; the largest height is 4096/,
    );
  });
});
