/**
 * Starts onnxruntime-web's WebAssembly runtime before the first real session needs it. Its first
 * session pays for compiling and instantiating the 27 MB .wasm (~0.9 s of the default model's
 * 2.6 s of session creation, measured with `npm run bench:startup` on the 2-core machine); a
 * one-node session created as soon as the .wasm bytes are decoded moves that work under the
 * rest of start-up (decoding the model, the panel's first calls to its host).
 */
import { DataType } from '../engine/onnx/data-types.js';
import { GraphBuilder } from '../engine/onnx/graph-builder.js';
import { serializeGraphAsync } from '../engine/onnx/serialize-graph.js';
import type { OrtModule } from '../engine/ort-backend.js';

export async function warmUpOrtAsync(ort: OrtModule): Promise<void> {
  const graph = new GraphBuilder('warm-up');
  const x = graph.input('x', DataType.FLOAT, [1]);
  graph.output(graph.op('Identity', [x]), 'y', [1]);
  const { model } = await serializeGraphAsync(graph.build());
  // The CPU provider: the runtime is what is warmed; a WebGPU device is asked for by the first real session.
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
  await session.release();
}
