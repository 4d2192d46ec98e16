/**
 * How an SD3-family job uses GPU memory, decided before any session of the job is created: which
 * sessions stay resident, whether the VAE decodes in tiles, and whether the request fits at all.
 *
 * The budget is an explicit number of bytes (RuntimeOptions.memoryBudgetBytes, the CLI's
 * --memory-budget). WebGPU has no query for a device's total or free memory: the adapter reports
 * per-buffer limits only (maxBufferSize, maxStorageBufferBindingSize), which bound the largest
 * single tensor (attention-limits.ts checks those) and say nothing about the sum. So without an
 * explicit budget nothing is refused here and every session stays resident, as before.
 *
 * The estimate, per stage (the peak is the largest):
 * - weights: each component's bytes at its precision (known from the built graphs' weight bytes);
 * - encode: the text encoders' weights (their activations, at most 256 tokens, are tens of MB);
 * - denoise: the transformer's attention at batch 2 with CFG — two [batch, heads, T, T] tensors in
 *   the activation type (scores and probabilities; T = image tokens + text tokens) — plus a working
 *   set of per-token tensors (float32 residual stream, q/k/v/out and the 4× MLP in the activation
 *   type);
 * - decode: the VAE decoder's largest resolution level: three [C, H, W] tensors (a convolution's
 *   input, output and the residual kept for the skip), or its mid-block attention's two [N, N]
 *   tensors (N = latent pixels), whichever is larger; a tiled decode pays that for one tile.
 * The check against the SD3 Medium measurements on an H200 is in test/engine/memory-plan.test.ts.
 *
 * "GB" in messages is 2^30 bytes, the unit GPU memory is sold in.
 */
import type { Precision } from '../onnx/layers.js';
import { EngineError } from '../engine-error.js';
import type { GraphFile } from '../graph-file.js';
import { countAttention } from '../attention-limits.js';
import type { TextEncoderName } from './configs.js';
import type { Sd3Package } from './package.js';
import { conditioningSequenceLength } from './prompt-tokenizers.js';

export const GB = 2 ** 30;

/** One component's weights: bytes as built, and the parameter count (for "what would int4 need"). */
export interface ComponentWeights {
  bytes: number;
  params: number;
}

/** What the estimate needs to know about a package, independent of any request. */
export interface MemoryProfile {
  /** Precision of the transformer and text encoders; undefined for ONNX packages (taken as built, float32 activations). */
  precision?: Precision;
  transformer: ComponentWeights & { heads: number; headDim: number; patchSize: number };
  vaeDecoder: ComponentWeights & { blockOutChannels: number[]; midBlockAttention: boolean; activationBytes: 2 | 4 };
  textEncoders: (ComponentWeights & { name: TextEncoderName; kind: 'clip' | 't5' })[];
  /** Text tokens the transformer attends to besides the image (CLIP length + T5 length). */
  textTokens: number;
  vaeScaleFactor: number;
  sizeMultiple: number;
  maxSide: number;
}

/** Bytes per parameter as the graph builder stores weights (int8/int4: MatMulNBits blocks of 32 with a float32 scale each). */
export function bytesPerParam(precision: Precision): number {
  switch (precision) {
    case 'fp32':
      return 4;
    case 'fp16':
      return 2;
    case 'int8':
      return 1 + 4 / 32;
    case 'int4':
      return 0.5 + 4 / 32;
  }
}

/** fp16 graphs compute matrix products in float16; every other precision computes in float32. */
function activationBytes(precision: Precision | undefined): 2 | 4 {
  return precision === 'fp16' ? 2 : 4;
}

/** Bytes of a graph file and its external data: its weights as they will be uploaded. */
export function graphWeightBytes(graph: GraphFile): number {
  let bytes = graph.model.byteLength;
  for (const file of graph.externalData) bytes += file.data instanceof Uint8Array ? file.data.byteLength : file.data.size;
  return bytes;
}

