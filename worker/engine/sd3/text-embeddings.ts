/**
 * SD3 conditioning assembly, as diffusers `StableDiffusion3Pipeline.encode_prompt` (@58eb52c),
 * over plain float32 tensors (no ORT):
 *
 *   clip   = concat_lastdim(clipEncoder_i.hiddenStates)            [B, S_clip, ΣH_i]  (penultimate layer)
 *   clip   = zero-pad last dim to the T5 width (= joint_attention_dim)   [B, S_clip, D]
 *   embeds = concat_seq(clip, t5 ?? zeros[B, maxSequenceLength, D])      [B, S_clip + S_t5, D]
 *   pooled = concat_lastdim(clipEncoder_i.pooled)                   [B, ΣP_i] (must equal pooled_projection_dim)
 *
 * An absent T5 is zeros of shape [B, max_sequence_length, joint_attention_dim] (diffusers
 * `_get_t5_prompt_embeds` with `text_encoder_3 = None`), never dropped.
 */

/** A dense float32 tensor in C order. */
export interface Tensor32 {
  data: Float32Array;
  dims: readonly number[];
}

/** One CLIP-style encoder's outputs for a batch of prompts. */
export interface ClipStyleOutput {
  /** Per-token hidden states the pipeline uses (SD3: hidden_states[−2]), [B, S, H]. */
  hiddenStates: Tensor32;
  /** Pooled projection (text_embeds), [B, P]. */
  pooled: Tensor32;
}

/** The model dimensions that shape the conditioning (transformer/config.json). */
export interface ConditioningGeometry {
  /** transformer config.joint_attention_dim: width of every conditioning token. */
  jointAttentionDim: number;
  /** transformer config.pooled_projection_dim: width of the pooled vector. */
  pooledProjectionDim: number;
}

export interface PromptEmbeddings {
  /** [B, S, jointAttentionDim] */
  promptEmbeds: Tensor32;
  /** [B, pooledProjectionDim] */
  pooledEmbeds: Tensor32;
}

export interface AssembleOptions extends ConditioningGeometry {
  /** T5 last hidden state [B, S_t5, jointAttentionDim], or absent. */
  t5?: Tensor32;
  /** Length of the zero T5 block when `t5` is absent (diffusers max_sequence_length, SD3 default 256). */
  maxSequenceLength: number;
}

function checkDims(name: string, t: Tensor32, rank: number): void {
  if (t.dims.length !== rank || !t.dims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(`${name} must have ${rank} positive dims, got [${t.dims.join(', ')}]`);
  }
  const size = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== size) {
    throw new RangeError(`${name} has ${t.data.length} values but dims [${t.dims.join(', ')}] need ${size}`);
  }
}

/** Concatenates [B, ..., X_i] tensors along the last axis (all leading dims equal). */
function concatLastDim(name: string, tensors: readonly Tensor32[]): Tensor32 {
  const lead = tensors[0].dims.slice(0, -1);
  for (const [i, t] of tensors.entries()) {
    if (t.dims.length !== lead.length + 1 || lead.some((d, k) => t.dims[k] !== d)) {
      throw new RangeError(
        `${name}[${i}] has dims [${t.dims.join(', ')}]; every encoder must share the leading dims [${lead.join(', ')}] (same batch and token count)`,
      );
    }
  }
  const rows = lead.reduce((a, b) => a * b, 1);
  const widths = tensors.map((t) => t.dims[t.dims.length - 1]);
  const total = widths.reduce((a, b) => a + b, 0);
  const data = new Float32Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let off = r * total;
    tensors.forEach((t, i) => {
      data.set(t.data.subarray(r * widths[i], (r + 1) * widths[i]), off);
      off += widths[i];
    });
  }
  return { data, dims: [...lead, total] };
}

/**
 * Builds SD3 prompt embeddings from one or more CLIP-style encoders and an optional T5.
 * Throws when the widths do not fit the transformer (a mismatched package), naming the numbers.
 */
