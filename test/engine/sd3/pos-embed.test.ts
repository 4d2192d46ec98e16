import { cropPosEmbed, get2dSinCosPosEmbed, SD3PositionalEmbedding } from '../../../worker/engine/sd3/pos-embed.js';
import { maxAbsDiff, readF32, readJson } from '../golden.js';

// README tolerance for the pos-embed crop: 1e-6 (absolute).
const TOL = 1e-6;
const transformerConfig = readJson('transformer/config.json');

describe('SD3 2-D sin-cos positional embedding', () => {
  const pe = new SD3PositionalEmbedding(transformerConfig);

  test('full table matches diffusers PatchEmbed.pos_embed (grid 32, base 16)', () => {
    expect(pe.gridSize).toBe(32);
    expect(pe.baseSize).toBe(16);
    expect(pe.embedDim).toBe(32);
    const ref = readF32('pos_embed_full.bin');
    expect(pe.table).toHaveLength(ref.length);
    expect(maxAbsDiff(pe.table, ref)).toBeLessThanOrEqual(TOL);
  });

  test('cropped_pos_embed(6, 10) matches: 3×5 tokens, rows 14..16, columns 13..17', () => {
    const crop = pe.cropped(6, 10);
    const ref = readF32('pos_embed_crop_6x10.bin');
    expect(crop).toHaveLength(15 * 32);
    expect(maxAbsDiff(crop, ref)).toBeLessThanOrEqual(TOL);
    // Token (0, 0) of the crop is grid row 14, column 13.
    expect(Array.from(crop.subarray(0, 32))).toEqual(Array.from(pe.table.subarray((14 * 32 + 13) * 32, (14 * 32 + 14) * 32)));
  });

  test('layout: [sin x, cos x, sin y, cos y] with x = column / (grid/base)', () => {
    const table = get2dSinCosPosEmbed(8, 4, 2); // positions j / 2
    const token = (i: number, j: number) => Array.from(table.subarray((i * 4 + j) * 8, (i * 4 + j + 1) * 8));
    const x = 3 / 2;
    const y = 1 / 2;
    const w = [1, 1 / 100]; // 10000^(−k/2)
    const expected = [
      Math.sin(x * w[0]),
      Math.sin(x * w[1]),
      Math.cos(x * w[0]),
      Math.cos(x * w[1]),
      Math.sin(y * w[0]),
      Math.sin(y * w[1]),
      Math.cos(y * w[0]),
      Math.cos(y * w[1]),
    ].map(Math.fround);
    expect(token(1, 3)).toEqual(expected);
  });

  test('a latent larger than the grid is an error naming the largest size', () => {
    expect(() => pe.cropped(66, 8)).toThrow(
      /latent height 66 gives 33 patches, more than pos_embed_max_size 32; the largest latent height is 64/,
    );
    expect(() => pe.cropped(8, 70)).toThrow(/latent width 70.*largest latent width is 64/);
    expect(pe.cropped(64, 64)).toEqual(pe.table);
    expect(() => cropPosEmbed(new Float32Array(10), 32, 32, 2, 8, 8)).toThrow(/expected gridSize²/);
    expect(() => new SD3PositionalEmbedding({ ...transformerConfig, pos_embed_max_size: null })).toThrow(
      /config.pos_embed_max_size must be a positive integer/,
    );
  });
});
