/** The CLI's progress line: rate and ETA from the clock, redrawn on a terminal, one line per step otherwise. */
import { formatDuration, formatRate, ProgressLine } from '../../worker/cli/progress-line.js';

/** A stream that keeps what was written, as a terminal or a pipe would receive it. */
function sink(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { isTTY, columns, chunks, write: (text: string) => chunks.push(text) };
}

test('rate and ETA: 4 of 20 steps in 2 s is 2.00 it/s with 8 s to go; slow steps read as s/it', () => {
  expect(ProgressLine.format(4, 20, 2000)).toBe('step 4/20  2.00 it/s  ETA 8 s');
  expect(ProgressLine.format(3, 28, 9600)).toBe('step 3/28  3.2 s/it  ETA 1 min 20 s');
  // The last step shows the time taken instead of an ETA.
  expect(ProgressLine.format(20, 20, 4000)).toBe('step 20/20  5.00 it/s  4 s');
});

test('durations and rates read plainly', () => {
  expect([formatDuration(0.4), formatDuration(59.6), formatDuration(65), formatDuration(3725)]).toEqual([
    '0 s',
    '1 min 00 s',
    '1 min 05 s',
    '1 h 02 min',
  ]);
  expect([formatRate(12.345), formatRate(0.25), formatRate(0), formatRate(Infinity)]).toEqual([
    '12.35 it/s',
    '4.0 s/it',
    '? it/s',
    '? it/s',
  ]);
});

test('piped: one line per step, no carriage returns', () => {
  let now = 0;
  const out = sink(false);
  const line = new ProgressLine(out, () => now);
  for (const step of [1, 2]) {
    now += 500;
    line.update(step, 2);
  }
  line.finish();
  expect(out.chunks).toEqual(['step 1/2  2.00 it/s  ETA 1 s\n', 'step 2/2  2.00 it/s  1 s\n']);
});

test('on a terminal: one line redrawn with \\r, padded over a longer previous line, ended by finish()', () => {
  let now = 0;
  const out = sink(true, 200);
  const line = new ProgressLine(out, () => now);
  now = 10_000;
  line.update(1, 100); // slow first step: a long ETA
  now = 10_500;
  line.update(99, 100);
  line.finish();
  expect(out.chunks[0]).toBe('\rstep 1/100  10.0 s/it  ETA 16 min 30 s');
  expect(out.chunks[1]).toBe(`\r${'step 99/100  9.43 it/s  ETA 0 s'.padEnd(out.chunks[0].length - 1)}`);
  expect(out.chunks[2]).toBe('\n');
  expect(out.chunks.join('')).not.toMatch(/\n.*\n/);
});

test('on a narrow terminal the line is cut to fit rather than wrap', () => {
  let now = 0;
  const out = sink(true, 12);
  const line = new ProgressLine(out, () => now);
  now = 1000;
  line.update(1, 3);
  expect(out.chunks[0]).toBe('\rstep 1/3  1');
});
