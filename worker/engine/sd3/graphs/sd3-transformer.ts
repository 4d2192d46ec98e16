/**
 * The MM-DiT of SD3, SD3.5 Medium and SD3.5 Large (diffusers `SD3Transformer2DModel`) as an ONNX
 * graph built from transformer/config.json and the checkpoint's tensors. Follows
 * https://github.com/huggingface/diffusers/blob/58eb52c0803ea9af3abec60841c2a093bdf1f951/src/diffusers/models/transformers/transformer_sd3.py
 * (forward), models/attention.py (JointTransformerBlock), models/attention_processor.py
 * (JointAttnProcessor2_0), models/normalization.py (AdaLayerNormZero, SD35AdaLayerNormZeroX,
 * AdaLayerNormContinuous) and models/embeddings.py (PatchEmbed, CombinedTimestepTextProjEmbeddings)
 * at that commit.
 *
 * I/O (float32 whatever the precision): hidden_states [B, C, H, W] (latents; H and W multiples of
 * patch_size, at most pos_embed_max_size·patch_size), timestep [B] (σ·1000),
 * encoder_hidden_states [B, S, joint_attention_dim], pooled_projections [B, pooled_projection_dim]
 * → out_hidden_states [B, out_channels, H, W]. Batch, latent size and text length are free.
 *
 * Layout choices for onnxruntime-web's WebGPU EP:
 * - Patchify is a reshape/transpose of the 16-channel input and one MatMul (the Conv2d weight
 *   reshaped), unpatchify a reshape/transpose of the proj_out result: the only Transposes touch
 *   C·p² = 64 values per token, never the model width.
 * - The pos-embed table is cropped inside the graph (centre crop as diffusers' cropped_pos_embed),
 *   from the latent size, so one graph serves every size and aspect ratio.
 * - Joint attention is one com.microsoft MultiHeadAttention over [image ‖ text] tokens; the AdaLN
 *   modulation of a block is one MatMul whose float32 bias already holds the "1 +" of every scale.
 * - The residual streams (image and text tokens), norm statistics and the modulation are float32 at
 *   every precision; 'fp16' computes the Linear layers and attention in half precision.
 */
import { EngineError } from '../../engine-error.js';
import { DataType, fromFloat32 } from '../../onnx/data-types.js';
import { GraphBuilder, type BuiltGraph, type Value } from '../../onnx/graph-builder.js';
import { transpose2d } from '../../onnx/initializer-source.js';
import {
  activation,
  attention,
  computeType,
  layerNorm,
  linear,
  perHeadRmsNorm,
  weight,
  type AttentionForm,
  type Int8MatMul,
  type LayerContext,
  type Precision,
} from '../../onnx/layers.js';
import { readFloat32Async, type SafetensorsTensor, type WeightSet } from '../../safetensors.js';
import { ConfigFields } from './config-fields.js';
import { UsageTrackingWeightSet } from './weight-usage.js';

/** transformer/config.json, checked (diffusers SD3Transformer2DModel's constructor arguments). */
export interface Sd3TransformerConfig {
  sample_size: number;
  patch_size: number;
  in_channels: number;
  out_channels: number;
  num_layers: number;
  attention_head_dim: number;
  num_attention_heads: number;
  joint_attention_dim: number;
  caption_projection_dim: number;
  pooled_projection_dim: number;
  pos_embed_max_size: number;
  qk_norm: 'rms_norm' | null;
  dual_attention_layers: number[];
}

/** Reads and checks transformer/config.json; `path` names the file in messages. */
export function readSd3TransformerConfig(json: unknown, path = 'transformer/config.json'): Sd3TransformerConfig {
  const f = new ConfigFields(json, path);
  f.className('SD3Transformer2DModel');
  const numLayers = f.int('num_layers', 1, 1000, 18);
  const heads = f.int('num_attention_heads', 1, 1024, 18);
  const headDim = f.int('attention_head_dim', 1, 1024, 64);
  const inChannels = f.int('in_channels', 1, 1024, 16);
  const config: Sd3TransformerConfig = {
    sample_size: f.int('sample_size', 1, 1 << 16, 128),
    patch_size: f.int('patch_size', 1, 64, 2),
    in_channels: inChannels,
    out_channels: f.int('out_channels', 1, 1024, inChannels),
    num_layers: numLayers,
    attention_head_dim: headDim,
    num_attention_heads: heads,
    joint_attention_dim: f.int('joint_attention_dim', 1, 1 << 16, 4096),
    caption_projection_dim: f.int('caption_projection_dim', 1, 1 << 16, 1152),
    pooled_projection_dim: f.int('pooled_projection_dim', 1, 1 << 16, 2048),
    pos_embed_max_size: f.int('pos_embed_max_size', 1, 1 << 16, 96),
    qk_norm: f.oneOf('qk_norm', [null, 'rms_norm'] as const, null),
    dual_attention_layers: f.intList('dual_attention_layers', 0, numLayers - 1, []),
  };
  // The blocks add the context stream to tensors of the model width: diffusers builds a broken
  // model otherwise, so no checkpoint can have it.
  if (config.caption_projection_dim !== heads * headDim) {
    f.fail(
      'caption_projection_dim',
      `is ${config.caption_projection_dim}; it must equal num_attention_heads · attention_head_dim = ${heads} · ${headDim} = ${heads * headDim}`,
    );
  }
  if (config.attention_head_dim % 2 !== 0 && config.qk_norm !== null) f.fail('attention_head_dim', 'must be even');
  return config;
}

