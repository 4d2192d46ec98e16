/**
 * npm run convert -- <diffusers checkpoint folder> <output folder> [--precision fp32|fp16|int8|int4] [--name "…"] [--force]
 *
 * Builds the ONNX graphs of an SD3/SD3.5 checkpoint in the diffusers layout (as downloaded from
 * the Hugging Face Hub) and writes them as a Flowfill package (Optimum layout + flowfill.json with
 * the sha256 of every file), so later loads skip the conversion. The package appears under the
 * output name only once it is complete.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { PRECISIONS, type Precision } from '../engine/onnx/layers.js';
import { convertDiffusersCheckpointAsync } from '../engine/sd3/convert-diffusers.js';
import { openPackageAsync } from '../engine/package-source.js';
import { runCli, UsageError } from './cli-errors.js';
import { createNodePackageSinkAsync, nodeSha256 } from './node-package-sink.js';
import { openFolderAsync } from './node-host.js';
import { displayPath, resolveUserPath } from './user-paths.js';

export const CONVERT_USAGE = `Usage: npm run convert -- <diffusers checkpoint folder> <output folder> [--precision fp32|fp16|int8|int4] [--name "display name"] [--force]

  --precision  fp32 (default): float32, runs everywhere
               fp16: half-precision weights and products (WebGPU with shader-f16)
               int8, int4: weight-only quantised big matrices, float32 activations
  --name       display name written to flowfill.json
  --force      replace the output folder if it exists
  -h, --help   show this help and exit

Exit status: 0 written, 1 the checkpoint could not be converted (nothing is left behind), 2 wrong command line.`;

interface Args {
  source: string;
  out: string;
  precision: Precision;
  name?: string;
  force: boolean;
}

export function parseConvertArgs(argv: string[]): Args | 'help' {
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

function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

async function main(): Promise<void> {
  const args = parseConvertArgs(process.argv.slice(2));
  if (args === 'help') {
    console.log(CONVERT_USAGE);
    return;
  }
  const started = performance.now();
  const files = await openPackageAsync({
    kind: 'files',
    files: await openFolderAsync(args.source),
    description: `the folder ${args.source}`,
  });
  const sink = await createNodePackageSinkAsync(args.out, { overwrite: args.force }).catch((error: Error) => {
    throw new UsageError(error.message);
  });
  const tty = process.stderr.isTTY;
  let lastFile = '';
  const result = await convertDiffusersCheckpointAsync(files, sink, {
    precision: args.precision,
    name: args.name ?? path.basename(args.source),
    sha256: nodeSha256,
    onProgress: (p) => {
      if (tty) process.stderr.write(`\r[${p.fileIndex + 1}/${p.fileCount}] ${p.file} ${formatBytes(p.writtenBytes)}\x1b[K`);
      else if (p.file !== lastFile) console.error(`[${p.fileIndex + 1}/${p.fileCount}] ${p.file}`);
      lastFile = p.file;
    },
  });
  if (tty) process.stderr.write('\n');
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `wrote ${displayPath(args.out)}: ${Object.keys(result.files).length + 1} files, ${formatBytes(result.totalBytes)}, ${args.precision}, in ${seconds} s`,
  );
}

runCli('convert', main);
