/** The minimal ONNX reader: graph I/O with ranks and free dims, op census, external-data files. */
import { readOnnxGraphSummary } from '../../worker/engine/onnx-graph.js';
import { fixturePackageFiles } from './helpers.js';
import { buildOnnxModel, FLOAT } from './onnx-builder.js';

test('reads the fixture transformer inputs and outputs as diffusers/Optimum name them', async () => {
  const files = await fixturePackageFiles();
  const summary = readOnnxGraphSummary(files['transformer/model.onnx']);
  expect(summary.inputs).toEqual([
    { name: 'hidden_states', elemType: FLOAT, shape: ['batch', 16, 'height', 'width'] },
    { name: 'timestep', elemType: FLOAT, shape: ['batch'] },
    { name: 'encoder_hidden_states', elemType: FLOAT, shape: ['batch', 'sequence', 32] },
    { name: 'pooled_projections', elemType: FLOAT, shape: ['batch', 64] },
  ]);
  expect(summary.outputs.map((o) => [o.name, o.shape?.length])).toEqual([['out_hidden_states', 4]]);
  expect(summary.opsets).toEqual([{ domain: '', version: 17 }]);
  expect(summary.nodes.filter((n) => n.opType === 'Softmax')).toHaveLength(3);
});

test('lists external-data locations and leaves initializers out of the inputs', () => {
  const { model } = buildOnnxModel({
    inputs: [
      { name: 'x', elemType: FLOAT, shape: [2] },
      { name: 'w', elemType: FLOAT, shape: [2] },
    ],
    outputs: [{ name: 'y', elemType: FLOAT, shape: [2] }],
    nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
    initializers: [{ name: 'w', dims: [2], values: new Float32Array([1, 2]), externalLocation: 'weights.bin' }],
  });
  const summary = readOnnxGraphSummary(model);
  expect(summary.inputs.map((i) => i.name)).toEqual(['x']);
  expect(summary.externalDataFiles).toEqual(['weights.bin']);
});

test('bytes that are not an ONNX model are rejected, not half-read', () => {
  expect(() => readOnnxGraphSummary(new TextEncoder().encode('{"not": "onnx"}'))).toThrow();
  expect(() => readOnnxGraphSummary(new Uint8Array(0))).toThrow(/no graph/);
});
