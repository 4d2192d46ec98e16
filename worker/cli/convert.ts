/**
 * npm run convert -- <diffusers checkpoint folder> <output folder> [--precision fp32|fp16|int8|int4] [--name "…"] [--force]
 *
 * Builds the ONNX graphs of an SD3/SD3.5 checkpoint in the diffusers layout (as downloaded from
 * the Hugging Face Hub) and writes them as a Flowfill package (Optimum layout + flowfill.json with
 * the sha256 of every file), so later loads skip the conversion. The package appears under the
 * output name only once it is complete.
 */
import path from 'node:path';
import { openPackageAsync } from '../engine/package-source.js';
import { convertDiffusersCheckpointAsync } from '../engine/sd3/convert-diffusers.js';
import { runCli, UsageError } from './cli-errors.js';
import { CONVERT_USAGE, parseConvertArgs } from './convert-args.js';
import { createNodePackageSinkAsync, nodeSha256 } from './node-package-sink.js';
import { openFolderAsync } from './node-host.js';
import { displayPath } from './user-paths.js';

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
