/**
 * npx tsx scripts/retire-built-in-model.ts <folder under models/>
 *
 * Lists a built-in model that a new one replaces in RETIRED_BUILT_IN_MODELS (ui/jobs/skip-reasons.ts),
 * so that Regenerate on a layer it made names its folder. The entry is what the engine's own loader
 * reads from the folder (id, name, hash, supersedes), as test/model/default-package.test.ts checks it.
 * `bash model/install-package.sh --ship-candidate <version>` runs it on the folder it moves the old
 * built-in model to; it refuses a folder or hash already listed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelIdentity } from '../ui/jobs/skip-reasons.js';
import { modelFolderSourceAsync } from '../worker/cli/node-host.js';
import { loadModelPackageAsync } from '../worker/engine/load-model-package.js';

export type RetiredEntry = ModelIdentity & { folder: string };

const LIST_START = 'export const RETIRED_BUILT_IN_MODELS';

/** `source` (skip-reasons.ts) with `entry` appended to RETIRED_BUILT_IN_MODELS, formatted as the list is. */
export function withRetiredEntry(source: string, entry: RetiredEntry): string {
  const start = source.indexOf(LIST_START);
  if (start < 0) throw new Error(`no ${LIST_START} in the source`);
  const end = source.indexOf('\n];', start);
  if (end < 0) throw new Error('RETIRED_BUILT_IN_MODELS does not end with "];" on a line of its own');
  const list = source.slice(start, end);
  if (list.includes(`folder: '${entry.folder}'`)) throw new Error(`${entry.folder} is listed already`);
  if (list.includes(`'${entry.hash}'`)) throw new Error(`hash ${entry.hash.slice(0, 12)}… is listed already`);
  const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = [
    '  {',
    `    id: ${quote(entry.id)},`,
    `    name: ${quote(entry.name)},`,
    `    hash: ${quote(entry.hash)},`,
    ...(entry.supersedes?.length ? [`    supersedes: [${entry.supersedes.map(quote).join(', ')}],`] : []),
    `    folder: ${quote(entry.folder)},`,
    '  },',
  ];
  return `${source.slice(0, end)}\n${lines.join('\n')}${source.slice(end)}`;
}

/** The entry for a package folder (relative to the repository), from the engine's reading of it. */
export async function retiredEntryAsync(repoRoot: string, folder: string): Promise<RetiredEntry> {
  const { summary } = await loadModelPackageAsync(await modelFolderSourceAsync(path.join(repoRoot, folder)));
  return { id: summary.id, name: summary.name, hash: summary.hash, supersedes: summary.supersedes ?? [], folder };
}

async function mainAsync(): Promise<void> {
  const folder = process.argv[2];
  if (!folder || !/^models\/[^/]+$/.test(folder) || folder === 'models/default')
    throw new Error('give the folder under models/ that holds the retired built-in model, e.g. models/v2.1');
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const file = path.join(repoRoot, 'ui/jobs/skip-reasons.ts');
  const entry = await retiredEntryAsync(repoRoot, folder);
  writeFileSync(file, withRetiredEntry(readFileSync(file, 'utf8'), entry));
  console.log(`ui/jobs/skip-reasons.ts: ${entry.name} (${entry.hash.slice(0, 12)}…) listed as retired, in ${folder}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  mainAsync().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
