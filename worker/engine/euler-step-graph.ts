/**
 * One flow-match Euler step with classifier-free guidance, as a tiny ONNX graph, so the denoising
 * loop can stay on the device: the transformer's output goes straight into this graph, and its
 * outputs feed the next transformer call, with no copy through the CPU in between.
 *
 * It computes exactly what guidance.ts and flow-match-euler.ts compute in JavaScript, one float32
 * rounding per operation in the same order (ONNX Sub/Mul/Add are IEEE float32 operations):
 *   velocity   = u + g·(c − u)          (CFG: u = unconditional row, c = conditional row)
 *   prev       = sample + dt·velocity   (dt = σ_next − σ)
 *   denoised   = sample − σ·velocity    (the predicted clean latent, for previews)
 * and, for CFG with one batch-2 transformer call, `next_model_input` = [prev, prev], the next call's
 * hidden_states.
 */
import { DataType } from './onnx/data-types.js';
import { GraphBuilder, type BuiltGraph, type Value } from './onnx/graph-builder.js';
import { serializeGraphAsync } from './onnx/serialize-graph.js';

/**
 * 'cfg-batch': the transformer ran once on [uncond, cond] (input `noise_pred` [2, C, h, w]).
 * 'cfg-split': it ran twice at batch 1 (inputs `noise_pred_uncond`, `noise_pred_cond`).
 * 'plain': no guidance (input `noise_pred` [1, C, h, w]).
 */
export type EulerStepMode = 'cfg-batch' | 'cfg-split' | 'plain';

export const EULER_STEP_MODES: readonly EulerStepMode[] = ['cfg-batch', 'cfg-split', 'plain'];

export function buildEulerStepGraph(mode: EulerStepMode): BuiltGraph {
  const b = new GraphBuilder(`flowfill_euler_step_${mode.replace('-', '_')}`);
  const F = DataType.FLOAT;
  const row = [1, 'channels', 'height', 'width'];
  let velocity: Value;
  let guidance: Value | undefined;
  if (mode === 'cfg-batch') {
    const noisePred = b.input('noise_pred', F, [2, 'channels', 'height', 'width']);
    const [uncond, cond] = b.node('Split', [noisePred, b.int64([1, 1])], { attrs: { axis: 0 }, outputs: 2 });
    guidance = b.input('guidance', F, [1]);
    velocity = b.op('Add', [uncond, b.op('Mul', [guidance, b.op('Sub', [cond, uncond])])]);
  } else if (mode === 'cfg-split') {
    const uncond = b.input('noise_pred_uncond', F, row);
    const cond = b.input('noise_pred_cond', F, row);
    guidance = b.input('guidance', F, [1]);
    velocity = b.op('Add', [uncond, b.op('Mul', [guidance, b.op('Sub', [cond, uncond])])]);
  } else {
    velocity = b.input('noise_pred', F, row);
  }
  const sample = b.input('sample', F, row);
  const dt = b.input('dt', F, [1]);
  const sigma = b.input('sigma', F, [1]);
  const prev = b.op('Add', [sample, b.op('Mul', [dt, velocity])]);
  b.output(prev, 'prev_sample', row);
  b.output(velocity, 'velocity', row);
  b.output(b.op('Sub', [sample, b.op('Mul', [sigma, velocity])]), 'denoised', row);
  if (mode === 'cfg-batch') b.output(b.op('Concat', [prev, prev], { axis: 0 }), 'next_model_input', [2, 'channels', 'height', 'width']);
  return b.build();
}

const models = new Map<EulerStepMode, Promise<Uint8Array>>();

/** The step graph's ONNX bytes (built once per mode). */
export function eulerStepModelAsync(mode: EulerStepMode): Promise<Uint8Array> {
  let model = models.get(mode);
  if (!model) {
    model = serializeGraphAsync(buildEulerStepGraph(mode)).then((serialized) => serialized.model);
    models.set(mode, model);
  }
  return model;
}
