import { useNodeBackendAsync } from './worker/cli/node-host.ts';
import { DataType } from './worker/engine/onnx/data-types.ts';
import { GraphBuilder } from './worker/engine/onnx/graph-builder.ts';
import { serializeGraphAsync } from './worker/engine/onnx/serialize-graph.ts';
await useNodeBackendAsync('webgpu');
const ort: any = await import('onnxruntime-web/webgpu');
const b = new GraphBuilder('t'); const x = b.input('x', DataType.FLOAT, [4]); b.output(b.op('Add', [x, x]), 'y', [4]);
const s = await serializeGraphAsync(b.build());
for (let i = 0; i < 2; i++) {
  const sess = await ort.InferenceSession.create(s.model, { executionProviders: ['webgpu'] });
  const dev = await ort.env.webgpu.device;
  dev.lost.then((info: any) => console.log('device lost', i, info.reason, info.message));
  const out = await sess.run({ x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [4]) });
  console.log('run', i, Array.from(await out.y.getData()));
  await sess.release();
  await new Promise((r) => setTimeout(r, 500));
}
