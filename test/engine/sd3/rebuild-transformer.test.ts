/**
 * The transformer of a package rebuilt by the engine's graph builder from the weights of the
 * package's own (PyTorch-exported) graph: the v2-format int8 fixture (test/model/fixtures/int8-tiny)
 * rebuilt, its int8 weights kept int8, and both graphs run on onnxruntime-web's WASM backend on the
 * fixture's PyTorch inputs (a 4:1 latent and a square one at batch 2, both centre crops of the
 * pos-embed table): the rebuilt graph must match the original and PyTorch.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-web';
import { DataType } from '../../../worker/engine/onnx/data-types.js';
import { readOnnxModel } from '../../../worker/engine/onnx/onnx-model-reader.js';
import { serializeGraphAsync } from '../../../worker/engine/onnx/serialize-graph.js';
import { openPackageAsync } from '../../../worker/engine/package-source.js';
import {
  buildSd3TransformerGraph,
  readSd3TransformerConfig,
  sd3TransformerStateDictShapes,
} from '../../../worker/engine/sd3/graphs/sd3-transformer.js';
import { bytesSource } from '../../../worker/engine/byte-source.js';
import type { BuiltGraph } from '../../../worker/engine/onnx/graph-builder.js';
import { readFloat32Async, WeightSet } from '../../../worker/engine/safetensors.js';
import { sd3FamilyPackage } from '../../../worker/engine/sd3/family.js';
import { readSd3PackageFilesAsync } from '../../../worker/engine/sd3/read-sd3-package-files.js';
import { rebuildSd3TransformerAsync, rebuildTransformerPackageAsync } from '../../../worker/engine/sd3/rebuild-transformer.js';
import { maxAbs, relativeL2 } from '../../../worker/parity/compare-arrays.js';
import { createNodePackageSinkAsync, nodeSha256 } from '../../../worker/cli/node-package-sink.js';
import { openFolderAsync } from '../../../worker/cli/node-host.js';
import { INT8_FIXTURE, referenceTensor } from '../../model/int8-fixture.js';
import { fixtureConfig, fixtureWeightsAsync } from '../../sd3-graphs/graph-harness.js';
import { repoRoot } from '../../fixture-paths.js';

ort.env.wasm.numThreads = 1;
const pkgDir = path.join(INT8_FIXTURE, 'package');
const model = new Uint8Array(fs.readFileSync(path.join(pkgDir, 'transformer/model.onnx')));
const configJson = JSON.parse(fs.readFileSync(path.join(pkgDir, 'transformer/config.json'), 'utf8'));
const flowfill = JSON.parse(fs.readFileSync(path.join(pkgDir, 'flowfill.json'), 'utf8'));
// Both graphs compute in float32 from the same weights; they differ in summation order and in the
// pos-embed table (the export computes it in float32 in the graph, diffusers in float64): 1e-6 scale.
const TOLERANCE = 2e-5;
// The existing PyTorch tolerance of the fixture's own graph (test/model/int8-package.test.ts).
const PYTORCH_TOLERANCE = 1e-4;
const SLOW_MS = 120_000;

/** The transformer graph's output on the fixture's PyTorch inputs for `label`, on WASM. */
async function run(bytes: Uint8Array, label: string) {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  const feeds = Object.fromEntries(session.inputNames.map((name) => [name, referenceTensor(`transformer.${label}.${name}`)]));
  const out = (await session.run(feeds)).out_hidden_states;
  await session.release();
  return out;
}

/** A graph as one model.onnx, every weight inside. */
const serialize = async (graph: BuiltGraph) => (await serializeGraphAsync(graph, { externalThresholdBytes: Infinity })).model;

// The fixture rebuilt with the defaults (weights as stored, pos-embed factored): several describes compare against it.
let defaultRebuild: Promise<{ rebuilt: Awaited<ReturnType<typeof rebuildSd3TransformerAsync>>; bytes: Uint8Array }> | undefined;
const defaultRebuildAsync = () =>
  (defaultRebuild ??= rebuildSd3TransformerAsync(model, configJson).then(async (rebuilt) => ({
    rebuilt,
    bytes: await serialize(rebuilt.graph),
  })));

