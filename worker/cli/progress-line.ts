/**
 * The denoising progress of a command-line run: "step 3/20  2.41 it/s  ETA 7 s". On a terminal it
 * is one line redrawn in place ("\r"); written to a file or a pipe it is one line per step, so
 * logs read top to bottom and nothing depends on terminal control characters.
 */

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** 7 s, 1 min 05 s, 1 h 02 min. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Steps per second, or seconds per step below one step a second ("2.41 it/s", "3.2 s/it"). */
export function formatRate(stepsPerSecond: number): string {
  if (!(stepsPerSecond > 0) || !Number.isFinite(stepsPerSecond)) return '? it/s';
  return stepsPerSecond >= 1 ? `${stepsPerSecond.toFixed(2)} it/s` : `${(1 / stepsPerSecond).toFixed(1)} s/it`;
}

export class ProgressLine {
  private readonly startedAt: number;
  private lastLength = 0;
  private drawn = false;

  /** `now` returns milliseconds (performance.now by default); the clock starts at construction. */
  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.startedAt = now();
  }

  /** The line for step `step` of `total`, `elapsedMs` after the start. */
  static format(step: number, total: number, elapsedMs: number): string {
    const rate = step / (elapsedMs / 1000);
    const eta = step < total ? `  ETA ${formatDuration((total - step) / rate)}` : `  ${formatDuration(elapsedMs / 1000)}`;
    return `step ${step}/${total}  ${formatRate(rate)}${eta}`;
  }

  update(step: number, total: number): void {
    const line = ProgressLine.format(step, total, this.now() - this.startedAt);
    if (this.stream.isTTY) {
      // Pad over a longer previous line; never wider than the terminal, or it would wrap.
      const width = this.stream.columns ? this.stream.columns - 1 : Infinity;
      const text = line.padEnd(this.lastLength).slice(0, width);
      this.stream.write(`\r${text}`);
      this.lastLength = line.length;
      this.drawn = true;
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Ends the redrawn line on a terminal, so that what follows starts on its own line. */
  finish(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
