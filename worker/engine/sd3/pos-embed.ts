/**
 * SD3 2-D sin-cos positional embedding and its centre crop, as diffusers `PatchEmbed`
 * (`models/embeddings.py`: `get_2d_sincos_pos_embed`, `PatchEmbed.cropped_pos_embed`, @58eb52c).
 *
 * An exported SD3 transformer usually carries the table as a constant; this module exists for
 * models that take positions as an input, for training/export tooling parity and for tests.
 * Numerics: grid positions in float32 (torch.arange(float32) / (grid/base) / interpolation),
 * frequencies, outer product and sin/cos in float64, result rounded to float32.
 */

const f32 = Math.fround;

/** The `transformer/config.json` keys that define the positional grid. */
export interface PatchEmbedConfig {
  patch_size: number;
  sample_size: number;
  pos_embed_max_size: number;
  /** Embedding width; diffusers uses num_attention_heads · attention_head_dim. */
  num_attention_heads: number;
  attention_head_dim: number;
}

/**
 * diffusers `get_2d_sincos_pos_embed(embed_dim, grid_size, base_size, interpolation_scale)` for a
 * square grid: returns [gridSize², embedDim] row-major; token i·gridSize + j is row i, column j, laid out
 * [sin(x·ω), cos(x·ω), sin(y·ω), cos(y·ω)] with x = column and y = row position, ω_k = 10000^(−k/(D/4)).
 */
export function get2dSinCosPosEmbed(embedDim: number, gridSize: number, baseSize = 16, interpolationScale = 1.0): Float32Array {
  if (!Number.isInteger(embedDim) || embedDim <= 0 || embedDim % 4 !== 0) {
    throw new RangeError(`embedDim must be a positive multiple of 4 (sin/cos for 2 axes), got ${embedDim}`);
  }
  if (!Number.isInteger(gridSize) || gridSize <= 0) {
    throw new RangeError(`gridSize must be a positive integer, got ${gridSize}`);
  }
  if (!(baseSize > 0) || !(interpolationScale > 0)) {
    throw new RangeError(`baseSize and interpolationScale must be positive, got ${baseSize} and ${interpolationScale}`);
  }
  const quarter = embedDim / 4;
  // omega = 1 / 10000 ** (arange(D/4) / (D/4)), float64.
  const omega = new Float64Array(quarter);
  for (let k = 0; k < quarter; k++) omega[k] = 1.0 / Math.pow(10000, k / quarter);
  // Positions: torch.arange(float32) / (grid / base) / interpolation_scale, each division rounded to float32.
  const gridOverBase = gridSize / baseSize;
  const pos = new Float64Array(gridSize);
  for (let i = 0; i < gridSize; i++) pos[i] = f32(f32(i / gridOverBase) / interpolationScale);

  const out = new Float32Array(gridSize * gridSize * embedDim);
  for (let i = 0; i < gridSize; i++) {
    for (let j = 0; j < gridSize; j++) {
      const base = (i * gridSize + j) * embedDim;
      const x = pos[j];
      const y = pos[i];
      for (let k = 0; k < quarter; k++) {
        out[base + k] = Math.sin(x * omega[k]);
        out[base + quarter + k] = Math.cos(x * omega[k]);
        out[base + 2 * quarter + k] = Math.sin(y * omega[k]);
        out[base + 3 * quarter + k] = Math.cos(y * omega[k]);
      }
    }
  }
  return out;
}

/** Centre-crops the pos-embed grid for a latent of `latentHeight × latentWidth` (before patching). */
export function cropPosEmbed(
  table: Float32Array,
  gridSize: number,
  embedDim: number,
  patchSize: number,
  latentHeight: number,
  latentWidth: number,
): Float32Array {
  if (table.length !== gridSize * gridSize * embedDim) {
    throw new RangeError(
      `pos-embed table has ${table.length} values; expected gridSize² · embedDim = ${gridSize}² · ${embedDim} = ${gridSize * gridSize * embedDim}`,
    );
  }
  const h = Math.floor(latentHeight / patchSize);
  const w = Math.floor(latentWidth / patchSize);
  if (h < 1 || w < 1) {
    throw new RangeError(`latent ${latentHeight}×${latentWidth} is smaller than one ${patchSize}×${patchSize} patch`);
  }
  if (h > gridSize) {
    throw new RangeError(
      `latent height ${latentHeight} gives ${h} patches, more than pos_embed_max_size ${gridSize}; the largest latent height is ${gridSize * patchSize}`,
    );
  }
  if (w > gridSize) {
    throw new RangeError(
      `latent width ${latentWidth} gives ${w} patches, more than pos_embed_max_size ${gridSize}; the largest latent width is ${gridSize * patchSize}`,
    );
  }
  const top = Math.floor((gridSize - h) / 2);
  const left = Math.floor((gridSize - w) / 2);
  const out = new Float32Array(h * w * embedDim);
  for (let i = 0; i < h; i++) {
    const src = ((top + i) * gridSize + left) * embedDim;
    out.set(table.subarray(src, src + w * embedDim), i * w * embedDim);
  }
  return out;
}

/**
 * The positional table of an SD3 transformer, built from its config like diffusers `PatchEmbed`
 * (grid = pos_embed_max_size, base_size = sample_size / patch_size, interpolation_scale 1).
 */
export class SD3PositionalEmbedding {
  readonly gridSize: number;
  readonly embedDim: number;
  readonly patchSize: number;
  readonly baseSize: number;
  readonly interpolationScale: number;
  /** [gridSize², embedDim], float32 (diffusers `pos_embed` without the leading batch axis). */
  readonly table: Float32Array;

  constructor(config: PatchEmbedConfig, interpolationScale = 1) {
    const need = ['patch_size', 'sample_size', 'pos_embed_max_size', 'num_attention_heads', 'attention_head_dim'] as const;
    for (const key of need) {
      const v = config[key];
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
        throw new RangeError(`transformer config.${key} must be a positive integer, got ${JSON.stringify(v)}`);
      }
    }
    this.gridSize = config.pos_embed_max_size;
    this.embedDim = config.num_attention_heads * config.attention_head_dim;
    this.patchSize = config.patch_size;
    // PatchEmbed(height=sample_size): base_size = height // patch_size.
    this.baseSize = Math.floor(config.sample_size / config.patch_size);
    this.interpolationScale = interpolationScale;
    this.table = get2dSinCosPosEmbed(this.embedDim, this.gridSize, this.baseSize, interpolationScale);
  }

  /** diffusers `cropped_pos_embed(height, width)` with latent height/width: [(h/p)·(w/p), embedDim]. */
  cropped(latentHeight: number, latentWidth: number): Float32Array {
    return cropPosEmbed(this.table, this.gridSize, this.embedDim, this.patchSize, latentHeight, latentWidth);
  }
}
