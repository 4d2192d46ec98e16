/**
 * Parity of a rebuilt transformer graph (npm run rebuild-transformer) against the package's own
 * graph, printed, never asserted: the same random inputs through both graphs on onnxruntime-web's
 * WASM backend (Node, one thread) and on onnxruntime-node (CPU EP, all optimisations), max |err|
 * and relative L2 of the outputs, per image size. Sizes below the pos-embed table's full size
 * exercise the centre crop; non-square ones its two axes.
 *
 *   npx tsx scripts/rebuild-transformer-parity.ts <package dir> [--rebuilt <dir>] [--sizes 256x256,368x176] [--batch 2] [--tokens 16] [--attention unfused|fused]
 *
 * Without --rebuilt the graph is rebuilt in memory from <package dir>.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-web';
import { gaussianNoise } from '../worker/engine/prng.js';
import { serializeGraphAsync } from '../worker/engine/onnx/serialize-graph.js';
import { rebuildSd3TransformerAsync } from '../worker/engine/sd3/rebuild-transformer.js';
import { readSd3TransformerConfig } from '../worker/engine/sd3/graphs/sd3-transformer.js';
import { maxAbs, relativeL2 } from '../worker/parity/compare-arrays.js';
import { loadNativeOrtAsync } from '../worker/cli/native-peer.js';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index > 0 ? process.argv[index + 1] : fallback;
}

const packageDir = process.argv[2];
if (!packageDir || packageDir.startsWith('--')) {
  console.error(
    'usage: npx tsx scripts/rebuild-transformer-parity.ts <package dir> [--rebuilt <dir>] [--sizes 256x256,368x176] [--batch 2]',
  );
  process.exit(2);
}
const sizes = option('--sizes', '256x256,368x176')
  .split(',')
  .map((s) => s.split('x').map(Number) as [number, number]);
const batch = Number(option('--batch', '2'));
const tokens = Number(option('--tokens', '16'));
const attention = option('--attention', 'unfused') as 'fused' | 'unfused';

async function main(): Promise<void> {
  const read = (dir: string, rel: string) => new Uint8Array(fs.readFileSync(path.join(dir, rel)));
  const configJson = JSON.parse(fs.readFileSync(path.join(packageDir, 'transformer/config.json'), 'utf8'));
  const config = readSd3TransformerConfig(configJson);
  const vaeConfig = JSON.parse(fs.readFileSync(path.join(packageDir, 'vae_decoder/config.json'), 'utf8')) as {
    block_out_channels?: number[];
  };
  const vaeScale = 2 ** ((vaeConfig.block_out_channels?.length ?? 4) - 1);
  const original = read(packageDir, 'transformer/model.onnx');
  const rebuiltDir = option('--rebuilt', '');
  let rebuilt: Uint8Array;
  if (rebuiltDir) rebuilt = read(rebuiltDir, 'transformer/model.onnx');
  else {
    const result = await rebuildSd3TransformerAsync(original, configJson, { attention });
    rebuilt = (await serializeGraphAsync(result.graph, { externalThresholdBytes: Infinity })).model;
    console.log(
      `rebuilt in memory: ${result.nodes.original} → ${result.nodes.rebuilt} nodes, ${result.recovered.int8.length} int8 weights`,
    );
  }

  ort.env.wasm.numThreads = 1;
  const native = await loadNativeOrtAsync();
  const wasm = {
    original: await ort.InferenceSession.create(original, { graphOptimizationLevel: 'all' }),
    rebuilt: await ort.InferenceSession.create(rebuilt, { graphOptimizationLevel: 'all' }),
  };
  const nodeCpu = {
    original: await native.InferenceSession.create(original, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 }),
    rebuilt: await native.InferenceSession.create(rebuilt, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 }),
  };

  console.log(`${packageDir}: batch ${batch}, ${tokens} text tokens, attention ${attention}`);
  for (const [width, height] of sizes) {
    const h = height / vaeScale;
    const w = width / vaeScale;
    const C = config.in_channels;
    const inputs = {
      hidden_states: { data: gaussianNoise(1, batch * C * h * w, 101), dims: [batch, C, h, w] },
      // σ·1000 for σ in (0, 1]: one early and one late step.
      timestep: { data: Float32Array.from({ length: batch }, (_, i) => 1000 * (1 - i / Math.max(1, batch))), dims: [batch] },
      encoder_hidden_states: {
        data: gaussianNoise(2, batch * tokens * config.joint_attention_dim, 102),
        dims: [batch, tokens, config.joint_attention_dim],
      },
      pooled_projections: {
        data: gaussianNoise(3, batch * config.pooled_projection_dim, 103),
        dims: [batch, config.pooled_projection_dim],
      },
    };
    const runWeb = async (session: ort.InferenceSession) => {
      const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)]));
      return (await session.run(feeds)).out_hidden_states.data as Float32Array;
    };
    const runNative = async (session: import('onnxruntime-node').InferenceSession) => {
      const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new native.Tensor('float32', v.data, v.dims)]));
      return (await session.run(feeds)).out_hidden_states.data as Float32Array;
    };
    const report = (label: string, rebuiltOut: Float32Array, originalOut: Float32Array) =>
      console.log(
        `  ${width}x${height} (latent ${h}x${w}) ${label}: max |rebuilt − original| ${maxAbs(rebuiltOut, originalOut).toExponential(2)}, relative L2 ${relativeL2(rebuiltOut, originalOut).toExponential(2)}, max |original| ${maxAbs(originalOut, new Float32Array(originalOut.length)).toFixed(3)}`,
      );
    const webOriginal = await runWeb(wasm.original);
    report('WASM', await runWeb(wasm.rebuilt), webOriginal);
    const nativeOriginal = await runNative(nodeCpu.original);
    report('onnxruntime-node', await runNative(nodeCpu.rebuilt), nativeOriginal);
    console.log(
      `  ${width}x${height} original WASM vs original onnxruntime-node: max ${maxAbs(webOriginal, nativeOriginal).toExponential(2)}`,
    );
  }
}

await main();
