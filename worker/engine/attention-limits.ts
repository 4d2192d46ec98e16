/**
 * Never silently wrong on WebGPU: an attention that is exported unfused (MatMul → Softmax → MatMul)
 * materialises the score tensor [B, heads, T, T] in float32. When it is larger than the adapter's
 * maxStorageBufferBindingSize, the WebGPU EP has been measured to return wrong numbers without an
 * error: a plain fp32 SD3-Medium-width MM-DiT export with CFG ([2, 24, T, T] scores) was right at
 * latent 64 and 96 and off by 0.9–2 % (relative L2) at 112 and 128, where the tensor passes 2 GiB
 * (onnxruntime-web 1.30 on an NVIDIA H100 through Dawn). Fused
 * com.microsoft MultiHeadAttention never builds that tensor and is fine.
 *
 * The engine's choice when the tensor does not fit: refuse with 'size-exceeds-gpu-limits', naming
 * the limit and the largest size of the same aspect ratio that fits. (Running the job on WASM
 * instead would be correct but tens of times slower without the user choosing it.)
 */
import { EngineError } from './engine-error.js';
import type { OnnxGraphSummary } from './onnx-graph.js';

export interface AttentionCensus {
  /** com.microsoft MultiHeadAttention / Attention / GroupQueryAttention nodes. */
  fused: number;
  /** Softmax nodes fed (through at most a few elementwise nodes) by a MatMul. */
  unfused: number;
}

const FUSED_ATTENTION_OPS = new Set(['MultiHeadAttention', 'Attention', 'GroupQueryAttention', 'PackedMultiHeadAttention']);
/** Ops that may sit between the score MatMul and the Softmax (scale, mask, casts). */
const PASS_THROUGH_OPS = new Set(['Mul', 'Div', 'Add', 'Cast', 'Where', 'Reshape']);

export function countAttention(graph: OnnxGraphSummary): AttentionCensus {
  const producer = new Map<string, { opType: string; inputs: string[] }>();
  for (const node of graph.nodes) for (const output of node.outputs) producer.set(output, node);
  const census: AttentionCensus = { fused: 0, unfused: 0 };
  for (const node of graph.nodes) {
    if (node.domain === 'com.microsoft' && FUSED_ATTENTION_OPS.has(node.opType)) census.fused += 1;
    if (node.opType !== 'Softmax') continue;
    let frontier = [node.inputs[0]];
    for (let hop = 0; hop < 4 && frontier.length > 0; hop++) {
      const producers = frontier.map((name) => producer.get(name)).filter((p) => p !== undefined);
      if (producers.some((p) => p.opType === 'MatMul' || p.opType === 'Einsum')) {
        census.unfused += 1;
        break;
      }
      frontier = producers.filter((p) => PASS_THROUGH_OPS.has(p.opType)).flatMap((p) => p.inputs);
    }
  }
  return census;
}

export interface AttentionSite {
  /** Package path, for the message. */
  label: string;
  census: AttentionCensus;
  batch: number;
  heads: number;
  /** Tokens attended at the requested size (T in [B, heads, T, T]). */
  tokens: number;
  /** Tokens that do not grow with the image (text tokens), so the fitting size can be solved for. */
  fixedTokens: number;
}

/** Bytes of the float32 attention-score tensor [B, heads, T, T]. */
export function attentionScoreBytes(site: Pick<AttentionSite, 'batch' | 'heads' | 'tokens'>): number {
  return site.batch * site.heads * site.tokens * site.tokens * 4;
}

/**
 * Throws 'size-exceeds-gpu-limits' when an unfused attention's score tensor would not fit in one
 * storage-buffer binding. `width`/`height` are the planned pixel size; `sizeMultiple` its grid.
 */
export function checkAttentionFitsGpu(
  sites: AttentionSite[],
  request: { width: number; height: number; sizeMultiple: number },
  maxStorageBufferBindingSize: number,
): void {
  const unfused = sites.filter((site) => site.census.unfused > 0);
  const failing = unfused.find((site) => attentionScoreBytes(site) > maxStorageBufferBindingSize);
  if (!failing) return;
  // The size to suggest must fit every site (transformer and VAE scale differently with size).
  const fits = unfused.map((site) => largestFittingSize(site, request, maxStorageBufferBindingSize));
  const fit = fits.includes(undefined) ? undefined : fits.reduce((a, b) => (b!.width * b!.height < a!.width * a!.height ? b : a));
  const advice = fit
    ? `the largest ${request.width}:${request.height} size that fits is ${fit.width}x${fit.height}`
    : 'no size of this aspect ratio fits';
  const bytes = attentionScoreBytes(failing);
  throw new EngineError(
    'size-exceeds-gpu-limits',
    `${request.width}x${request.height} needs a ${formatBytes(bytes)} attention-score tensor in ${failing.label} ` +
      `(unfused attention, [${failing.batch}, ${failing.heads}, ${failing.tokens}, ${failing.tokens}] float32), more than this GPU's ` +
      `maxStorageBufferBindingSize of ${formatBytes(maxStorageBufferBindingSize)}; ${advice}, or use the WASM backend ` +
      `(slower, no such limit), or a model exported with fused MultiHeadAttention`,
  );
}

/** Scales the image tokens down, keeping the aspect ratio, until the scores fit. */
function largestFittingSize(
  site: AttentionSite,
  request: { width: number; height: number; sizeMultiple: number },
  limit: number,
): { width: number; height: number } | undefined {
  const maxTokens = Math.floor(Math.sqrt(limit / (4 * site.batch * site.heads)));
  const imageTokens = site.tokens - site.fixedTokens;
  const maxImageTokens = maxTokens - site.fixedTokens;
  if (maxImageTokens <= 0 || imageTokens <= 0) return undefined;
  const scale = Math.sqrt(maxImageTokens / imageTokens);
  const m = request.sizeMultiple;
  let width = Math.floor((request.width * scale) / m) * m;
  let height = Math.floor((request.height * scale) / m) * m;
  // Rounding can leave it one step too big; shrink until the token count fits.
  while (width >= m && height >= m && ((width * height) / (request.width * request.height)) * imageTokens > maxImageTokens) {
    if (width >= height) width -= m;
    else height -= m;
  }
  return width >= m && height >= m ? { width, height } : undefined;
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${bytes} bytes`;
}
