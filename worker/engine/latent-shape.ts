/** The one check of a latent's [channels, height, width], shared by noise and preview code. */
export function checkLatentShape(channels: number, height: number, width: number): void {
  for (const [name, v] of [
    ['channels', channels],
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`latent ${name} must be a positive integer, got ${v}`);
  }
}
