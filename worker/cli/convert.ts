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
import { createNodePackageSinkAsync, nodeSha256 } from './node-package-sink.js';
import { openFolderAsync } from './node-host.js';

const USAGE = `usage: npm run convert -- <diffusers checkpoint folder> <output folder> [--precision fp32|fp16|int8|int4] [--name "display name"] [--force]

  --precision  fp32 (default): float32, runs everywhere
               fp16: half-precision weights and products (WebGPU with shader-f16)
               int8, int4: weight-only quantised big matrices, float32 activations
  --name       display name written to flowfill.json
  --force      replace the output folder if it exists`;

interface Args {
  source: string;
  out: string;
  precision: Precision;
  name?: string;
  force: boolean;
}

export function parseConvertArgs(argv: string[], cwd: string): Args | 'help' {
  const positional: string[] = [];
  let precision: Precision = 'fp32';
  let name: string | undefined;
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new Error(`${arg} needs a value\n\n${USAGE}`);
      return next;
    };
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--precision') {
      const p = value();
      if (!(PRECISIONS as readonly string[]).includes(p)) throw new Error(`--precision ${p} is not one of ${PRECISIONS.join(', ')}`);
      precision = p as Precision;
    } else if (arg === '--name') name = value();
    else if (arg === '--force') force = true;
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}\n\n${USAGE}`);
    else positional.push(arg);
  }
  if (positional.length !== 2) throw new Error(`give the checkpoint folder and the output folder\n\n${USAGE}`);
  const [source, out] = positional.map((p) => path.resolve(cwd, p));
  if (!existsSync(source) || !statSync(source).isDirectory()) throw new Error(`${positional[0]} is not a folder`);
  if (!existsSync(path.join(source, 'model_index.json'))) throw new Error(`${positional[0]} has no model_index.json: point at the folder of a diffusers checkpoint`);
  if (path.relative(source, out) === '' || !path.relative(source, out).startsWith('..')) throw new Error('the output folder must not be inside the checkpoint folder');
  return { source, out, precision, name, force };
}

function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

async function main(): Promise<void> {
  // npm run changes to the repository root; INIT_CWD is where the user typed the command.
  const args = parseConvertArgs(process.argv.slice(2), process.env.INIT_CWD ?? process.cwd());
  if (args === 'help') {
    console.log(USAGE);
    return;
  }
  const started = performance.now();
  const files = await openPackageAsync({ kind: 'files', files: await openFolderAsync(args.source), description: `the folder ${args.source}` });
  const sink = await createNodePackageSinkAsync(args.out, { overwrite: args.force });
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
  console.log(`wrote ${args.out}: ${Object.keys(result.files).length + 1} files, ${formatBytes(result.totalBytes)}, ${args.precision}, in ${seconds} s`);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  main().catch((error) => {
    console.error(`convert: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