export interface Sd3TransformerBuildOptions {
  /**
   * The attention kernel: 'fused' (default; com.microsoft MultiHeadAttention, right at any size)
   * or 'unfused' (explicit MatMul/Softmax/MatMul) for devices whose fused kernel is wrong (the
   * engine's check in worker/engine/fused-attention-check.ts); sizes are then limited by the
   * binding limit of the score tensor.
   */
  attentionKernel?: AttentionForm;
  /**
   * Element type of the attention (q, k, v, scores, softmax, output) under 'fp16'. 'float32'
   * casts q, k, v up first: onnxruntime-web's WebGPU MultiHeadAttention stores the scaled scores
   * in the input's type, so half-precision scores lose precision as logits grow (about
   * |logit|·2⁻¹¹) and overflow past 65504. Default: 'float32' without QK-norm (SD3 Medium, whose
   * logits are unbounded), 'compute' with it (SD3.5's RMS-normed q and k bound the logits).
   */
  attention?: 'float32' | 'compute';
  /**
   * Keep only the centre posEmbedGrid × posEmbedGrid patches of the stored pos-embed table
   * (default: all of pos_embed_max_size²). The largest latent the graph then takes is
   * posEmbedGrid·patch_size per side. Must have the parity of pos_embed_max_size, so that the
   * centre crop of the kept part equals diffusers' centre crop of the whole table.
   */
  posEmbedGrid?: number;
  /**
   * How the graph holds the pos-embed table. 'table' (default): as stored, grid² × width values.
   * 'factored': SD3's sin-cos table is separable — row (i, j) is [column part of j, row part of i]
   * (pos-embed.ts) — so two grid × width/2 tables hold the same values and the graph expands its
   * crop from them: the same numbers in 2/grid of the bytes (2.6 MB → 41 kB for the v2 candidate).
   * A stored table that is not separable fails the build when its bytes are produced.
   */
  posEmbedForm?: 'table' | 'factored';
  /** How Linears with int8 weights multiply (LayerContext.int8MatMul); default 'dequantized'. */
  int8MatMul?: Int8MatMul;
}

const FLOAT = DataType.FLOAT;
const EPS = 1e-6;

/**
 * The two factors of the centre grid × grid part of SD3's sin-cos table (`all`, P × P × dim): each
 * column's first half (from the part's first row) and each row's second half (from its first
 * column). Throws unless every entry of the part is theirs, so a graph built from them computes
 * exactly what the table holds.
 */
function posEmbedFactors(all: Float32Array, P: number, grid: number, dim: number): { columns: Float32Array; rows: Float32Array } {
  const offset = (P - grid) / 2;
  const half = dim / 2;
  const at = (i: number, j: number) => ((offset + i) * P + offset + j) * dim;
  const columns = new Float32Array(grid * half);
  const rows = new Float32Array(grid * half);
  for (let k = 0; k < grid; k++) {
    columns.set(all.subarray(at(0, k), at(0, k) + half), k * half);
    rows.set(all.subarray(at(k, 0) + half, at(k, 0) + dim), k * half);
  }
  for (let i = 0; i < grid; i++) {
    for (let j = 0; j < grid; j++) {
      const inColumns = firstDifference(all, at(i, j), columns, j * half, half);
      const inRows = inColumns === undefined ? firstDifference(all, at(i, j) + half, rows, i * half, half) : undefined;
      if (inColumns !== undefined || inRows !== undefined) {
        throw new EngineError(
          'model-mismatch',
          `pos_embed.pos_embed is not SD3's separable sin-cos table (row ${offset + i}, column ${offset + j}, channel ${inColumns ?? half + inRows!} differs): build it with posEmbedForm 'table'`,
        );
      }
    }
  }
  return { columns, rows };
}

/** The first index k < n with a[from + k] !== b[bFrom + k], if any. */
function firstDifference(a: Float32Array, from: number, b: Float32Array, bFrom: number, n: number): number | undefined {
  for (let k = 0; k < n; k++) if (a[from + k] !== b[bFrom + k]) return k;
  return undefined;
}

