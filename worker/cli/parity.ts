/**
 * Golden parity from the command line:
 *   npm run parity -- test/fixtures/sd3-tiny-golden [--backend wasm]
 * Prints one row per case (max |difference| of each intermediate against diffusers) and exits
 * non-zero when any case is outside the tolerances of the fixtures' README.
 */
import { openAsBlob } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Backend } from '../../common/engine-types.js';
import { DIFFUSERS_GOLDEN_FORMAT, runDiffusersParityAsync, type DiffusersParityReport } from '../parity/run-diffusers-parity.js';
import { runParityAsync, type ParityReport } from '../parity/run-parity.js';
import { useNodeBackendAsync } from './node-host.js';

function parseArgs(argv: string[]): { dir: string; backend: Backend } {
  let dir: string | undefined;
  let backend: Backend = 'wasm';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--backend') backend = argv[++i] as Backend;
    else if (!argv[i].startsWith('--')) dir = argv[i];
    else throw new Error(`unknown option ${argv[i]}; usage: npm run parity -- <fixtures dir> [--backend wasm|webgpu]`);
  }
  if (!dir) throw new Error('usage: npm run parity -- <fixtures dir> [--backend wasm|webgpu]');
  if (backend !== 'wasm' && backend !== 'webgpu') throw new Error(`--backend ${backend} is unknown; use wasm or webgpu`);
  return { dir, backend };
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
  const { dir, backend } = parseArgs(process.argv.slice(2));
  await useNodeBackendAsync(backend);
  const root = path.resolve(dir);
  const read = async (rel: string) => new Uint8Array(await readFile(path.join(root, rel)));
  const index = JSON.parse(new TextDecoder().decode(await read('cases.json'))) as { format?: string };
  if (index.format === DIFFUSERS_GOLDEN_FORMAT) {
    const report = await runDiffusersParityAsync({ readFile: read, openFile: (rel) => openAsBlob(path.join(root, rel)), backend, description: root });
    printDiffusersParityReport(report);
    process.exitCode = report.pass ? 0 : 1;
    return;
  }
  const report = await runParityAsync({ readFile: read, backend, description: root });
  printParityReport(report);
  process.exitCode = report.pass ? 0 : 1;
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 2;
});
