/**
 * npm run compare-packages -- <package A> <package B> [--int8-matmul-a M] [--int8-matmul-b M]
 *                             [--size 256x256] [--steps 20] [--guidance 5] [--seeds 1,2] [--out dir]
 *
 * The same prompts and seeds through the engine on WASM with two packages, or one package run two
 * ways (M: auto, dequantized, dynamic-quantized; RuntimeOptions.int8MatMul): for each image the mean
 * and largest |A − B| in 8-bit levels over RGB and the PSNR, then the medians, and each side's median
 * time per image. What it is for: how far a re-quantised package (npm run rebuild-transformer --
 * --precision int8|int4) or the int8 products move the pictures from the exact weights. The
 * prompts are the sample grid's (worker/cli/sample-prompts.ts). --out keeps every pair as PNGs.
 * Prints; asserts nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { GenerationRequest } from '../common/engine-types.js';
import { imageDifference } from '../worker/bench/image-difference.js';
import { median } from '../worker/bench/stage-bench.js';
import { readFolderAsync } from '../worker/cli/node-host.js';
import { EMOJI_PROMPTS, ICON_PROMPTS } from '../worker/cli/sample-prompts.js';
import { createEngine } from '../worker/engine/engine.js';
import type { RuntimeOptions } from '../worker/engine/model-family.js';
import { INT8_MATMULS, isInt8MatMul } from '../worker/engine/onnx/layers.js';
import { decodePng } from '../worker/engine/png.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'int8-matmul-a': { type: 'string', default: 'auto' },
    'int8-matmul-b': { type: 'string', default: 'auto' },
    size: { type: 'string', default: '256x256' },
    steps: { type: 'string', default: '20' },
    guidance: { type: 'string', default: '5' },
    seeds: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
if (positionals.length !== 2) throw new Error('give two package folders: A and B (the same folder twice to compare two runtime modes)');
const [width, height] = values.size!.split('x').map(Number);
const seeds = values.seeds!.split(',').map(Number);
const prompts = [...EMOJI_PROMPTS, ...ICON_PROMPTS];

function int8MatMul(flag: string, mode: string): RuntimeOptions['int8MatMul'] {
  if (mode !== 'auto' && !isInt8MatMul(mode)) throw new Error(`--${flag} ${mode}: expected auto, ${INT8_MATMULS.join(', ')}`);
  return mode;
}

/** Every prompt × seed through one package; the PNGs and the time each took. */
async function renderAsync(dir: string, mode: RuntimeOptions['int8MatMul']) {
  const engine = createEngine({ backend: 'wasm', runtime: { int8MatMul: mode } });
  await engine.loadModel({ kind: 'files', files: await readFolderAsync(path.resolve(dir)) });
  const images: { png: Uint8Array; ms: number }[] = [];
  for (const seed of seeds) {
    for (const [i, prompt] of prompts.entries()) {
      const request: GenerationRequest = {
        jobId: `${i}-${seed}`,
        prompt,
        width,
        height,
        steps: Number(values.steps),
        guidance: Number(values.guidance),
        seed,
      };
      const t = performance.now();
      const result = await engine.generate(request);
      images.push({ png: result.png, ms: performance.now() - t });
    }
  }
  await engine.dispose();
  return images;
}

const [dirA, dirB] = positionals;
const modeA = int8MatMul('int8-matmul-a', values['int8-matmul-a']!);
const modeB = int8MatMul('int8-matmul-b', values['int8-matmul-b']!);
console.log(
  `A: ${dirA} (int8 MatMul ${modeA}); B: ${dirB} (int8 MatMul ${modeB}); ${width}x${height}, ${values.steps} steps, guidance ${values.guidance}, seeds ${seeds.join(',')}`,
);
const a = await renderAsync(dirA, modeA);
const b = await renderAsync(dirB, modeB);
const rows = a.map((image, i) => {
  const pa = decodePng(image.png);
  const pb = decodePng(b[i].png);
  if (values.out) {
    mkdirSync(values.out, { recursive: true });
    writeFileSync(path.join(values.out, `${i}-a.png`), image.png);
    writeFileSync(path.join(values.out, `${i}-b.png`), b[i].png);
  }
  const d = imageDifference(pa.rgba, pb.rgba);
  console.log(
    `${prompts[i % prompts.length]} (seed ${seeds[Math.floor(i / prompts.length)]}): mean |Δ| ${d.mean.toFixed(2)}, max ${d.max}, PSNR ${d.psnr.toFixed(1)} dB`,
  );
  return d;
});
console.log(
  `median over ${rows.length} images: mean |Δ| ${median(rows.map((r) => r.mean)).toFixed(2)} levels, PSNR ${median(rows.map((r) => r.psnr)).toFixed(1)} dB (lowest ${Math.min(...rows.map((r) => r.psnr)).toFixed(1)}); ` +
    `time per image A ${(median(a.slice(1).map((x) => x.ms)) / 1000).toFixed(2)} s, B ${(median(b.slice(1).map((x) => x.ms)) / 1000).toFixed(2)} s (first image left out)`,
);
