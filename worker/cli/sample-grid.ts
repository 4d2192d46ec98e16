/**
 * The default model's sample grid, made by the TypeScript engine (not PyTorch) from the package
 * exactly as shipped — several prompts × the aspect ratios the model README evaluates:
 *   npm run sample-grid -- [--model dir] [--steps N] [--seed 7] [-o model/eval/engine-grid.png]
 * Each cell holds one image at the size the resolution planner picks for that ratio, centred on a
 * grey cell as large as the widest/tallest image, so ratios stay visible side by side.
 */
import { writeFile } from 'node:fs/promises';
import { planGenerationSize } from '../../common/resolution-planner.js';
import { createEngine } from '../engine/engine.js';
import { decodePng, encodePng } from '../engine/png.js';
import { readFolderAsync, registerRepoEmbeddedModel } from './node-host.js';

const PROMPTS = [
  'rocket, flat style, on a teal background',
  'red apple, glossy style, on a yellow background',
  'cat face, twemoji style, on a blue background',
  'penguin, flat style, on a purple to pink gradient background',
];
const RATIOS: Array<[string, number, number]> = [
  ['1:2', 1, 2],
  ['2:3', 2, 3],
  ['1:1', 1, 1],
  ['16:9', 16, 9],
  ['2:1', 2, 1],
];
const GAP = 8;
const CELL_GREY = 200;

function parseArgs(argv: string[]): { model?: string; steps?: number; seed: number; out: string } {
  const args: { model?: string; steps?: number; seed: number; out: string } = { seed: 7, out: 'model/eval/engine-grid.png' };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--model': args.model = value; i++; break;
      case '--steps': args.steps = Number(value); i++; break;
      case '--seed': args.seed = Number(value); i++; break;
      case '-o': case '--out': args.out = value; i++; break;
      default: throw new Error(`unknown option ${argv[i]}; usage: npm run sample-grid -- [--model dir] [--steps N] [--seed 7] [-o out.png]`);
    }
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  registerRepoEmbeddedModel();
  const engine = createEngine({ backend: 'wasm' });
  const info = await engine.loadModel(args.model ? { kind: 'files', files: await readFolderAsync(args.model) } : { kind: 'embedded' });
  const sizes = RATIOS.map(([, w, h]) => planGenerationSize(w * 1000, h * 1000, info));
  const cellW = Math.max(...sizes.map((s) => s.width));
  const cellH = Math.max(...sizes.map((s) => s.height));
  const gridW = RATIOS.length * cellW + (RATIOS.length + 1) * GAP;
  const gridH = PROMPTS.length * cellH + (PROMPTS.length + 1) * GAP;
  const grid = new Uint8Array(gridW * gridH * 4).fill(255);
  for (let row = 0; row < PROMPTS.length; row++) {
    for (let col = 0; col < RATIOS.length; col++) {
      const size = sizes[col];
      const result = await engine.generate({
        jobId: `grid-${row}-${col}`,
        prompt: PROMPTS[row],
        width: size.width,
        height: size.height,
        steps: args.steps ?? info.recommended?.steps ?? 28,
        guidance: info.recommended?.guidance ?? 7,
        seed: args.seed + row,
      });
      const image = decodePng(result.png);
      const x0 = GAP + col * (cellW + GAP);
      const y0 = GAP + row * (cellH + GAP);
      fillRect(grid, gridW, x0, y0, cellW, cellH, CELL_GREY);
      blit(grid, gridW, image.rgba, image.width, image.height, x0 + ((cellW - image.width) >> 1), y0 + ((cellH - image.height) >> 1));
      console.log(`${RATIOS[col][0].padEnd(5)} ${String(image.width).padStart(3)}x${image.height}  ${PROMPTS[row]}  (${result.timings.totalMs.toFixed(0)} ms, ${result.backend})`);
    }
  }
  await writeFile(args.out, encodePng(grid, gridW, gridH, 4));
  console.log(`wrote ${args.out} (${gridW}x${gridH}): rows = prompts, columns = ${RATIOS.map((r) => r[0]).join(', ')}`);
  await engine.dispose();
}

function fillRect(dst: Uint8Array, dstW: number, x: number, y: number, w: number, h: number, grey: number): void {
  for (let j = y; j < y + h; j++) dst.fill(grey, (j * dstW + x) * 4, (j * dstW + x + w) * 4);
  for (let j = y; j < y + h; j++) for (let i = x; i < x + w; i++) dst[(j * dstW + i) * 4 + 3] = 255;
}

function blit(dst: Uint8Array, dstW: number, src: Uint8Array, srcW: number, srcH: number, x: number, y: number): void {
  for (let j = 0; j < srcH; j++) dst.set(src.subarray(j * srcW * 4, (j + 1) * srcW * 4), ((y + j) * dstW + x) * 4);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