/** Builds the transformer graph; every tensor is checked against the shape `config` implies. */
export function buildSd3TransformerGraph(
  config: Sd3TransformerConfig,
  weights: WeightSet,
  precision: Precision,
  options: Sd3TransformerBuildOptions = {},
): BuiltGraph {
  checkPosEmbedGrid(config, options);
  const tracked = new UsageTrackingWeightSet(weights);
  const b = new GraphBuilder('sd3_transformer');
  const ctx: LayerContext = {
    b,
    weights: tracked,
    precision,
    attention: options.attentionKernel ?? 'fused',
    int8MatMul: options.int8MatMul,
  };
  const builder = new TransformerBuilder(ctx, config, options);
  builder.build();
  tracked.checkAllUsed('transformer/config.json');
  return b.build();
}

function checkPosEmbedGrid(config: Sd3TransformerConfig, options: Sd3TransformerBuildOptions): void {
  const P = config.pos_embed_max_size;
  const grid = options.posEmbedGrid ?? P;
  if (!Number.isInteger(grid) || grid < 1 || grid > P || (P - grid) % 2 !== 0) {
    throw new RangeError(
      `posEmbedGrid ${grid} must be an integer from 1 to pos_embed_max_size ${P} with the parity of ${P} (so its centre crops match the full table's)`,
    );
  }
}

/** The largest latent height/width (in latent pixels) a graph built with `options` takes. */
export function maxLatentSide(config: Sd3TransformerConfig, options: Sd3TransformerBuildOptions = {}): number {
  return (options.posEmbedGrid ?? config.pos_embed_max_size) * config.patch_size;
}

class TransformerBuilder {
  private readonly b: GraphBuilder;
  private readonly dim: number;
  private readonly heads: number;
  private readonly headDim: number;
  private readonly compute: DataType;
  private readonly attentionType: DataType;
  /** int64 [2]: image and text token counts, for splitting the joint attention output. */
  private splitSizes!: Value;
  private imageTokens!: Value;

  constructor(
    private readonly ctx: LayerContext,
    private readonly config: Sd3TransformerConfig,
    private readonly options: Sd3TransformerBuildOptions,
  ) {
    this.b = ctx.b;
    this.heads = config.num_attention_heads;
    this.headDim = config.attention_head_dim;
    this.dim = this.heads * this.headDim;
    this.compute = computeType(ctx.precision);
    const attentionChoice = options.attention ?? (config.qk_norm === null ? 'float32' : 'compute');
    this.attentionType = attentionChoice === 'float32' ? FLOAT : this.compute;
  }

  build(): void {
    const { b, config } = this;
    const p = config.patch_size;
    const hidden = b.input('hidden_states', FLOAT, ['batch', config.in_channels, 'height', 'width']);
    const timestep = b.input('timestep', FLOAT, ['batch']);
    const context = b.input('encoder_hidden_states', FLOAT, ['batch', 'text_tokens', config.joint_attention_dim]);
    const pooled = b.input('pooled_projections', FLOAT, ['batch', config.pooled_projection_dim]);

    // 1. Geometry from the input's shape: h × w patches, and the token counts.
    const { pixelsHw, h, w } = b.scope('geometry', () => {
      const shape = b.op('Shape', [hidden], undefined, DataType.INT64);
      const pixelsHw = b.op('Slice', [shape, b.int64([2]), b.int64([4])]);
      const patches = b.op('Div', [pixelsHw, b.int64([p])]);
      const h = b.op('Slice', [patches, b.int64([0]), b.int64([1])]);
      const w = b.op('Slice', [patches, b.int64([1]), b.int64([2])]);
      this.imageTokens = b.op('Mul', [h, w]);
      const textTokens = b.op('Slice', [b.op('Shape', [context], undefined, DataType.INT64), b.int64([1]), b.int64([2])]);
      this.splitSizes = b.op('Concat', [this.imageTokens, textTokens], { axis: 0 });
      return { pixelsHw, h, w };
    });

    // 2. Patch embedding and the cropped pos-embed table.
    let x = b.scope('pos_embed', () => this.patchEmbed(hidden, h, w));
    // 3. Timestep + pooled text conditioning; every AdaLN layer takes silu(temb).
    const conditioning = b.scope('time_text_embed', () => this.timeTextEmbed(timestep, pooled));
    // 4. Text tokens.
    let c: Value | undefined = b.scope('context_embedder', () =>
      b.cast(
        linear(this.ctx, context, 'context_embedder', {
          inFeatures: config.joint_attention_dim,
          outFeatures: config.caption_projection_dim,
        }),
        FLOAT,
      ),
    );
    // 5. Joint blocks.
    for (let i = 0; i < config.num_layers; i++) {
      const result = b.scope(`transformer_blocks.${i}`, () => this.block(i, x, c!, conditioning));
      x = result.x;
      c = result.c;
    }
    // 6. Output norm (AdaLayerNormContinuous: scale, then shift), projection, unpatchify.
    const out = b.scope('norm_out', () => {
      const mod = this.modulation(conditioning, 'norm_out.linear', ['scale', 'shift']);
      const normed = this.modulate(layerNorm(this.ctx, x, { dim: this.dim, eps: EPS }), mod.scale, mod.shift);
      const patchValues = p * p * config.out_channels;
      const projected = linear(this.ctx, b.cast(normed, this.compute), 'proj_out', {
        inFeatures: this.dim,
        outFeatures: patchValues,
        quantize: false,
      });
      // proj_out's channel index is (pi·p + pj)·C + c (diffusers' "nhwpqc" einsum): [B, h, w, p, p, C] → [B, C, h, p, w, p].
      const grid = b.op('Reshape', [
        b.cast(projected, FLOAT),
        b.op('Concat', [b.int64([0]), h, w, b.int64([p, p, config.out_channels])], { axis: 0 }),
      ]);
      const nchw = b.op('Transpose', [grid], { perm: [0, 5, 1, 3, 2, 4] });
      return b.op('Reshape', [nchw, b.op('Concat', [b.int64([0, config.out_channels]), pixelsHw], { axis: 0 })]);
    });
    b.output(out, 'out_hidden_states', ['batch', config.out_channels, 'height', 'width']);
  }