describe('rebuilt transformer (fixtures/int8-tiny)', () => {
  let rebuilt: Awaited<ReturnType<typeof rebuildSd3TransformerAsync>>;
  let rebuiltBytes: Uint8Array;
  beforeAll(async () => {
    ({ rebuilt, bytes: rebuiltBytes } = await defaultRebuildAsync());
  });

  test('recovers every tensor of the state dict, keeps the int8 weights int8 and needs fewer nodes', () => {
    const expected = sd3TransformerStateDictShapes(readSd3TransformerConfig(configJson));
    expect([...rebuilt.recovered.from.keys()].sort()).toEqual([...expected.keys()].sort());
    // The export computes the pos-embed table in the graph; it is the only tensor from the formula.
    expect([...rebuilt.recovered.from].filter(([, how]) => how === 'formula').map(([key]) => key)).toEqual(['pos_embed.pos_embed']);
    expect(rebuilt.recovered.int8).toHaveLength(flowfill.weights.quantisation.transformer.int8_tensors);
    const int8Initializers = readOnnxModel(rebuiltBytes).initializers.filter((t) => t.dataType === DataType.INT8);
    expect(int8Initializers).toHaveLength(rebuilt.recovered.int8.length);
    expect(rebuilt.graph.nodes.some((n) => n.opType === 'MultiHeadAttention')).toBe(false);
    expect(rebuilt.nodes.rebuilt).toBeLessThan(rebuilt.nodes.original / 2);
  });

  test.each(['wide', 'square'])(
    '%s latent: the rebuilt graph matches the original graph and PyTorch on WASM',
    async (label) => {
      const original = await run(model, label);
      const ours = await run(rebuiltBytes, label);
      const want = referenceTensor(`transformer.${label}.out_hidden_states`);
      expect(ours.dims).toEqual(want.dims);
      const scale = Math.max(1, maxAbs(want.data as Float32Array, new Float32Array(want.data.length)));
      const vsOriginal = maxAbs(ours.data as Float32Array, original.data as Float32Array);
      const vsPytorch = maxAbs(ours.data as Float32Array, want.data as Float32Array);
      console.log(
        `${label} ${JSON.stringify(want.dims)}: rebuilt vs original max ${vsOriginal.toExponential(2)} (relative L2 ${relativeL2(ours.data as Float32Array, original.data as Float32Array).toExponential(2)}), vs PyTorch max ${vsPytorch.toExponential(2)}`,
      );
      expect(vsOriginal).toBeLessThanOrEqual(TOLERANCE * scale);
      expect(vsPytorch).toBeLessThanOrEqual(PYTORCH_TOLERANCE * scale);
    },
    SLOW_MS,
  );

  test(
    'a rebuilt graph rebuilds to the same function: its tensors are the parameters under their own names',
    async () => {
      const again = await rebuildSd3TransformerAsync(rebuiltBytes, configJson);
      expect([...again.recovered.from.keys()].sort()).toEqual([...rebuilt.recovered.from.keys()].sort());
      expect(again.recovered.int8).toHaveLength(rebuilt.recovered.int8.length);
      const againBytes = await serialize(again.graph);
      const first = await run(rebuiltBytes, 'square');
      const second = await run(againBytes, 'square');
      expect(maxAbs(second.data as Float32Array, first.data as Float32Array)).toBeLessThanOrEqual(1e-6);
    },
    SLOW_MS,
  );

  test('writes a package the engine loads, every other file copied byte for byte', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfill-rebuilt-'));
    try {
      const folder = await openFolderAsync(pkgDir);
      const files = await openPackageAsync({ kind: 'files', files: folder, description: 'the int8 fixture' });
      const target = path.join(out, 'package');
      await rebuildTransformerPackageAsync(files, Object.keys(folder), await createNodePackageSinkAsync(target), { sha256: nodeSha256 });
      const written = JSON.parse(fs.readFileSync(path.join(target, 'flowfill.json'), 'utf8'));
      expect(Object.keys(written.files).sort()).toEqual(Object.keys(flowfill.files).sort());
      for (const [file, entry] of Object.entries(flowfill.files as Record<string, { sha256: string }>)) {
        if (file === 'transformer/model.onnx') expect(written.files[file].sha256).not.toBe(entry.sha256);
        else expect({ file, sha256: written.files[file].sha256 }).toEqual({ file, sha256: entry.sha256 });
      }
      expect(written.transformer_rebuilt).toMatchObject({ original_nodes: rebuilt.nodes.original, nodes: rebuilt.nodes.rebuilt });
      // Loading checks every file against flowfill.json and the transformer's inputs and outputs against its config.
      const reopened = await openPackageAsync({ kind: 'files', files: await openFolderAsync(target), description: 'the rebuilt package' });
      const pkg = await readSd3PackageFilesAsync(reopened);
      // A new package (new hash) that declares the source's hash: layers made with it regenerate.
      const sourceHash = (await readSd3PackageFilesAsync(files)).hash;
      expect(pkg.hash).not.toBe(sourceHash);
      expect(written.supersedes).toEqual([expect.objectContaining({ hash: sourceHash })]);
      expect(sd3FamilyPackage(pkg).summary.supersedes).toEqual([sourceHash]);
      expect(pkg.transformer.graph.summary.inputs.map((i) => i.name)).toEqual([
        'hidden_states',
        'timestep',
        'encoder_hidden_states',
        'pooled_projections',
      ]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('the pos-embed table, factored (fixtures/int8-tiny)', () => {
  test(
    'two grid x width/2 factors give the same outputs as the whole table, in 2/grid of its bytes',
    async () => {
      const table = await rebuildSd3TransformerAsync(model, configJson, { posEmbedForm: 'table' });
      const config = readSd3TransformerConfig(configJson);
      const dim = config.num_attention_heads * config.attention_head_dim;
      const P = config.pos_embed_max_size;
      const tableBytes = await serialize(table.graph);
      const factoredBytes = (await defaultRebuildAsync()).bytes;
      // P² · dim float32 values become 2 · P · dim/2.
      expect(tableBytes.length - factoredBytes.length).toBeGreaterThan((P * P - P) * dim * 4 - 4096);
      for (const label of ['wide', 'square']) {
        expect(maxAbs((await run(factoredBytes, label)).data as Float32Array, (await run(tableBytes, label)).data as Float32Array)).toBe(0);
      }
    },
    SLOW_MS,
  );

  test('a stored table that is not separable is refused when its factors are produced', async () => {
    const recovered = (await defaultRebuildAsync()).rebuilt.recovered.weights;
    const original = recovered.get('pos_embed.pos_embed');
    const values = Float32Array.from(await readFloat32Async(original));
    values[values.length - 1] += 0.5;
    const bytes = new Uint8Array(values.buffer);
    const tensors = new Map(recovered.tensors);
    tensors.set('pos_embed.pos_embed', { ...original, file: bytesSource('perturbed', bytes), offset: 0, length: bytes.length });
    const graph = buildSd3TransformerGraph(readSd3TransformerConfig(configJson), new WeightSet('perturbed', tensors), 'fp32', {
      posEmbedForm: 'factored',
    });
    await expect(serialize(graph)).rejects.toThrow(/not SD3's separable sin-cos table/);
    expect(
      await serialize(buildSd3TransformerGraph(readSd3TransformerConfig(configJson), new WeightSet('perturbed', tensors), 'fp32')),
    ).toBeInstanceOf(Uint8Array);
  });
});

describe('rebuilt at int8 / int4 precision (fixtures/int8-tiny): MatMulNBits blocks', () => {
  // Relative L2 to PyTorch's output on the fixture's inputs (its int8 weights, float32 products).
  // The blocks' levels (min to max of each 32 values, with a zero point) do not fall on the int8
  // grid, so even 8-bit blocks add a rounding of their own: 2.0e-3 / 4.9e-3 measured; 4-bit blocks
  // (16 levels) on these random weights ~9e-2. Bounds: twice those, well below a different output.
  const BOUNDS = { int8: 1e-2, int4: 0.2 } as const;
  test.each(['int8', 'int4'] as const)(
    '%s: every int8 Linear becomes a MatMulNBits of that many bits, the output stays near PyTorch, and the package supersedes nothing',
    async (precision) => {
      const again = await rebuildSd3TransformerAsync(model, configJson, { precision });
      const nbits = again.graph.nodes.filter((n) => n.opType === 'MatMulNBits');
      expect(nbits.length).toBeGreaterThanOrEqual(again.recovered.int8.length);
      expect(new Set(nbits.map((n) => n.attributes?.bits))).toEqual(new Set([precision === 'int8' ? 8 : 4]));
      expect(again.graph.nodes.some((n) => n.opType === 'Cast' && n.inputs.some((i) => i.endsWith('.weight')))).toBe(false);
      const bytes = await serialize(again.graph);
      // Against the same graph with the weights as stored (int8 ones one byte each, in Cast -> Mul):
      if (precision === 'int4') expect(bytes.length).toBeLessThan((await defaultRebuildAsync()).bytes.length);
      for (const label of ['wide', 'square']) {
        const got = await run(bytes, label);
        const error = relativeL2(got.data as Float32Array, referenceTensor(`transformer.${label}.out_hidden_states`).data as Float32Array);
        console.log(`${precision} ${label}: relative L2 to PyTorch ${error.toExponential(2)}`);
        expect(error).toBeLessThan(BOUNDS[precision]);
        expect(error).toBeGreaterThan(0);
      }
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfill-requantised-'));
      try {
        const folder = await openFolderAsync(pkgDir);
        const files = await openPackageAsync({ kind: 'files', files: folder, description: 'the int8 fixture' });
        const target = path.join(out, 'package');
        const written = await rebuildTransformerPackageAsync(files, Object.keys(folder), await createNodePackageSinkAsync(target), {
          sha256: nodeSha256,
          precision,
        });
        const manifest = JSON.parse(fs.readFileSync(path.join(target, 'flowfill.json'), 'utf8'));
        expect(manifest.supersedes).toBeUndefined();
        expect(manifest.transformer_rebuilt.precision).toBe(precision);
        expect(written.rebuilt.recovered.int8.length).toBeGreaterThan(0);
        const pkg = await readSd3PackageFilesAsync(
          await openPackageAsync({ kind: 'files', files: await openFolderAsync(target), description: 'requantised' }),
        );
        expect(sd3FamilyPackage(pkg).summary.supersedes).toBeUndefined();
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    },
    SLOW_MS,
  );
});

describe('rebuilt transformer (model/eval/v2-candidate: PyTorch 2.11 dynamo export)', () => {
  // The dynamo exporter names most Linear weights anonymously (val_N, stored [in, out]) and lets two
  // bit-identical biases share one tensor: recovery must still put every tensor in its place.
  const v2Dir = path.join(repoRoot, 'model', 'eval', 'v2-candidate', 'package');
  const v2Model = new Uint8Array(fs.readFileSync(path.join(v2Dir, 'transformer/model.onnx')));
  const v2Config = JSON.parse(fs.readFileSync(path.join(v2Dir, 'transformer/config.json'), 'utf8'));

  test(
    'every tensor recovered (one shared bias), and the rebuilt graph matches the original on WASM at 2:1',
    async () => {
      const v2 = await rebuildSd3TransformerAsync(v2Model, v2Config);
      const from = [...v2.recovered.from];
      expect(from.filter(([, how]) => how === 'shared bias').map(([key]) => key)).toEqual(['time_text_embed.text_embedder.linear_2.bias']);
      const bytes = await serialize(v2.graph);
      const cfg = readSd3TransformerConfig(v2Config);
      const [h, w, tokens] = [16, 32, 8];
      const noise = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 1.5);
      const feeds = {
        hidden_states: new ort.Tensor('float32', noise(2 * cfg.in_channels * h * w, 1), [2, cfg.in_channels, h, w]),
        timestep: new ort.Tensor('float32', Float32Array.of(900, 300), [2]),
        encoder_hidden_states: new ort.Tensor('float32', noise(2 * tokens * cfg.joint_attention_dim, 2), [
          2,
          tokens,
          cfg.joint_attention_dim,
        ]),
        pooled_projections: new ort.Tensor('float32', noise(2 * cfg.pooled_projection_dim, 3), [2, cfg.pooled_projection_dim]),
      };
      const run = async (graph: Uint8Array) => {
        const session = await ort.InferenceSession.create(graph, { graphOptimizationLevel: 'all' });
        const out = (await session.run(feeds))[session.outputNames[0]];
        await session.release();
        return out.data as Float32Array;
      };
      const original = await run(v2Model);
      const ours = await run(bytes);
      const scale = Math.max(1, maxAbs(original, new Float32Array(original.length)));
      expect(maxAbs(ours, original)).toBeLessThanOrEqual(TOLERANCE * scale);
    },
    SLOW_MS,
  );
});

describe('rebuild-transformer errors', () => {
  test('a config that disagrees with the graph fails naming the tensor', async () => {
    await expect(rebuildSd3TransformerAsync(model, { ...configJson, num_layers: 1 })).rejects.toThrow(
      /norm1_context\.linear\.bias" has shape \[384\].*\[128\]/,
    );
  });

  test('a graph that is not an SD3 transformer export fails listing what is missing', async () => {
    const textEncoder = new Uint8Array(fs.readFileSync(path.join(pkgDir, 'text_encoder/model.onnx')));
    await expect(rebuildSd3TransformerAsync(textEncoder, configJson)).rejects.toThrow(
      /could not be given a diffusers SD3Transformer2DModel name|were not found/,
    );
  });
});

test.each(['sd35m_style', 'sd3m_style_no_t5'])('the state-dict keys and shapes match the %s diffusers checkpoint', async (name) => {
  const weights = await fixtureWeightsAsync(name, 'transformer');
  const shapes = sd3TransformerStateDictShapes(readSd3TransformerConfig(fixtureConfig(name, 'transformer')));
  expect(Object.fromEntries([...shapes].sort())).toEqual(
    Object.fromEntries(
      weights
        .names()
        .sort()
        .map((n) => [n, weights.get(n).shape]),
    ),
  );
});
