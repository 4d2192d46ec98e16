/**
 * `npm run convert`'s command line: its usage text and the checks every argument passes before any
 * checkpoint is read (kept apart from convert.ts, which runs when imported).
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { PRECISIONS, type Precision } from '../engine/onnx/layers.js';
import { UsageError } from './cli-errors.js';
import { displayPath, resolveUserPath } from './user-paths.js';

export const CONVERT_USAGE = `Usage: npm run convert -- <diffusers checkpoint folder> <output folder> [--precision fp32|fp16|int8|int4] [--name "display name"] [--force]

  --precision  fp32 (default): float32, runs everywhere
               fp16: half-precision weights and products (WebGPU with shader-f16)
               int8, int4: weight-only quantised big matrices, float32 activations
  --name       display name written to flowfill.json
  --force      replace the output folder if it exists
  -h, --help   show this help and exit

Exit status: 0 written, 1 the checkpoint could not be converted (nothing is left behind), 2 wrong command line.`;

export interface ConvertArgs {
  source: string;
  out: string;
  precision: Precision;
  name?: string;
  force: boolean;
}

export function parseConvertArgs(argv: string[]): ConvertArgs | 'help' {
  const positional: string[] = [];
  let precision: Precision = 'fp32';
  let name: string | undefined;
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--precision') {
      const p = value();
      if (!(PRECISIONS as readonly string[]).includes(p)) throw new UsageError(`--precision ${p} is not one of ${PRECISIONS.join(', ')}`);
      precision = p as Precision;
    } else if (arg === '--name') name = value();
    else if (arg === '--force') force = true;
    else if (arg.startsWith('--')) throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (positional.length !== 2) throw new UsageError(`give the checkpoint folder and the output folder (got ${positional.length} paths)`);
  const [source, out] = positional.map((p) => resolveUserPath(p));
  if (!existsSync(source) || !statSync(source).isDirectory()) throw new UsageError(`${displayPath(source)}: no such folder`);
  if (!existsSync(path.join(source, 'model_index.json')))
    throw new UsageError(`${displayPath(source)}: not a diffusers checkpoint (no model_index.json in it)`);
  if (!path.relative(source, out).startsWith('..')) throw new UsageError('the output folder must not be inside the checkpoint folder');
  if (!existsSync(path.dirname(out))) throw new UsageError(`${displayPath(path.dirname(out))}: no such folder for the output`);
  return { source, out, precision, name, force };
}