  private patchEmbed(hidden: Value, h: Value, w: Value): Value {
    const { b, config } = this;
    const p = config.patch_size;
    const C = config.in_channels;
    const patchValues = C * p * p;
    // [B, C, h·p, w·p] → [B, C, h, p, w, p] → [B, h, w, C, p, p] → [B, h·w, C·p·p]: the Conv2d
    // (kernel = stride = p) as a MatMul over each patch's values in the weight's (c, pi, pj) order.
    const split = b.op('Reshape', [hidden, b.op('Concat', [b.int64([0, C]), h, b.int64([p]), w, b.int64([p])], { axis: 0 })]);
    const patches = b.op('Reshape', [b.op('Transpose', [split], { perm: [0, 2, 4, 1, 3, 5] }), b.int64([0, -1, patchValues])]);
    const convWeight = this.ctx.weights.get(
      'pos_embed.proj.weight',
      [this.dim, C, p, p],
      `a Conv2d(${C} → ${this.dim}, kernel ${p}) per config.json`,
    );
    // The 4-D weight is [dim, C·p·p] in memory; the MatMul wants its transpose. Float32 at every
    // precision: it is small and feeds the float32 residual stream directly.
    const kernel = b.initializer('pos_embed.proj.weight', {
      kind: 'derived',
      dataType: FLOAT,
      dims: [patchValues, this.dim],
      byteLength: patchValues * this.dim * 4,
      produce: async () => fromFloat32(transpose2d(await readFloat32Async(convWeight), this.dim, patchValues), FLOAT),
    });
    const bias = weight(this.ctx, 'pos_embed.proj.bias', [this.dim]);
    const tokens = b.op('Add', [b.op('MatMul', [patches, kernel]), bias]);
    return b.op('Add', [tokens, this.croppedPosEmbed(h, w)]);
  }

  /** diffusers PatchEmbed.cropped_pos_embed: rows top..top+h, columns left..left+w of the P×P grid, top = (P − h) // 2. */
  private croppedPosEmbed(h: Value, w: Value): Value {
    const { b, config, ctx } = this;
    const P = config.pos_embed_max_size;
    const grid = this.options.posEmbedGrid ?? P;
    const tensor = ctx.weights.get(
      'pos_embed.pos_embed',
      [1, P * P, this.dim],
      `the pos-embed table (pos_embed_max_size² × width) per config.json`,
    );
    // The table feeds the float32 residual stream. Under 'fp16' it is stored in half (its values are
    // sines and cosines) and only the crop is cast; at other precisions the graph has no half tensors,
    // since WebGPU devices without shader-f16 cannot run them.
    const storeType = ctx.precision === 'fp16' ? DataType.FLOAT16 : FLOAT;
    if (this.options.posEmbedForm === 'factored') return this.croppedFactoredPosEmbed(h, w, tensor, storeType, { P, grid });
    const offset = (P - grid) / 2;
    const table = b.initializer(
      'pos_embed.pos_embed',
      grid === P
        ? { kind: 'tensor', tensor, dataType: storeType, dims: [P, P, this.dim] }
        : {
            kind: 'derived',
            dataType: storeType,
            dims: [grid, grid, this.dim],
            byteLength: grid * grid * this.dim * (storeType === FLOAT ? 4 : 2),
            produce: async () => {
              const all = await readFloat32Async(tensor);
              const kept = new Float32Array(grid * grid * this.dim);
              for (let row = 0; row < grid; row++) {
                const from = ((offset + row) * P + offset) * this.dim;
                kept.set(all.subarray(from, from + grid * this.dim), row * grid * this.dim);
              }
              return fromFloat32(kept, storeType);
            },
          },
    );
    const hw = b.op('Concat', [h, w], { axis: 0 });
    const starts = b.op('Div', [b.op('Sub', [b.int64([grid]), hw]), b.int64([2])]);
    const ends = b.op('Add', [starts, hw]);
    const crop = b.op('Slice', [table, starts, ends, b.int64([0, 1])]);
    return b.cast(b.op('Reshape', [crop, b.int64([1, -1, this.dim])]), FLOAT);
  }

