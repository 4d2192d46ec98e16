/**
 * Does this device compute com.microsoft MultiHeadAttention correctly? onnxruntime-web 1.30's
 * WebGPU kernel gives wrong results on some adapters: on Chromium's SwiftShader, with the
 * "subgroups" feature, every sequence of 32 tokens or more is off by 1e-2…3e-1, while the same
 * kernel without subgroups, and the explicit MatMul/Softmax/MatMul form, are right. The engine asks
 * once per page, with a small graph at the shapes that fail (batch 2, 48 tokens, two heads of 64)
 * against a plain-JavaScript reference: fused attention as it is; else fused attention with
 * subgroups hidden from onnxruntime; else the explicit form for graphs the engine builds (and WASM
 * for packages that bring fused attention of their own). About a hundred milliseconds on a real
 * GPU, a few seconds on SwiftShader.
 */
import type { Backend } from '../../common/engine-types.js';
import { DataType } from './onnx/data-types.js';
import { GraphBuilder } from './onnx/graph-builder.js';
import { serializeGraphAsync } from './onnx/serialize-graph.js';
import { createSessionAsync } from './ort-backend.js';
import { hideSubgroups, subgroupsHidden } from './webgpu-subgroups.js';

const BATCH = 2;
const TOKENS = 48;
const HEADS = 2;
const HEAD_DIM = 64;
/** Float32 attention lands within ~1e-6 of the reference; the broken kernel misses by 1e-2 or more. */
const TOLERANCE = 1e-3;

/** One run of the check. */
export interface FusedAttentionCheck {
  ok: boolean;
  /** Max |fused − reference| over the test output. */
  maxError: number;
  ms: number;
}

/** Which attention kernel graphs on this device use, and why. */
export interface AttentionKernelDecision {
  kernel: 'fused' | 'unfused';
  /** onnxruntime was kept from using WebGPU subgroups (its fused kernel is right only without them here). */
  subgroupsHidden: boolean;
  /** Each check made, in order. */
  checks: (FusedAttentionCheck & { subgroups: 'available' | 'hidden' })[];
  /** One sentence for ModelInfo.notes, when the device needed a workaround. */
  note?: string;
}

let cached: Promise<AttentionKernelDecision> | undefined;

/**
 * The decision for `backend` ('wasm' needs none: its kernel is exact). Made once per page; run it
 * before the page's first WebGPU session, so that onnxruntime can make its device again without
 * subgroups when that is the fix (it remakes its device once its last session is released).
 */
export function decideAttentionKernelAsync(backend: Backend): Promise<AttentionKernelDecision> {
  if (backend === 'wasm') return Promise.resolve({ kernel: 'fused', subgroupsHidden: false, checks: [] });
  cached ??= decideAsync().catch((error) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

/** For tests: forget the cached decision. */
export function resetAttentionKernelDecision(): void {
  cached = undefined;
}

async function decideAsync(): Promise<AttentionKernelDecision> {
  const checks: AttentionKernelDecision['checks'] = [];
  const first = await runCheckAsync();
  checks.push({ ...first, subgroups: subgroupsHidden() ? 'hidden' : 'available' });
  if (first.ok) return { kernel: 'fused', subgroupsHidden: subgroupsHidden(), checks };
  if (!subgroupsHidden() && hideSubgroups()) {
    const second = await runCheckAsync();
    checks.push({ ...second, subgroups: 'hidden' });
    if (second.ok) {
      return {
        kernel: 'fused',
        subgroupsHidden: true,
        checks,
        note: `this GPU's fused attention with subgroups was wrong (max error ${first.maxError.toExponential(1)}); running it without subgroups`,
      };
    }
  }
  return {
    kernel: 'unfused',
    subgroupsHidden: subgroupsHidden(),
    checks,
    note: `this GPU computes fused attention wrongly (max error ${checks[checks.length - 1].maxError.toExponential(1)}); graphs use explicit attention, which limits image size`,
  };
}

function inputs(): Float32Array[] {
  const n = BATCH * TOKENS * HEADS * HEAD_DIM;
  return [0, 1, 2].map((phase) => {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.fround(Math.sin(0.37 * i + phase) * Math.cos(0.011 * i));
    return x;
  });
}

/** softmax(q·kᵀ/√d)·v per batch and head, in float64. */
export function referenceAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  batch: number,
  tokens: number,
  heads: number,
  headDim: number,
): Float32Array {
  const width = heads * headDim;
  const out = new Float32Array(q.length);
  const scores = new Float64Array(tokens);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < tokens; i++) {
        let max = -Infinity;
        for (let j = 0; j < tokens; j++) {
          let dot = 0;
          for (let d = 0; d < headDim; d++)
            dot += q[(b * tokens + i) * width + h * headDim + d] * k[(b * tokens + j) * width + h * headDim + d];
          scores[j] = dot / Math.sqrt(headDim);
          max = Math.max(max, scores[j]);
        }
        let total = 0;
        for (let j = 0; j < tokens; j++) total += scores[j] = Math.exp(scores[j] - max);
        for (let d = 0; d < headDim; d++) {
          let sum = 0;
          for (let j = 0; j < tokens; j++) sum += scores[j] * v[(b * tokens + j) * width + h * headDim + d];
          out[(b * tokens + i) * width + h * headDim + d] = sum / total;
        }
      }
    }
  }
  return out;
}

async function runCheckAsync(): Promise<FusedAttentionCheck> {
  const started = performance.now();
  const b = new GraphBuilder('fused_attention_check');
  const shape = [BATCH, TOKENS, HEADS * HEAD_DIM];
  const [q, k, v] = ['q', 'k', 'v'].map((name) => b.input(name, DataType.FLOAT, shape));
  b.output(b.msOp('MultiHeadAttention', [q, k, v], { num_heads: HEADS }), 'out', shape);
  const { model } = await serializeGraphAsync(b.build());
  const session = await createSessionAsync({ label: 'fused attention check', model, backend: 'webgpu' });
  try {
    const [qd, kd, vd] = inputs();
    const outputs = await session.runAsync({
      q: { type: 'float32', data: qd, dims: shape },
      k: { type: 'float32', data: kd, dims: shape },
      v: { type: 'float32', data: vd, dims: shape },
    });
    const got = outputs.out.data as Float32Array;
    const want = referenceAttention(qd, kd, vd, BATCH, TOKENS, HEADS, HEAD_DIM);
    let maxError = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      if (!(d <= maxError)) maxError = Number.isNaN(d) ? Infinity : d;
    }
    return { ok: maxError <= TOLERANCE, maxError, ms: performance.now() - started };
  } finally {
    await session.releaseAsync();
  }
}
