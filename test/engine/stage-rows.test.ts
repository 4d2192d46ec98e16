/**
 * The benchmark table's arithmetic (worker/bench/stage-bench.ts): cold is the first image (and the
 * first session creation), warm the median of the later ones; the loop's wall time per step is
 * reported beside the steps' own times.
 */
import { formatMs, median, stageRows } from '../../worker/bench/stage-bench.js';

const image = (textEncodeMs: number, denoiseStepMs: number[], denoiseMs: number, vaeDecodeMs: number, wallMs: number) => ({
  textEncodeMs,
  denoiseStepMs,
  denoiseMs,
  vaeDecodeMs,
  encodeImageMs: vaeDecodeMs / 4,
  totalMs: wallMs,
  wallMs,
});

test('cold = the first image, warm = the median of the others; session creation warm = the later creations', () => {
  const rows = stageRows(
    [900, 300],
    [
      image(50, [400, 100, 120], 700, 80, 900),
      image(10, [30, 20, 25], 90, 40, 150),
      image(12, [31, 22, 24], 99, 44, 160),
      image(9, [35, 21, 26], 93, 41, 170),
    ],
  );
  expect(Object.fromEntries(rows.map((row) => [row.stage, [row.coldMs, row.warmMs]]))).toEqual({
    'session creation (all graphs)': [900, 300],
    'text encoding': [50, 10],
    'denoise step, first': [400, 31],
    'denoise step, median': [120, 25],
    'denoise loop, wall': [700, 93],
    'denoise loop / steps': [700 / 3, 31],
    'VAE decode': [80, 41],
    'pixels to PNG': [20, 41 / 4],
    'image (prompt to PNG)': [900, 160],
  });
});

test('one image: no warm column; a loop without its wall time falls back to the sum of its steps', () => {
  const rows = stageRows([500], [{ textEncodeMs: 1, denoiseStepMs: [10, 20], vaeDecodeMs: 3, totalMs: 40, wallMs: 40 }]);
  expect(rows.every((row) => row.warmMs === undefined)).toBe(true);
  expect(rows.find((row) => row.stage === 'denoise loop, wall')?.coldMs).toBe(30);
  expect(rows.find((row) => row.stage === 'denoise loop / steps')?.coldMs).toBe(15);
  expect(formatMs(rows.find((row) => row.stage === 'pixels to PNG')?.coldMs)).toBe('—');
});

test('median and the cell format', () => {
  expect([median([3, 1, 2]), median([4, 1, 3, 2]), median([])]).toEqual([2, 2.5, Number.NaN]);
  expect([formatMs(12.345), formatMs(undefined), formatMs(Number.NaN)]).toEqual(['12.3', '—', '—']);
});