  /**
   * The crop of croppedPosEmbed from the table's two factors: columns [grid, D/2] (row 0's first
   * half) and rows [grid, D/2] (column 0's second half), each sliced to the crop and expanded to
   * [h, w, D/2], then joined. Producing the factors checks that every row of the stored table is
   * theirs, so the graph computes exactly what the table would.
   */
  private croppedFactoredPosEmbed(
    h: Value,
    w: Value,
    tensor: SafetensorsTensor,
    storeType: typeof DataType.FLOAT | typeof DataType.FLOAT16,
    { P, grid }: { P: number; grid: number },
  ): Value {
    const { b, dim } = this;
    const half = dim / 2;
    let factors: Promise<{ columns: Float32Array; rows: Float32Array }> | undefined;
    const produceFactors = () => (factors ??= readFloat32Async(tensor).then((all) => posEmbedFactors(all, P, grid, dim)));
    const factor = (name: string, pick: 'columns' | 'rows') =>
      b.initializer(name, {
        kind: 'derived',
        dataType: storeType,
        dims: [grid, half],
        byteLength: grid * half * (storeType === FLOAT ? 4 : 2),
        produce: async () => fromFloat32((await produceFactors())[pick], storeType),
      });
    const centred = (n: Value, table: Value) => {
      const start = b.op('Div', [b.op('Sub', [b.int64([grid]), n]), b.int64([2])]);
      return b.op('Slice', [table, start, b.op('Add', [start, n]), b.int64([0])]);
    };
    const shape = b.op('Concat', [h, w, b.int64([half])], { axis: 0 });
    const columns = b.op('Expand', [b.op('Unsqueeze', [centred(w, factor('pos_embed.columns', 'columns')), b.int64([0])]), shape]);
    const rows = b.op('Expand', [b.op('Unsqueeze', [centred(h, factor('pos_embed.rows', 'rows')), b.int64([1])]), shape]);
    const crop = b.op('Concat', [columns, rows], { axis: 2 });
    return b.cast(b.op('Reshape', [crop, b.int64([1, -1, dim])]), FLOAT);
  }

  /** CombinedTimestepTextProjEmbeddings, then SiLU (every consumer applies it first); float32. */
  private timeTextEmbed(timestep: Value, pooled: Value): Value {
    const { b, config, dim } = this;
    const ctx32: LayerContext = { ...this.ctx, precision: 'fp32' };
    // Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0): [cos(t·f), sin(t·f)],
    // f_k = exp(−ln(10000)·k/128), each step rounded to float32 as PyTorch computes it.
    const half = 128;
    const frequencies = new Float32Array(half);
    const minusLog = Math.fround(-Math.log(10000));
    for (let k = 0; k < half; k++) frequencies[k] = Math.fround(Math.exp(Math.fround(Math.fround(minusLog * k) / half)));
    const args = b.op('Mul', [b.op('Unsqueeze', [timestep, b.int64([1])]), b.float(frequencies, FLOAT, [1, half])]);
    // t·f reaches 1000 rad; WGSL only bounds sin/cos error inside [−π, π] (SwiftShader is off by
    // 2e-4 at 1000), so reduce first: r = t·f − k·2π in two parts (Cody–Waite), k·6.28125 exact in float32.
    const turns = b.op('Floor', [b.op('Add', [b.op('Mul', [args, b.float(1 / (2 * Math.PI))]), b.float(0.5)])]);
    const twoPiHigh = 6.28125;
    const reduced = b.op('Sub', [
      b.op('Sub', [args, b.op('Mul', [turns, b.float(twoPiHigh)])]),
      b.op('Mul', [turns, b.float(2 * Math.PI - twoPiHigh)]),
    ]);
    const projected = b.op('Concat', [b.op('Cos', [reduced]), b.op('Sin', [reduced])], { axis: 1 });
    const mlp = (input: Value, prefix: string, inFeatures: number) => {
      const hidden = activation(ctx32, linear(ctx32, input, `${prefix}.linear_1`, { inFeatures, outFeatures: dim }), 'silu');
      return linear(ctx32, hidden, `${prefix}.linear_2`, { inFeatures: dim, outFeatures: dim });
    };
    const temb = b.op('Add', [
      mlp(projected, 'time_text_embed.timestep_embedder', 2 * half),
      mlp(pooled, 'time_text_embed.text_embedder', config.pooled_projection_dim),
    ]);
    return b.cast(activation(ctx32, temb, 'silu'), this.compute);
  }