export function assembleSd3Conditioning(clipOutputs: readonly ClipStyleOutput[], options: AssembleOptions): PromptEmbeddings {
  const { jointAttentionDim: D, pooledProjectionDim: P, t5, maxSequenceLength } = options;
  for (const [name, v] of [
    ['jointAttentionDim', D],
    ['pooledProjectionDim', P],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  if (clipOutputs.length === 0) {
    throw new RangeError(
      'assembleSd3Conditioning needs at least one CLIP-style encoder output; for a package without text encoders use zeroEmbeddings()',
    );
  }
  clipOutputs.forEach((o, i) => {
    checkDims(`clip[${i}].hiddenStates`, o.hiddenStates, 3);
    checkDims(`clip[${i}].pooled`, o.pooled, 2);
  });
  const clip = concatLastDim(
    'clip hiddenStates',
    clipOutputs.map((o) => o.hiddenStates),
  );
  const pooled = concatLastDim(
    'clip pooled',
    clipOutputs.map((o) => o.pooled),
  );
  const [B, S, H] = clip.dims;
  if (pooled.dims[0] !== B) {
    throw new RangeError(`pooled batch ${pooled.dims[0]} differs from hidden-state batch ${B}`);
  }
  if (pooled.dims[1] !== P) {
    throw new RangeError(
      `pooled widths sum to ${pooled.dims[1]} but transformer pooled_projection_dim is ${P}; the text encoders do not match this transformer`,
    );
  }
  // diffusers pads the CLIP block to the T5 width; a T5 narrower than D would break the transformer.
  let t5Block: Tensor32;
  if (t5) {
    checkDims('t5', t5, 3);
    if (t5.dims[0] !== B || t5.dims[2] !== D) {
      throw new RangeError(`t5 hidden states are [${t5.dims.join(', ')}]; expected [${B}, S, ${D}] (batch ${B}, joint_attention_dim ${D})`);
    }
    t5Block = t5;
  } else {
    if (!Number.isInteger(maxSequenceLength) || maxSequenceLength < 0) {
      throw new RangeError(`maxSequenceLength must be a non-negative integer, got ${maxSequenceLength}; SD3 uses 256`);
    }
    t5Block = { data: new Float32Array(B * maxSequenceLength * D), dims: [B, maxSequenceLength, D] };
  }
  if (H > D) {
    throw new RangeError(
      `CLIP hidden widths sum to ${H}, more than joint_attention_dim ${D}; diffusers would truncate them — the text encoders do not match this transformer`,
    );
  }
  const St5 = t5Block.dims[1];
  const seq = S + St5;
  const data = new Float32Array(B * seq * D);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      data.set(clip.data.subarray((b * S + s) * H, (b * S + s + 1) * H), (b * seq + s) * D);
    }
    data.set(t5Block.data.subarray(b * St5 * D, (b + 1) * St5 * D), (b * seq + S) * D);
  }
  return { promptEmbeds: { data, dims: [B, seq, D] }, pooledEmbeds: pooled };
}

/**
 * Conditioning for a package with no text encoder: zeros [batch, sequenceLength, joint_attention_dim]
 * and [batch, pooled_projection_dim]. `sequenceLength` is the package's (e.g. its training length).
 */
export function zeroEmbeddings(geometry: ConditioningGeometry, sequenceLength: number, batch = 1): PromptEmbeddings {
  const { jointAttentionDim: D, pooledProjectionDim: P } = geometry;
  for (const [name, v] of [
    ['jointAttentionDim', D],
    ['pooledProjectionDim', P],
    ['sequenceLength', sequenceLength],
    ['batch', batch],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  return {
    promptEmbeds: { data: new Float32Array(batch * sequenceLength * D), dims: [batch, sequenceLength, D] },
    pooledEmbeds: { data: new Float32Array(batch * P), dims: [batch, P] },
  };
}

/** Stacks [negative, positive] along the batch axis: the CFG batch order SD3 uses (uncond first). */
export function concatBatch(first: Tensor32, second: Tensor32): Tensor32 {
  if (first.dims.length !== second.dims.length || first.dims.slice(1).some((d, i) => second.dims[i + 1] !== d)) {
    throw new RangeError(
      `cannot stack [${first.dims.join(', ')}] and [${second.dims.join(', ')}] on the batch axis: trailing dims differ (pad both prompts to the same length)`,
    );
  }
  const data = new Float32Array(first.data.length + second.data.length);
  data.set(first.data, 0);
  data.set(second.data, first.data.length);
  return { data, dims: [first.dims[0] + second.dims[0], ...first.dims.slice(1)] };
}