/** The profile of a checked package: weights from its graphs' bytes, shapes from its configs. */
export function profileOfPackage(pkg: Sd3Package): MemoryProfile {
  const per = bytesPerParam(pkg.precision ?? 'fp32');
  const weights = (graph: GraphFile): ComponentWeights => {
    const bytes = graphWeightBytes(graph);
    return { bytes, params: Math.round(bytes / per) };
  };
  const transformer = pkg.transformer.config;
  const vaeGraph = pkg.vaeDecoder.graph;
  const vaeBytes = graphWeightBytes(vaeGraph);
  const census = countAttention(vaeGraph.summary);
  return {
    ...(pkg.precision ? { precision: pkg.precision } : {}),
    transformer: {
      ...weights(pkg.transformer.graph),
      heads: transformer.num_attention_heads,
      headDim: transformer.attention_head_dim,
      patchSize: transformer.patch_size,
    },
    vaeDecoder: {
      bytes: vaeBytes,
      params: Math.round(vaeBytes / 4),
      blockOutChannels: pkg.vaeDecoder.config.block_out_channels,
      midBlockAttention: census.fused + census.unfused > 0,
      // The SD3 VAE asks for float32 (force_upcast) and an fp16 one is smaller: float32 is the safe side.
      activationBytes: 4,
    },
    textEncoders: pkg.textEncoders.map((encoder) => ({ ...weights(encoder.graph), name: encoder.name, kind: encoder.kind })),
    textTokens: conditioningSequenceLength(pkg),
    vaeScaleFactor: pkg.geometry.vaeScaleFactor,
    sizeMultiple: pkg.geometry.sizeMultiple,
    maxSide: pkg.geometry.maxSide,
  };
}

/** The same package with its transformer and text encoders built in `precision` (the VAE keeps its own). */
export function withPrecision(profile: MemoryProfile, precision: Precision): MemoryProfile {
  const at = (c: ComponentWeights) => ({ bytes: Math.round(c.params * bytesPerParam(precision)), params: c.params });
  return {
    ...profile,
    precision,
    transformer: { ...profile.transformer, ...at(profile.transformer) },
    textEncoders: profile.textEncoders.map((encoder) => ({ ...encoder, ...at(encoder) })),
  };
}

/** The same package without T5 (diffusers: text_encoder_3=None; its block becomes zeros of the same length). */
export function withoutT5(profile: MemoryProfile): MemoryProfile {
  return { ...profile, textEncoders: profile.textEncoders.filter((encoder) => encoder.kind !== 't5') };
}

/**
 * Which sessions stay between stages:
 * - 'keep': everything stays loaded (a second image creates nothing);
 * - 'release-text-encoders': the text encoders are created for the prompt and released right after,
 *   before the transformer's activations need the memory.
 */
export type SessionResidency = 'keep' | 'release-text-encoders';

export interface MemoryRequest {
  width: number;
  height: number;
  cfg: boolean;
}

export interface MemoryEstimate {
  residency: SessionResidency;
  /** Latent tile side when the decode is tiled; undefined for one untiled decode. */
  tileLatentSize?: number;
  weights: { transformer: number; vaeDecoder: number; textEncoders: number };
  activations: { transformer: number; vaeDecode: number };
  stages: { encode: number; denoise: number; decode: number };
  peak: number;
}

/** Bytes of the transformer's activations for one call at `request`'s size. */
export function transformerActivationBytes(profile: MemoryProfile, request: MemoryRequest): number {
  const { heads, headDim, patchSize } = profile.transformer;
  const latentHeight = request.height / profile.vaeScaleFactor;
  const latentWidth = request.width / profile.vaeScaleFactor;
  const tokens = Math.ceil(latentHeight / patchSize) * Math.ceil(latentWidth / patchSize) + profile.textTokens;
  const batch = request.cfg ? 2 : 1;
  const act = activationBytes(profile.precision);
  const attention = 2 * batch * heads * tokens * tokens * act;
  // float32 residual stream (4 tensors) + q, k, v, attention out (4) and the MLP's 4× hidden (2 × 4).
  const working = batch * tokens * heads * headDim * (4 * 4 + 12 * act);
  const quantised = profile.precision === 'int8' || profile.precision === 'int4';
  return Math.ceil((attention + working) * (quantised ? QUANTISED_ACTIVATION_FACTOR : ACTIVATION_MARGIN));
}

/**
 * Measured on an H200 (bench:real, 1024² with CFG; test/engine/memory-plan.test.ts lists the runs):
 * float graphs peak within 5 % of the sum above, but int8/int4 graphs (MatMulNBits, float32
 * activations) peaked at 1.16× (SD3.5 Medium int8) to 1.68× (SD3.5 Large int4) of it. Where the
 * rest goes is not known yet (the peak was sampled for the whole run, not per phase), so the
 * estimate takes the largest factor seen: the safe side for the budget check.
 */
const ACTIVATION_MARGIN = 1.05;
const QUANTISED_ACTIVATION_FACTOR = 1.7;