  /**
   * An AdaLN projection `linear(silu(temb))` split into named [B, 1, dim] chunks, in float32.
   * The "1 +" diffusers applies to every scale chunk is added to the bias by constant nodes, which
   * onnxruntime folds when the session is created: the graph keeps the parameter itself under its
   * name (readers of this graph, the rebuild included, take names at their word).
   */
  private modulation<K extends string>(conditioning: Value, prefix: string, chunks: readonly K[]): Record<K, Value> {
    const { b, ctx, dim } = this;
    const n = chunks.length * dim;
    const projected = b.cast(linear(ctx, conditioning, prefix, { inFeatures: dim, outFeatures: n, bias: false }), FLOAT);
    const parameter = weight(
      ctx,
      `${prefix}.bias`,
      [n],
      FLOAT,
      `an AdaLN Linear(${dim} → ${chunks.length}·${dim}) with bias per config.json`,
    );
    const onePerScale = b.float(
      chunks.map((name) => (name.startsWith('scale') ? 1 : 0)),
      FLOAT,
      [chunks.length, 1],
    );
    const ones = b.op('Reshape', [b.op('Expand', [onePerScale, b.int64([chunks.length, dim])]), b.int64([n])]);
    const bias = b.op('Add', [parameter, ones]);
    const perChunk = b.op('Reshape', [b.op('Add', [projected, bias]), b.int64([0, chunks.length, dim])]);
    const parts = b.node('Split', [perChunk], { attrs: { axis: 1 }, outputs: chunks.length });
    return Object.fromEntries(chunks.map((name, i) => [name, parts[i]])) as Record<K, Value>;
  }

  /** normed · scale + shift (scale already holds 1 + scale), float32. */
  private modulate(normed: Value, scalePlusOne: Value, shift: Value): Value {
    return this.b.op('Add', [this.b.op('Mul', [normed, scalePlusOne]), shift]);
  }

  /** residual + gate · update, float32. */
  private gatedAdd(residual: Value, gate: Value, update: Value): Value {
    return this.b.op('Add', [residual, this.b.op('Mul', [gate, this.b.cast(update, FLOAT)])]);
  }

  /** to_q/to_k/to_v (or the add_*_proj context projections) with the optional per-head RMS norm, in the compute type. */
  private qkv(x: Value, prefix: string, names: [string, string, string], norms: [string, string]): [Value, Value, Value] {
    const { ctx, config, dim } = this;
    const project = (name: string) => linear(ctx, x, `${prefix}.${name}`, { inFeatures: dim, outFeatures: dim });
    let [q, k] = [project(names[0]), project(names[1])];
    const v = project(names[2]);
    if (config.qk_norm === 'rms_norm') {
      q = perHeadRmsNorm(ctx, q, this.heads, this.headDim, `${prefix}.${norms[0]}`, EPS);
      k = perHeadRmsNorm(ctx, k, this.heads, this.headDim, `${prefix}.${norms[1]}`, EPS);
    }
    return [q, k, v];
  }

  private feedForward(x: Value, prefix: string): Value {
    const { ctx, b, dim } = this;
    const inner = 4 * dim;
    // GELU(tanh) with the first Linear's bias fused into FastGelu.
    const up = linear(ctx, x, `${prefix}.net.0.proj`, { inFeatures: dim, outFeatures: inner, bias: false });
    const bias = weight(ctx, `${prefix}.net.0.proj.bias`, [inner], up.type, `a Linear(${dim} → ${inner}) with bias per config.json`);
    const hidden = b.msOp('FastGelu', [up, bias]);
    return linear(ctx, hidden, `${prefix}.net.2`, { inFeatures: inner, outFeatures: dim });
  }

