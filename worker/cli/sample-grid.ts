/**
 * The default model's sample grid, made by the TypeScript engine (not PyTorch) on WASM from the
 * package exactly as shipped — emoji and icon prompts × the aspect ratios 1:1, 16:9, 9:16 and 4:1:
 *   npm run sample-grid -- [--model dir] [--steps N] [--seed 7] [--rows emoji|icons|all] [-o engine-grid.png]   (--help)
 * Each cell holds one image at the size the resolution planner picks for that ratio, centred on a
 * grey cell as large as the widest/tallest image, so ratios stay visible side by side.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { planGenerationSize } from '../../common/resolution-planner.js';
import { createEngine } from '../engine/engine.js';
import { decodePng, encodePng } from '../engine/png.js';
import { runCli, UsageError } from './cli-errors.js';
import { EMOJI_PROMPTS, ICON_PROMPTS } from './sample-prompts.js';
import { modelFolderSourceAsync, registerRepoEmbeddedModel } from './node-host.js';
import { checkOutputPathAsync } from './output-path.js';
import { displayPath, resolveUserPath } from './user-paths.js';

const ROWS = { emoji: EMOJI_PROMPTS, icons: ICON_PROMPTS, all: [...EMOJI_PROMPTS, ...ICON_PROMPTS] } as const;
type Rows = keyof typeof ROWS;
const RATIOS: Array<[string, number, number]> = [
  ['1:1', 1, 1],
  ['16:9', 16, 9],
  ['9:16', 9, 16],
  ['4:1', 4, 1],
];
const GAP = 8;
const CELL_GREY = 200;

export const SAMPLE_GRID_USAGE = `Usage: npm run sample-grid -- [options]

Renders the model's sample grid (prompts × aspect ratios) with the engine and writes one PNG.

      --model <folder>     a model package folder (default: models/default/)
      --steps <n>          denoising steps (default: the model's recommendation, else 28)
      --seed <n>           seed of the first row; each row adds 1 (default: 7)
      --rows <set>         emoji, icons or all (default: all; v1 knows no icons)
  -o, --out <file.png>     where to write the grid (default: engine-grid.png)
  -h, --help               show this help and exit`;

function parseGridArgs(argv: string[]): { model?: string; steps?: number; seed: number; rows: Rows; out: string } | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        steps: { type: 'string' },
        seed: { type: 'string' },
        rows: { type: 'string' },
        out: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const integer = (flag: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected an integer of ${min} or more`);
    return n;
  };
  const rows = values.rows ?? 'all';
  if (!(rows in ROWS)) throw new UsageError(`--rows ${JSON.stringify(rows)}: expected emoji, icons or all`);
  return {
    rows: rows as Rows,
    ...(values.model !== undefined ? { model: resolveUserPath(values.model) } : {}),
    ...(values.steps !== undefined ? { steps: integer('steps', values.steps, 1) } : {}),
    seed: values.seed === undefined ? 7 : integer('seed', values.seed, 0),
    out: resolveUserPath(values.out ?? 'engine-grid.png'),
  };
}

async function main(): Promise<void> {
  const args = parseGridArgs(process.argv.slice(2));
  if (args === 'help') {
    console.log(SAMPLE_GRID_USAGE);
    return;
  }
  await checkOutputPathAsync(args.out);
  const prompts = ROWS[args.rows];
  registerRepoEmbeddedModel();
  const engine = createEngine({ backend: 'wasm' });
  const info = await engine.loadModel(args.model ? await modelFolderSourceAsync(args.model) : { kind: 'embedded' });
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
      console.log(
        `${RATIOS[col][0].padEnd(5)} ${String(image.width).padStart(4)}x${image.height}  ${prompts[row]}  (${result.timings.totalMs.toFixed(0)} ms, ${result.backend})`,
      );
    }
  }
  await writeFile(args.out, encodePng(grid, gridW, gridH, 4));
  console.log(
    `wrote ${displayPath(args.out)} (${gridW}x${gridH}): rows = prompts, columns = ${RATIOS.map((r) => r[0]).join(', ')}; model ${info.name}`,
  );
  await engine.dispose();
}

function fillRect(dst: Uint8Array, dstW: number, x: number, y: number, w: number, h: number, grey: number): void {
  for (let j = y; j < y + h; j++) dst.fill(grey, (j * dstW + x) * 4, (j * dstW + x + w) * 4);
  for (let j = y; j < y + h; j++) for (let i = x; i < x + w; i++) dst[(j * dstW + i) * 4 + 3] = 255;
}

function blit(dst: Uint8Array, dstW: number, src: Uint8Array, srcW: number, srcH: number, x: number, y: number): void {
  for (let j = 0; j < srcH; j++) dst.set(src.subarray(j * srcW * 4, (j + 1) * srcW * 4), ((y + j) * dstW + x) * 4);
}

runCli('sample-grid', main);
