/**
 * One image from the command line, through the same engine the plugin's worker runs:
 *   npm run generate -- "rocket, flat style, on a teal background" --size 768x432 --steps 20 \
 *     --guidance 4 --seed 7 [--model <package dir>] -o out.png [--init in.png --strength 0.6] \
 *     [--negative "..."] [--shift 3] [--backend wasm|webgpu]
 * Without --model it uses the embedded default model (models/default/). Steps and guidance
 * default to the model's flowfill.json "recommended" values, else SD3's 28 and 7. Prints the
 * backend and the time of each stage.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Backend, GenerationRequest } from '../../common/engine-types.js';
import { createEngine } from '../engine/engine.js';
import { decodePng } from '../engine/png.js';
import { readFolderAsync, registerRepoEmbeddedModel, useNodeBackendAsync } from './node-host.js';

interface Args {
  prompt: string;
  negative?: string;
  size?: [number, number];
  /** Absent: the model's recommended value (flowfill.json), else SD3's default. */
  steps?: number;
  guidance?: number;
  seed: number;
  shift?: number;
  model?: string;
  out: string;
  init?: string;
  strength?: number;
  backend: Backend;
}

const USAGE =
  'usage: npm run generate -- "prompt" [--size WxH] [--steps N] [--guidance g] [--seed 0] [--model dir] [-o out.png] ' +
  '[--init image.png --strength 0.6] [--negative text] [--shift s] [--backend wasm|webgpu]';

function number(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n)) throw new Error(`${flag} needs a number, got ${JSON.stringify(value)}`);
  return n;
}

export function parseGenerateArgs(argv: string[]): Args {
  const args: Args = { prompt: '', seed: 0, out: 'out.png', backend: 'wasm' };
  let promptSeen = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const next = (): string | undefined => argv[++i];
    switch (flag) {
      case '--size': {
        const match = /^(\d+)x(\d+)$/.exec(next() ?? '');
        if (!match) throw new Error(`--size needs WxH, e.g. 768x432`);
        args.size = [Number(match[1]), Number(match[2])];
        break;
      }
      case '--steps': args.steps = number(flag, next()); break;
      case '--guidance': args.guidance = number(flag, next()); break;
      case '--seed': args.seed = number(flag, next()); break;
      case '--shift': args.shift = number(flag, next()); break;
      case '--strength': args.strength = number(flag, next()); break;
      case '--model': args.model = next(); break;
      case '--init': args.init = next(); break;
      case '--negative': args.negative = next() ?? ''; break;
      case '-o': case '--out': args.out = next() ?? args.out; break;
      case '--backend': {
        const b = next();
        if (b !== 'wasm' && b !== 'webgpu') throw new Error(`--backend ${b} is unknown; use wasm or webgpu`);
        args.backend = b;
        break;
      }
      default:
        if (flag.startsWith('-')) throw new Error(`unknown option ${flag}\n${USAGE}`);
        if (promptSeen) throw new Error(`two prompts given (${JSON.stringify(args.prompt)} and ${JSON.stringify(flag)}); quote the prompt\n${USAGE}`);
        args.prompt = flag;
        promptSeen = true;
    }
  }
  return args;
}

async function main(): Promise<void> {
  const args = parseGenerateArgs(process.argv.slice(2));
  await useNodeBackendAsync(args.backend);
  registerRepoEmbeddedModel();
  const engine = createEngine({ backend: args.backend });
  const loadStarted = performance.now();
  const info = await engine.loadModel(args.model ? { kind: 'files', files: await readFolderAsync(args.model) } : { kind: 'embedded' });
  const loadMs = performance.now() - loadStarted;
  const [width, height] = args.size ?? [info.nativeSize, info.nativeSize];
  const request: GenerationRequest = {
    jobId: 'cli',
    prompt: args.prompt,
    negativePrompt: args.negative,
    width,
    height,
    // SD3's defaults (28 steps, guidance 7) unless the model recommends its own.
    steps: args.steps ?? info.recommended?.steps ?? 28,
    guidance: args.guidance ?? info.recommended?.guidance ?? 7,
    seed: args.seed,
    ...(args.shift !== undefined ? { shift: args.shift } : {}),
  };
  if (args.init) {
    const image = decodePng(new Uint8Array(await readFile(args.init)));
    request.init = { rgba: image.rgba, width: image.width, height: image.height };
    if (args.strength !== undefined) request.strength = args.strength;
  } else if (args.strength !== undefined) {
    throw new Error('--strength needs --init image.png');
  }
  const result = await engine.generate(request, (p) => process.stderr.write(`\rstep ${p.step}/${p.total}`));
  process.stderr.write('\n');
  await writeFile(args.out, result.png);
  const t = result.timings;
  const steps = t.denoiseStepMs;
  console.log(`model    ${info.name} (${info.id})`);
  console.log(`backend  ${result.backend}`);
  console.log(`size     ${result.width}x${result.height}, ${result.settings.steps} steps, guidance ${result.settings.guidance}, seed ${result.seed}`);
  console.log(`load     ${loadMs.toFixed(0)} ms (package check + session creation)`);
  console.log(`text     ${t.textEncodeMs.toFixed(1)} ms`);
  if (t.vaeEncodeMs !== undefined) console.log(`vae enc  ${t.vaeEncodeMs.toFixed(1)} ms`);
  console.log(`denoise  ${steps.reduce((a, b) => a + b, 0).toFixed(1)} ms (${steps.length} steps, median ${median(steps).toFixed(1)} ms/step)`);
  console.log(`vae dec  ${t.vaeDecodeMs.toFixed(1)} ms`);
  console.log(`total    ${t.totalMs.toFixed(1)} ms`);
  for (const note of new Set([...info.notes, ...result.notes])) console.log(`note     ${note}`);
  console.log(`wrote    ${args.out} (${result.png.length} bytes)`);
  await engine.dispose();
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