  private block(index: number, x: Value, c: Value, conditioning: Value): { x: Value; c: Value | undefined } {
    const { b, ctx, config, dim } = this;
    const prefix = `transformer_blocks.${index}`;
    const dual = config.dual_attention_layers.includes(index);
    const last = index === config.num_layers - 1;

    // AdaLayerNormZero / SD35AdaLayerNormZeroX on the image stream.
    const mod = this.modulation(
      conditioning,
      `${prefix}.norm1.linear`,
      dual
        ? (['shift_msa', 'scale_msa', 'gate_msa', 'shift_mlp', 'scale_mlp', 'gate_mlp', 'shift_msa2', 'scale_msa2', 'gate_msa2'] as const)
        : (['shift_msa', 'scale_msa', 'gate_msa', 'shift_mlp', 'scale_mlp', 'gate_mlp'] as const),
    ) as Record<string, Value>;
    const xNormed = layerNorm(ctx, x, { dim, eps: EPS });
    const xIn = b.cast(this.modulate(xNormed, mod.scale_msa, mod.shift_msa), this.compute);

    // The context stream: AdaLayerNormZero, or AdaLayerNormContinuous (scale first) in the last block.
    const cMod = this.modulation(
      conditioning,
      `${prefix}.norm1_context.linear`,
      last
        ? (['scale_msa', 'shift_msa'] as const)
        : (['shift_msa', 'scale_msa', 'gate_msa', 'shift_mlp', 'scale_mlp', 'gate_mlp'] as const),
    ) as Record<string, Value>;
    const cIn = b.cast(this.modulate(layerNorm(ctx, c, { dim, eps: EPS }), cMod.scale_msa, cMod.shift_msa), this.compute);

    // Joint attention over [image ‖ text] tokens (JointAttnProcessor2_0; no mask).
    const attn = `${prefix}.attn`;
    const [q, k, v] = this.qkv(xIn, attn, ['to_q', 'to_k', 'to_v'], ['norm_q', 'norm_k']);
    const [cq, ck, cv] = this.qkv(cIn, attn, ['add_q_proj', 'add_k_proj', 'add_v_proj'], ['norm_added_q', 'norm_added_k']);
    // Joined in the compute type, then cast once (when the attention runs in float32).
    const joined = (image: Value, text: Value) => b.cast(b.op('Concat', [image, text], { axis: 1 }), this.attentionType);
    const attended = b.scope('attn', () =>
      b.cast(attention(ctx, joined(q, cq), joined(k, ck), joined(v, cv), this.heads, this.headDim), this.compute),
    );
    let imageOut: Value;
    let textOut: Value | undefined;
    if (last) {
      imageOut = b.op('Slice', [attended, b.int64([0]), this.imageTokens, b.int64([1])]);
    } else {
      [imageOut, textOut] = b.node('Split', [attended, this.splitSizes], { attrs: { axis: 1 }, outputs: 2 });
    }
    x = this.gatedAdd(x, mod.gate_msa, linear(ctx, imageOut, `${attn}.to_out.0`, { inFeatures: dim, outFeatures: dim }));

    // SD3.5's second, image-only attention on the same normed input with its own modulation.
    if (dual) {
      const xIn2 = b.cast(this.modulate(xNormed, mod.scale_msa2, mod.shift_msa2), this.compute);
      const [q2, k2, v2] = this.qkv(xIn2, `${prefix}.attn2`, ['to_q', 'to_k', 'to_v'], ['norm_q', 'norm_k']);
      const up = (t: Value) => b.cast(t, this.attentionType);
      const attended2 = b.scope('attn2', () => b.cast(attention(ctx, up(q2), up(k2), up(v2), this.heads, this.headDim), this.compute));
      x = this.gatedAdd(x, mod.gate_msa2, linear(ctx, attended2, `${prefix}.attn2.to_out.0`, { inFeatures: dim, outFeatures: dim }));
    }

    // Feed-forward on the image stream.
    const ffIn = b.cast(this.modulate(layerNorm(ctx, x, { dim, eps: EPS }), mod.scale_mlp, mod.shift_mlp), this.compute);
    x = this.gatedAdd(x, mod.gate_mlp, this.feedForward(ffIn, `${prefix}.ff`));

    if (last) return { x, c: undefined };
    // The context stream's attention output and feed-forward.
    c = this.gatedAdd(c, cMod.gate_msa, linear(ctx, textOut!, `${attn}.to_add_out`, { inFeatures: dim, outFeatures: dim }));
    const cFfIn = b.cast(this.modulate(layerNorm(ctx, c, { dim, eps: EPS }), cMod.scale_mlp, cMod.shift_mlp), this.compute);
    c = this.gatedAdd(c, cMod.gate_mlp, this.feedForward(cFfIn, `${prefix}.ff_context`));
    return { x, c };
  }
}

/**
 * Sizes of the model `config` describes, from the architecture alone: `parameters` as diffusers
 * counts them (`num_parameters()`), and `posEmbedValues`, the pos-embed table the checkpoint also
 * stores (a persistent buffer, not a parameter). For planning memory and checking checkpoints.
 */
export function sd3TransformerSize(config: Sd3TransformerConfig): { parameters: number; posEmbedValues: number } {
  const {
    patch_size: p,
    in_channels: C,
    out_channels: Co,
    joint_attention_dim: J,
    pooled_projection_dim: Pd,
    pos_embed_max_size: P,
  } = config;
  const D = config.num_attention_heads * config.attention_head_dim;
  const qkNorm = config.qk_norm === 'rms_norm' ? 2 * config.attention_head_dim : 0;
  const linearParams = (k: number, n: number) => k * n + n;
  let total = D * C * p * p + D; // patch conv
  total += linearParams(256, D) + linearParams(D, D) + linearParams(Pd, D) + linearParams(D, D); // time_text_embed
  total += linearParams(J, D); // context_embedder
  for (let i = 0; i < config.num_layers; i++) {
    const dual = config.dual_attention_layers.includes(i);
    const last = i === config.num_layers - 1;
    total += linearParams(D, (dual ? 9 : 6) * D); // norm1
    total += linearParams(D, (last ? 2 : 6) * D); // norm1_context
    total += 4 * linearParams(D, D) + qkNorm; // to_q/k/v, to_out
    total += 3 * linearParams(D, D) + qkNorm + (last ? 0 : linearParams(D, D)); // add_*_proj, to_add_out
    if (dual) total += 4 * linearParams(D, D) + qkNorm; // attn2
    total += linearParams(D, 4 * D) + linearParams(4 * D, D); // ff
    if (!last) total += linearParams(D, 4 * D) + linearParams(4 * D, D); // ff_context
  }
  total += linearParams(D, 2 * D) + linearParams(D, p * p * Co); // norm_out, proj_out
  return { parameters: total, posEmbedValues: P * P * D };
}

