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
import { runParityAsync, type ParityReport } from '../parity/run-parity.js';
import { runCli, UsageError } from './cli-errors.js';
import { useNodeBackendAsync } from './node-host.js';
import { displayPath, resolveUserPath } from './user-paths.js';

export const PARITY_USAGE = `Usage: npm run parity -- [options] <fixtures folder>

Runs every case of a golden-parity folder (cases.json and the reference arrays diffusers wrote,
e.g. test/fixtures/sd3-tiny-golden) through the engine and compares each intermediate.

      --backend <name>     wasm (default) or webgpu
  -h, --help               show this help and exit

Exit status: 0 every case within the tolerances, 1 a case outside them, 2 wrong command line,
3 the folder could not be read or run.`;

function parseParityArgs(argv: string[]): { dir: string; backend: Exclude<BackendPreference, 'auto'> } | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  if (parsed.values.help) return 'help';
  const backend = parsed.values.backend ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'webgpu') throw new UsageError(`--backend ${JSON.stringify(backend)}: expected wasm or webgpu`);
  if (parsed.positionals.length !== 1) throw new UsageError(`give one fixtures folder, e.g. test/fixtures/sd3-tiny-golden (got ${parsed.positionals.length})`);
  return { dir: resolveUserPath(parsed.positionals[0]), backend };
}

function format(value: number): string {
  return Number.isFinite(value) ? value.toExponential(2) : String(value);
}

export function printParityReport(report: ParityReport): void {
  const t = report.tolerances;
  console.log(`parity on ${report.backend}; tolerances: step0 ${t.step0}, latents ${t.latents}, image ${t.image}, u8 ≤${t.u8MaxDiff} & ≥${t.u8EqualFraction * 100}% equal`);
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
  const report = await runParityAsync({
    readFile: async (rel) => new Uint8Array(await readFile(path.join(args.dir, rel))),
    backend: args.backend,
    description: `the folder ${displayPath(args.dir)}`,
  });
  printParityReport(report);
  process.exitCode = report.pass ? 0 : 1;
}

runCli('parity', main, 3);
