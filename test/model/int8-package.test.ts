/**
 * The v2 package format (model/flowfill/export.py) under onnxruntime-web's WASM backend: weights
 * stored as int8 and dequantised in the graph (Cast -> Mul), fused attention, the positional table
 * computed in the graph for 1:4 … 4:1, the norm-free VAE. test/model/fixtures/int8-tiny holds a tiny
 * package of that format with random weights and what PyTorch computes with the same weights
 * (`cd model && python3 -m flowfill.engine_fixture .cache/data ../test/model/fixtures/int8-tiny`).
 * The same package on WebGPU in Chromium: package-webgpu.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-web';
import { createEngine } from '../../worker/engine/engine.js';
import { decodePng } from '../../worker/engine/png.js';
import { readFolderAsync } from '../../worker/cli/node-host.js';
import { INT8_FIXTURE, int8GraphCensus, maxAbsDiff, reference, referenceTensor } from './int8-fixture.js';

const pkgDir = path.join(INT8_FIXTURE, 'package');
ort.env.wasm.numThreads = 1;

const session = (rel: string) =>
  ort.InferenceSession.create(new Uint8Array(fs.readFileSync(path.join(pkgDir, rel))), { graphOptimizationLevel: 'all' });

// float32 through the whole graph: the only differences from PyTorch are summation order (1e-6 scale).
const TOLERANCE = 1e-4;
// Budgets, not timing assertions: two shared cores can be slow.
const SLOW_MS = 120_000;

describe('int8 package format on WASM (fixtures/int8-tiny)', () => {
  test('every graph dequantises its int8 weights with Cast -> Mul and has float32 inputs and outputs', () => {
    for (const census of int8GraphCensus(pkgDir)) {
      expect(census.dequantised).toBe(census.listed);
      expect(census.dequantizeLinear).toBe(false);
      for (const type of census.elemTypes) expect([1, 7]).toContain(type);
    }
  });

  test(
    'text encoder matches PyTorch',
    async () => {
      const s = await session('text_encoder/model.onnx');
      const out = await s.run({ input_ids: referenceTensor('text_encoder.input_ids') });
      for (const name of s.outputNames) {
        const { diff, scale } = maxAbsDiff(out[name].data as Float32Array, referenceTensor(`text_encoder.${name}`).data as Float32Array);
        expect({ name, ok: diff <= TOLERANCE * Math.max(1, scale) }).toEqual({ name, ok: true });
      }
    },
    SLOW_MS,
  );

  test.each(['wide', 'square'])(
    'transformer (%s latent) matches PyTorch',
    async (label) => {
      const s = await session('transformer/model.onnx');
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of s.inputNames) feeds[name] = referenceTensor(`transformer.${label}.${name}`);
      const out = await s.run(feeds);
      const want = referenceTensor(`transformer.${label}.out_hidden_states`);
      expect(out.out_hidden_states.dims).toEqual(want.dims);
      const { diff, scale } = maxAbsDiff(out.out_hidden_states.data as Float32Array, want.data as Float32Array);
      console.log(
        `transformer ${label} ${JSON.stringify(want.dims)}: max |WASM - PyTorch| ${diff.toExponential(2)} (max |out| ${scale.toFixed(2)})`,
      );
      expect(diff).toBeLessThanOrEqual(TOLERANCE * Math.max(1, scale));
    },
    SLOW_MS,
  );

  test(
    'VAE decoder matches PyTorch',
    async () => {
      const s = await session('vae_decoder/model.onnx');
      const out = await s.run({ latent_sample: referenceTensor('vae_decoder.latent_sample') });
      const { diff, scale } = maxAbsDiff(out.sample.data as Float32Array, referenceTensor('vae_decoder.sample').data as Float32Array);
      expect(diff).toBeLessThanOrEqual(TOLERANCE * Math.max(1, scale));
    },
    SLOW_MS,
  );

  test(
    'onnxruntime-node (the native CPU EP, as on the GPU machine) loads every graph with all optimisations',
    async () => {
      // Its SkipLayerNormFusion once crashed the process on a LayerNormalization without a bias
      // (mmdit.PlainLayerNorm); the benchmark's native peer and the export's parity checks use this EP.
      const native = await import('onnxruntime-node');
      for (const net of ['transformer', 'text_encoder', 'vae_decoder', 'vae_encoder']) {
        const s = await native.InferenceSession.create(path.join(pkgDir, net, 'model.onnx'), { graphOptimizationLevel: 'all' });
        expect(s.inputNames.length).toBeGreaterThan(0);
        await s.release();
      }
    },
    SLOW_MS,
  );

  test(
    'the engine generates at 1:1 and 4:1 with it',
    async () => {
      const engine = createEngine({ backend: 'wasm' });
      const info = await engine.loadModel({ kind: 'files', files: await readFolderAsync(pkgDir) });
      for (const [width, height] of [
        [256, 256],
        [1024, 256],
      ]) {
        const result = await engine.generate({
          jobId: `int8-${width}`,
          prompt: reference.prompts[0],
          width,
          height,
          steps: 2,
          guidance: 4,
          seed: 5,
        });
        const image = decodePng(result.png);
        expect([image.width, image.height, result.backend]).toEqual([width, height, 'wasm']);
        let lo = 255;
        let hi = 0;
        for (let i = 0; i < image.rgba.length; i += 4) {
          lo = Math.min(lo, image.rgba[i]);
          hi = Math.max(hi, image.rgba[i]);
        }
        expect(hi - lo).toBeGreaterThan(0);
      }
      expect(info.name).toContain('v2');
      await engine.dispose();
    },
    SLOW_MS,
  );
});