/** Checks a latent size against what a graph built with `options` takes; an EngineError names the limit. */
export function checkLatentSize(
  config: Sd3TransformerConfig,
  latentHeight: number,
  latentWidth: number,
  options: Sd3TransformerBuildOptions = {},
): void {
  const max = maxLatentSide(config, options);
  for (const [name, value] of [
    ['height', latentHeight],
    ['width', latentWidth],
  ] as const) {
    if (!Number.isInteger(value) || value < config.patch_size || value % config.patch_size !== 0 || value > max) {
      throw new EngineError(
        'invalid-request',
        `latent ${name} ${value} must be a multiple of patch_size ${config.patch_size} from ${config.patch_size} to ${max} (a pos-embed grid of ${options.posEmbedGrid ?? config.pos_embed_max_size} patches)`,
      );
    }
  }
}

/**
 * The state dict of diffusers' SD3Transformer2DModel for `config`: every parameter and the
 * persistent pos-embed buffer, by name, with its shape in PyTorch's layout (Linear weight
 * [out, in], Conv2d weight [out, in, k, k]). The same architecture `sd3TransformerSize` counts;
 * tools that recover a checkpoint from another form (an exported ONNX graph) check against it.
 */
export function sd3TransformerStateDictShapes(config: Sd3TransformerConfig): Map<string, number[]> {
  const { patch_size: p, in_channels: C, out_channels: Co, pos_embed_max_size: P } = config;
  const D = config.num_attention_heads * config.attention_head_dim;
  const headDim = config.attention_head_dim;
  const shapes = new Map<string, number[]>();
  const linear = (prefix: string, inFeatures: number, outFeatures: number) => {
    shapes.set(`${prefix}.weight`, [outFeatures, inFeatures]);
    shapes.set(`${prefix}.bias`, [outFeatures]);
  };
  const qkNorms = (prefix: string, names: string[]) => {
    if (config.qk_norm === 'rms_norm') for (const name of names) shapes.set(`${prefix}.${name}.weight`, [headDim]);
  };
  shapes.set('pos_embed.proj.weight', [D, C, p, p]);
  shapes.set('pos_embed.proj.bias', [D]);
  shapes.set('pos_embed.pos_embed', [1, P * P, D]);
  linear('time_text_embed.timestep_embedder.linear_1', 256, D);
  linear('time_text_embed.timestep_embedder.linear_2', D, D);
  linear('time_text_embed.text_embedder.linear_1', config.pooled_projection_dim, D);
  linear('time_text_embed.text_embedder.linear_2', D, D);
  linear('context_embedder', config.joint_attention_dim, D);
  for (let i = 0; i < config.num_layers; i++) {
    const block = `transformer_blocks.${i}`;
    const dual = config.dual_attention_layers.includes(i);
    const last = i === config.num_layers - 1;
    linear(`${block}.norm1.linear`, D, (dual ? 9 : 6) * D);
    linear(`${block}.norm1_context.linear`, D, (last ? 2 : 6) * D);
    for (const name of ['to_q', 'to_k', 'to_v', 'to_out.0', 'add_q_proj', 'add_k_proj', 'add_v_proj'])
      linear(`${block}.attn.${name}`, D, D);
    if (!last) linear(`${block}.attn.to_add_out`, D, D);
    qkNorms(`${block}.attn`, ['norm_q', 'norm_k', 'norm_added_q', 'norm_added_k']);
    if (dual) {
      for (const name of ['to_q', 'to_k', 'to_v', 'to_out.0']) linear(`${block}.attn2.${name}`, D, D);
      qkNorms(`${block}.attn2`, ['norm_q', 'norm_k']);
    }
    linear(`${block}.ff.net.0.proj`, D, 4 * D);
    linear(`${block}.ff.net.2`, 4 * D, D);
    if (!last) {
      linear(`${block}.ff_context.net.0.proj`, D, 4 * D);
      linear(`${block}.ff_context.net.2`, 4 * D, D);
    }
  }
  linear('norm_out.linear', D, 2 * D);
  linear('proj_out', D, p * p * Co);
  return shapes;
}
