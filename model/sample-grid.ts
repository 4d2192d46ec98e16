/**
 * The default model's sample grid for model/README.md, made by the TypeScript engine (not PyTorch)
 * on WASM from the package exactly as shipped: emoji and icon prompts × the aspect ratios 1:1, 16:9,
 * 9:16 and 4:1 at the sizes the resolution planner picks (the package's native area).
 *
 *   npm run sample-grid -- [--model dir] [--steps N] [--seed 7] [--rows emoji|icons|all] [-o model/eval/engine-grid.png]
 *
 * Each cell holds one image, centred on a grey cell as large as the widest/tallest image, so the
 * ratios stay visible side by side. Prints each image's size and time.
 */
import { writeFile } from 'node:fs/promises';
import { planGenerationSize } from '../common/resolution-planner.js';
import { createEngine } from '../worker/engine/engine.js';
import { decodePng, encodePng } from '../worker/engine/png.js';
import { readFolderAsync, registerRepoEmbeddedModel } from '../worker/cli/node-host.js';

const EMOJI_PROMPTS = [
  'rocket, flat style, on a teal background',
  'red apple, glossy style, on a yellow background',
  'cat face, twemoji style, on a blue background',
  'penguin, flat style, on a purple to pink gradient background',
];
const ICON_PROMPTS = [
  'shopping cart icon, line style, dark blue on white',
  'heart icon, filled style, red on light pink',
  'camera icon, bold style, white on dark teal',
  'cloud icon, thin style, navy on light blue',
];
const RATIOS: Array<[string, number, number]> = [
  ['1:1', 1, 1],
  ['16:9', 16, 9],
  ['9:16', 9, 16],
  ['4:1', 4, 1],
];
const GAP = 8;
const CELL_GREY = 200;

interface Args {
  model?: string;
  steps?: number;
  seed: number;
  rows: 'emoji' | 'icons' | 'all';
  out: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seed: 7, rows: 'all', out: 'model/eval/engine-grid.png' };
  const usage = 'usage: npm run sample-grid -- [--model dir] [--steps N] [--seed 7] [--rows emoji|icons|all] [-o out.png]';
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--model': args.model = value; i++; break;
      case '--steps': args.steps = Number(value); i++; break;
      case '--seed': args.seed = Number(value); i++; break;
      case '--rows':
        if (value !== 'emoji' && value !== 'icons' && value !== 'all') throw new Error(`--rows ${value}: use emoji, icons or all`);
        args.rows = value; i++; break;
      case '-o': case '--out': args.out = value; i++; break;
      default: throw new Error(`unknown option ${argv[i]}; ${usage}`);
    }
  }
  if (args.steps !== undefined && (!Number.isInteger(args.steps) || args.steps < 1)) throw new Error(`--steps must be a positive integer, got ${args.steps}`);
  return args;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const prompts = args.rows === 'emoji' ? EMOJI_PROMPTS : args.rows === 'icons' ? ICON_PROMPTS : [...EMOJI_PROMPTS, ...ICON_PROMPTS];
  registerRepoEmbeddedModel();
  const engine = createEngine({ backend: 'wasm' });
  const info = await engine.loadModel(args.model ? { kind: 'files', files: await readFolderAsync(args.model) } : { kind: 'embedded' });
  const sizes = RATIOS.map(([, w, h]) => planGenerationSize(w * 1000, h * 1000, info));
  const cellW = Math.max(...sizes.map((s) => s.width));
  const cellH = Math.max(...sizes.map((s) => s.height));
  const gridW = RATIOS.length * cellW + (RATIOS.length + 1) * GAP;
  const gridH = prompts.length * cellH + (prompts.length + 1) * GAP;
  const grid = new Uint8Array(gridW * gridH * 4).fill(255);
  for (let row = 0; row < prompts.length; row++) {
    for (let col = 0; col < RATIOS.length; col++) {
      const size = sizes[col];
      const result = await engine.generate({
        jobId: `grid-${row}-${col}`,
        prompt: prompts[row],
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
      console.log(`${RATIOS[col][0].padEnd(5)} ${String(image.width).padStart(4)}x${image.height}  ${prompts[row]}  (${result.timings.totalMs.toFixed(0)} ms, ${result.backend})`);
    }
  }
  await writeFile(args.out, encodePng(grid, gridW, gridH, 4));
  console.log(`wrote ${args.out} (${gridW}x${gridH}): rows = prompts, columns = ${RATIOS.map((r) => r[0]).join(', ')}; model ${info.name}`);
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
