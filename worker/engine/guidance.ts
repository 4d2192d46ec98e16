/**
 * Classifier-free guidance as SD3 does it (diffusers `StableDiffusion3Pipeline.__call__`):
 * the transformer runs on the batch [uncond, cond] (negative prompt first) and
 * `guided = u + g·(c − u)`, in float32 with one rounding per torch op.
 * Guidance is applied only when g > 1 (`do_classifier_free_guidance = guidance_scale > 1`).
 */

const f32 = Math.fround;

/** diffusers' rule: CFG (and the doubled batch) only when guidance_scale > 1. */
export function usesClassifierFreeGuidance(guidanceScale: number): boolean {
  return guidanceScale > 1;
}

/**
 * Combine a batch-2 transformer output laid out [uncond, cond] (each `rowSize` values) into the
 * guided velocity for one row. `output.length` must be 2·rowSize.
 */
export function combineGuidance(output: Float32Array, guidanceScale: number): Float32Array {
  if (output.length % 2 !== 0) {
    throw new RangeError(`combineGuidance: output has ${output.length} values; expected batch 2 ([uncond, cond]) of equal rows`);
  }
  if (!Number.isFinite(guidanceScale)) {
    throw new RangeError(`combineGuidance: guidanceScale must be finite, got ${guidanceScale}`);
  }
  const n = output.length / 2;
  const g = f32(guidanceScale);
  const guided = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const u = output[k];
    guided[k] = f32(u + f32(g * f32(output[n + k] - u)));
  }
  return guided;
}