/** Bytes of the VAE decoder's activations for latents of `latentHeight` × `latentWidth`. */
export function vaeDecodeActivationBytes(profile: MemoryProfile, latentHeight: number, latentWidth: number): number {
  const { blockOutChannels, midBlockAttention, activationBytes: act } = profile.vaeDecoder;
  const reversed = [...blockOutChannels].reverse();
  // Up block i runs at 2^i × the latent size; its input has the previous block's channels.
  let largest = reversed[0] * latentHeight * latentWidth;
  for (let i = 1; i < reversed.length; i++) {
    largest = Math.max(largest, Math.max(reversed[i - 1], reversed[i]) * latentHeight * latentWidth * 4 ** i);
  }
  const convolutions = 3 * largest * act;
  const pixels = latentHeight * latentWidth;
  const attention = midBlockAttention ? 2 * pixels * pixels * act : 0;
  return Math.max(convolutions, attention);
}

/** Latent tile sides tried for a tiled decode, largest first (diffusers uses 128 for SD3's VAE). */
export const TILE_LATENT_SIZES = [128, 64, 32] as const;

/** Without a budget, decodes whose activations exceed this are tiled: SD3's VAE passes it above ~1200² px. */
export const UNBUDGETED_DECODE_LIMIT_BYTES = 4 * GB;

export interface DecodeChoice {
  /** 'auto' (default): tile only above the budget (or, without one, UNBUDGETED_DECODE_LIMIT_BYTES); 'always'; 'never'. */
  vaeTiling?: 'auto' | 'always' | 'never';
  /** The tile side when tiling ('always' uses it; 'auto' starts from it), in latents. Default 128. */
  vaeTileLatentSize?: number;
}

/** Estimates a request under one residency and decode choice. */
export function estimateMemory(
  profile: MemoryProfile,
  request: MemoryRequest,
  residency: SessionResidency,
  tileLatentSize?: number,
): MemoryEstimate {
  const latentHeight = request.height / profile.vaeScaleFactor;
  const latentWidth = request.width / profile.vaeScaleFactor;
  const weights = {
    transformer: profile.transformer.bytes,
    vaeDecoder: profile.vaeDecoder.bytes,
    textEncoders: profile.textEncoders.reduce((sum, encoder) => sum + encoder.bytes, 0),
  };
  const tiled = tileLatentSize !== undefined && (latentHeight > tileLatentSize || latentWidth > tileLatentSize);
  const vaeDecode = tiled
    ? vaeDecodeActivationBytes(profile, Math.min(tileLatentSize, latentHeight), Math.min(tileLatentSize, latentWidth)) +
      // the output and two rows of decoded tiles, float32
      3 * request.width * request.height * 4 * 2
    : vaeDecodeActivationBytes(profile, latentHeight, latentWidth);
  const activations = { transformer: transformerActivationBytes(profile, request), vaeDecode };
  const resident = weights.transformer + weights.vaeDecoder + (residency === 'keep' ? weights.textEncoders : 0);
  const stages = {
    encode: weights.transformer + weights.vaeDecoder + weights.textEncoders,
    denoise: resident + activations.transformer,
    decode: resident + activations.vaeDecode,
  };
  return {
    residency,
    ...(tiled ? { tileLatentSize } : {}),
    weights,
    activations,
    stages,
    peak: Math.max(stages.encode, stages.denoise, stages.decode),
  };
}

/**
 * The plan for a request: the most resident residency that fits, and an untiled decode when it
 * fits (else the largest tile that does). Without a budget: everything resident, and tiles only
 * above UNBUDGETED_DECODE_LIMIT_BYTES. `fits` is false when nothing does (the estimate is then the
 * most frugal plan's).
 */
export function planMemory(
  profile: MemoryProfile,
  request: MemoryRequest,
  budget: number | undefined,
  choice: DecodeChoice = {},
): MemoryEstimate & { fits: boolean } {
  const mode = choice.vaeTiling ?? 'auto';
  const firstTile = choice.vaeTileLatentSize ?? TILE_LATENT_SIZES[0];
  const tiles: (number | undefined)[] =
    mode === 'always'
      ? [firstTile]
      : mode === 'never'
        ? [undefined]
        : [undefined, firstTile, ...TILE_LATENT_SIZES.filter((t) => t < firstTile)];
  if (budget === undefined) {
    const untiled = estimateMemory(profile, request, 'keep', mode === 'always' ? firstTile : undefined);
    if (mode !== 'auto' || untiled.activations.vaeDecode <= UNBUDGETED_DECODE_LIMIT_BYTES) return { ...untiled, fits: true };
    return { ...estimateMemory(profile, request, 'keep', firstTile), fits: true };
  }
  let last: MemoryEstimate | undefined;
  for (const residency of ['keep', 'release-text-encoders'] as const) {
    for (const tile of tiles) {
      last = estimateMemory(profile, request, residency, tile);
      if (last.peak <= budget) return { ...last, fits: true };
    }
  }
  return { ...last!, fits: false };
}

