/**
 * Decodes large latents in overlapping tiles, so the VAE decoder's activations (hundreds of MB
 * per tensor at 1024² and above) and its mid-block attention (a [pixels/64]² score matrix) stay
 * bounded. Follows diffusers' AutoencoderKL.tiled_decode
 * (https://github.com/huggingface/diffusers/blob/58eb52c0803ea9af3abec60841c2a093bdf1f951/src/diffusers/models/autoencoders/autoencoder_kl.py):
 * latent tiles of `tileLatentSize` every `floor(tileLatentSize·(1 − overlap))` latents, each tile
 * blended linearly into the one above and the one to its left over the overlap (in place, in the
 * same order as diffusers, so later blends see earlier ones), then cropped to the stride.
 *
 * One difference, only where diffusers' own sizes disagree: diffusers blends
 * `floor(tile·scale·overlap)` pixels and crops every tile to `tile·scale` minus that, which
 * equals the stride in pixels for SD3's defaults (128-latent tiles: stride 96 = 768 px, blend
 * 256 px) but not for every tile size; here the blend is always `tile·scale − stride·scale`
 * pixels, so tiles always assemble to exactly the image size.
 *
 * The decoder is a callback, so this runs over any backend; memory holds the output, the previous
 * row of decoded tiles and the current one.
 */

export interface TiledDecodeOptions {
  /** Latent tile side (diffusers: vae sample_size / scale factor, 128 for SD3's VAE). */
  tileLatentSize: number;
  /** Fraction of a tile shared with its neighbour, in (0, 0.5] (diffusers: 0.25). */
  overlap?: number;
  /** Pixels per latent: 2^(VAE blocks − 1), 8 for SD3. */
  scaleFactor: number;
}

export interface DecodedImage {
  data: Float32Array;
  /** [batch, channels, height, width] */
  dims: number[];
}

/** Decodes one latent tile [batch, channels, h, w] to [batch, outChannels, h·scale, w·scale]. */
export type DecodeTileAsync = (latents: Float32Array, dims: number[]) => Promise<DecodedImage>;

/** Where the tiles start along one axis of `size` latents. */
export function tileStarts(size: number, options: TiledDecodeOptions): number[] {
  const stride = tileStride(options);
  const starts: number[] = [];
  for (let start = 0; start < size; start += stride) starts.push(start);
  return starts;
}

function tileStride(options: TiledDecodeOptions): number {
  const { tileLatentSize: tile, overlap = 0.25, scaleFactor } = options;
  if (!Number.isInteger(tile) || tile < 2) throw new RangeError(`tileLatentSize ${tile} must be an integer of at least 2`);
  if (!(overlap > 0 && overlap <= 0.5)) throw new RangeError(`overlap ${overlap} must be in (0, 0.5]`);
  if (!Number.isInteger(scaleFactor) || scaleFactor < 1) throw new RangeError(`scaleFactor ${scaleFactor} must be a positive integer`);
  return Math.max(1, Math.floor(tile * (1 - overlap)));
}

/**
 * Decodes `latents` [batch, channels, h, w] tile by tile (a single call when it fits in one tile).
 * Returns [batch, outChannels, h·scale, w·scale].
 */
