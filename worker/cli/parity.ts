/**
 * Golden parity from the command line:
 *   npm run parity -- test/fixtures/sd3-tiny-golden [--backend wasm]
 * Prints one row per case (max |difference| of each intermediate against diffusers) and exits
 * non-zero when any case is outside the tolerances of the fixtures' README.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { BackendPreference } from '../../common/engine-types.js';
import { DIFFUSERS_GOLDEN_FORMAT, runDiffusersParityAsync, type DiffusersParityReport } from '../parity/run-diffusers-parity.js';
import { runParityAsync, type ParityReport } from '../parity/run-parity.js';
import { runCli, UsageError } from './cli-errors.js';
import { openFileAsBlobAsync } from './file-blob.js';
import { useNodeBackendAsync } from './node-host.js';
import { displayPath, resolveUserPath } from './user-paths.js';

export const PARITY_USAGE = `Usage: npm run parity -- [options] <fixtures folder>

Runs every case of a golden-parity folder (cases.json and the reference arrays diffusers wrote)
through the engine and compares each intermediate. Two formats: ONNX packages with reference runs
(e.g. test/fixtures/sd3-tiny-golden), and "flowfill-diffusers-golden/1" — diffusers checkpoints run
from prompt strings (e.g. the extracted test/fixtures/sd3-diffusers-tiny.tar.xz).

      --backend <name>     wasm (default) or webgpu
  -h, --help               show this help and exit

Exit status: 0 every case within the tolerances, 1 a case outside them, 2 wrong command line,
3 the folder could not be read or run.`;

function parseParityArgs(argv: string[]): { dir: string; backend: Exclude<BackendPreference, 'auto'> } | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  if (parsed.values.help) return 'help';
  const backend = parsed.values.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'webgpu') throw new UsageError(`--backend ${JSON.stringify(backend)}: expected wasm or webgpu`);
  if (parsed.positionals.length !== 1)
    throw new UsageError(`give one fixtures folder, e.g. test/fixtures/sd3-tiny-golden (got ${parsed.positionals.length})`);
  return { dir: resolveUserPath(parsed.positionals[0]), backend };
}

function format(value: number): string {
  return Number.isFinite(value) ? value.toExponential(2) : String(value);
}

export function printParityReport(report: ParityReport): void {
  const t = report.tolerances;
  console.log(
    `parity on ${report.backend}; tolerances: step0 ${t.step0}, latents ${t.latents}, image ${t.image}, u8 ≤${t.u8MaxDiff} & ≥${t.u8EqualFraction * 100}% equal`,
  );
  const rows = report.cases.map((c) => ({
    case: c.name,
    schedule: format(c.schedule),
    step0_out: format(c.step0TransformerOutput),
    step0_guided: format(c.step0Guided),
    latents_max: format(c.latentsPerStep),
    final: format(c.finalLatents),
    image: format(c.image),
    u8_max: String(c.imageU8MaxDiff),
    u8_equal: `${(c.imageU8EqualFraction * 100).toFixed(2)}%`,
    result: c.failures.length === 0 ? 'pass' : `FAIL: ${c.failures.join('; ')}`,
  }));
  console.table(rows);
}

export function printDiffusersParityReport(report: DiffusersParityReport): void {
  console.log(`parity (${report.format}) on ${report.backend}`);
  for (const c of report.cases) {
    console.log(`\n${c.name} (${c.model}): ${c.pass ? 'pass' : 'FAIL'}`);
    console.table(
      c.measures.map((m) => ({
        measure: m.name,
        value: Number.isInteger(m.value) ? m.value : format(m.value),
        limit: `${m.kind === 'max' ? '≤' : '≥'} ${m.limit}`,
        result: m.pass ? 'pass' : 'FAIL',
      })),
    );
    if (c.skipped.length > 0) console.log(`not in this case: ${c.skipped.join(', ')}`);
  }
}

async function main(): Promise<void> {
  const args = parseParityArgs(process.argv.slice(2));
  if (args === 'help') {
    console.log(PARITY_USAGE);
    return;
  }
  const info = await stat(args.dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`${displayPath(args.dir)}: no such folder`);
  if (!(await stat(path.join(args.dir, 'cases.json')).catch(() => undefined))) {
    throw new UsageError(`${displayPath(args.dir)}: not a golden-parity folder (no cases.json in it)`);
  }
  await useNodeBackendAsync(args.backend);
  const read = async (rel: string) => new Uint8Array(await readFile(path.join(args.dir, rel)));
  const description = `the folder ${displayPath(args.dir)}`;
  const index = JSON.parse(new TextDecoder().decode(await read('cases.json'))) as { format?: string };
  if (index.format === DIFFUSERS_GOLDEN_FORMAT) {
    const report = await runDiffusersParityAsync({
      readFile: read,
      openFile: (rel) => openFileAsBlobAsync(path.join(args.dir, rel)),
      backend: args.backend,
      description,
    });
    printDiffusersParityReport(report);
    process.exitCode = report.pass ? 0 : 1;
    return;
  }
  const report = await runParityAsync({ readFile: read, backend: args.backend, description });
  printParityReport(report);
  process.exitCode = report.pass ? 0 : 1;
}

runCli('parity', main, 3);