export function formatGB(bytes: number): string {
  return `${(bytes / GB).toFixed(1)} GB`;
}

/**
 * Throws 'size-exceeds-gpu-limits' when `request` cannot fit `budget` under any plan, naming the
 * need and the budget and what would fit, in order: the largest size of the same aspect ratio,
 * int4 weights, dropping T5. Returns the plan otherwise.
 */
export function checkMemoryBudget(
  profile: MemoryProfile,
  request: MemoryRequest,
  budget: number | undefined,
  choice: DecodeChoice = {},
): MemoryEstimate {
  const plan = planMemory(profile, request, budget, choice);
  if (plan.fits || budget === undefined) return plan;
  throw new EngineError('size-exceeds-gpu-limits', memoryBudgetMessage(profile, request, budget, plan, choice));
}

function memoryBudgetMessage(
  profile: MemoryProfile,
  request: MemoryRequest,
  budget: number,
  plan: MemoryEstimate,
  choice: DecodeChoice,
): string {
  const { width, height } = request;
  const stage = (Object.entries(plan.stages) as [keyof MemoryEstimate['stages'], number][]).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  const parts = [
    `transformer ${formatGB(plan.weights.transformer)}`,
    ...(plan.weights.textEncoders > 0 ? [`text encoders ${formatGB(plan.weights.textEncoders)}`] : []),
    `VAE decoder ${formatGB(plan.weights.vaeDecoder)}`,
    ...(stage === 'denoise'
      ? [`attention at ${width}x${height}${request.cfg ? ' with CFG (batch 2)' : ''} ${formatGB(plan.activations.transformer)}`]
      : []),
    ...(stage === 'decode' ? [`VAE decode ${formatGB(plan.activations.vaeDecode)}`] : []),
  ];
  const suggestions: string[] = [];
  const size = largestFittingSize(profile, request, budget, choice);
  if (size) suggestions.push(`${size.width}x${size.height} (the largest ${aspect(width, height)} size that fits, ${formatGB(size.peak)})`);
  else suggestions.push(`no ${aspect(width, height)} size fits with these weights`);
  if (profile.precision !== undefined && profile.precision !== 'int4') {
    const int4 = planMemory(withPrecision(profile, 'int4'), request, budget, choice);
    suggestions.push(
      int4.fits ? `int4 weights at ${width}x${height} (${formatGB(int4.peak)})` : `int4 weights would still need ${formatGB(int4.peak)}`,
    );
  }
  if (profile.textEncoders.some((encoder) => encoder.kind === 't5')) {
    const noT5 = planMemory(withoutT5(profile), request, budget, choice);
    suggestions.push(
      noT5.fits
        ? `dropping T5 (text_encoder_3) at ${width}x${height} (${formatGB(noT5.peak)})`
        : `dropping T5 would still need ${formatGB(noT5.peak)}`,
    );
  }
  return (
    `${width}x${height} needs about ${formatGB(plan.peak)} of GPU memory at its peak (${stage}: ${parts.join(', ')}), ` +
    `more than the memory budget of ${formatGB(budget)}; what would fit: ${suggestions.join('; ')}`
  );
}

function aspect(width: number, height: number): string {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const d = gcd(width, height);
  return `${width / d}:${height / d}`;
}

/** The largest size on the model's grid with (about) the request's aspect ratio whose plan fits. */
export function largestFittingSize(
  profile: MemoryProfile,
  request: MemoryRequest,
  budget: number,
  choice: DecodeChoice = {},
): { width: number; height: number; peak: number } | undefined {
  const m = profile.sizeMultiple;
  // Scale down the longer side one grid step at a time; the other side follows the aspect ratio.
  const longer = Math.max(request.width, request.height);
  for (let side = Math.floor(longer / m) * m; side >= m; side -= m) {
    const scale = side / longer;
    const width = Math.max(m, Math.round((request.width * scale) / m) * m);
    const height = Math.max(m, Math.round((request.height * scale) / m) * m);
    if (width >= request.width && height >= request.height) continue;
    const plan = planMemory(profile, { ...request, width, height }, budget, choice);
    if (plan.fits) return { width, height, peak: plan.peak };
  }
  return undefined;
}