export async function tiledDecodeAsync(
  latents: Float32Array,
  dims: readonly number[],
  decode: DecodeTileAsync,
  options: TiledDecodeOptions,
): Promise<DecodedImage> {
  const [batch, channels, height, width] = dims;
  if (dims.length !== 4 || latents.length !== batch * channels * height * width) {
    throw new RangeError(`latents of ${latents.length} values do not have shape [${dims.join(', ')}]`);
  }
  const { tileLatentSize: tile, scaleFactor: scale } = options;
  const stride = tileStride(options);
  if (height <= tile && width <= tile) return decode(latents, [...dims]);

  const blendExtent = (tile - stride) * scale;
  const rowLimit = stride * scale;
  const rowStarts = tileStarts(height, options);
  const columnStarts = tileStarts(width, options);
  let output: Float32Array | undefined;
  let outChannels = 0;
  const outHeight = height * scale;
  const outWidth = width * scale;
  let previousRow: Tile[] = [];

  for (const [r, top] of rowStarts.entries()) {
    const row: Tile[] = [];
    for (const [c, left] of columnStarts.entries()) {
      const th = Math.min(tile, height - top);
      const tw = Math.min(tile, width - left);
      const decoded = await decode(cropLatents(latents, dims, top, left, th, tw), [batch, channels, th, tw]);
      const [db, dc, dh, dw] = decoded.dims;
      if (db !== batch || dh !== th * scale || dw !== tw * scale || decoded.data.length !== db * dc * dh * dw) {
        throw new RangeError(
          `the decoder returned [${decoded.dims.join(', ')}] for a [${batch}, ${channels}, ${th}, ${tw}] tile; expected [${batch}, C, ${th * scale}, ${tw * scale}]`,
        );
      }
      const current: Tile = { data: decoded.data, planes: batch * dc, height: dh, width: dw };
      if (r > 0) blendVertical(previousRow[c], current, blendExtent);
      if (c > 0) blendHorizontal(row[c - 1], current, blendExtent);
      row.push(current);
      if (!output) {
        outChannels = dc;
        output = new Float32Array(batch * dc * outHeight * outWidth);
      }
      // Crop to the stride (the last tile of a row or column keeps all it has) and place it.
      const keepHeight = Math.min(rowLimit, dh);
      const keepWidth = Math.min(rowLimit, dw);
      for (let plane = 0; plane < current.planes; plane++) {
        for (let y = 0; y < keepHeight; y++) {
          const from = (plane * dh + y) * dw;
          const to = (plane * outHeight + r * rowLimit + y) * outWidth + c * rowLimit;
          output.set(current.data.subarray(from, from + keepWidth), to);
        }
      }
    }
    previousRow = row;
  }
  return { data: output!, dims: [batch, outChannels, outHeight, outWidth] };
}

interface Tile {
  data: Float32Array;
  /** batch · channels */
  planes: number;
  height: number;
  width: number;
}

function cropLatents(latents: Float32Array, dims: readonly number[], top: number, left: number, th: number, tw: number): Float32Array {
  const [batch, channels, height, width] = dims;
  const out = new Float32Array(batch * channels * th * tw);
  for (let plane = 0; plane < batch * channels; plane++) {
    for (let y = 0; y < th; y++) {
      const from = (plane * height + top + y) * width + left;
      out.set(latents.subarray(from, from + tw), (plane * th + y) * tw);
    }
  }
  return out;
}

/** diffusers blend_v: the first rows of `below` fade in from the last rows of `above`. */
function blendVertical(above: Tile, below: Tile, blendExtent: number): void {
  const extent = Math.min(above.height, below.height, blendExtent);
  for (let plane = 0; plane < below.planes; plane++) {
    for (let y = 0; y < extent; y++) {
      const weight = y / extent;
      const a = (plane * above.height + above.height - extent + y) * above.width;
      const b = (plane * below.height + y) * below.width;
      for (let x = 0; x < below.width; x++) below.data[b + x] = above.data[a + x] * (1 - weight) + below.data[b + x] * weight;
    }
  }
}

/** diffusers blend_h: the first columns of `right` fade in from the last columns of `left`. */
function blendHorizontal(left: Tile, right: Tile, blendExtent: number): void {
  const extent = Math.min(left.width, right.width, blendExtent);
  for (let plane = 0; plane < right.planes; plane++) {
    for (let y = 0; y < right.height; y++) {
      const a = (plane * left.height + y) * left.width + left.width - extent;
      const b = (plane * right.height + y) * right.width;
      for (let x = 0; x < extent; x++) {
        const weight = x / extent;
        right.data[b + x] = left.data[a + x] * (1 - weight) + right.data[b + x] * weight;
      }
    }
  }
}
