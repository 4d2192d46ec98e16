/**
 * scripts/retire-built-in-model.ts: the RETIRED_BUILT_IN_MODELS entry a release adds for the model it
 * replaces, written into skip-reasons.ts as the list is written. The entry read from a folder
 * (retiredEntryAsync) is checked against every listed folder by default-package.test.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { withRetiredEntry } from '../../scripts/retire-built-in-model.js';
import { RETIRED_BUILT_IN_MODELS } from '../../ui/jobs/skip-reasons.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sourcePath = path.join(repoRoot, 'ui/jobs/skip-reasons.ts');
const source = fs.readFileSync(sourcePath, 'utf8');

test('a new entry goes at the end of the list, formatted as prettier formats the file', async () => {
  // Not a real model: the test must hold after any release adds its own entry.
  const entry = {
    id: 'flowfill-test-sd3-tiny-v9-9-0123456789ab',
    name: 'Flowfill Test SD3-tiny v9.9',
    hash: '0123456789ab'.padEnd(64, 'c'),
    supersedes: ['0123456789ab'.padEnd(64, 'd')],
    folder: 'models/v9.9',
  };
  const out = withRetiredEntry(source, entry);
  const added = out.split('\n').length - source.split('\n').length;
  expect(added).toBe(7);
  const options = (await prettier.resolveConfig(sourcePath)) ?? {};
  expect(await prettier.format(out, { ...options, filepath: sourcePath })).toBe(out);
  const list = out.slice(out.indexOf('export const RETIRED_BUILT_IN_MODELS'));
  const last = list.slice(0, list.indexOf('\n];'));
  expect(last.endsWith(`    folder: 'models/v9.9',\n  },`)).toBe(true);
  expect(last).toContain(`    supersedes: ['${entry.supersedes[0]}'],`);
  // Everything else is as it was.
  expect(out.replace(/\n {2}\{\n {4}id: 'flowfill-test-sd3-tiny-v9-9-0123456789ab',[^]*?\n {2}\},/, '')).toBe(source);
});

test('a folder or hash already listed is refused', () => {
  const listed = RETIRED_BUILT_IN_MODELS[RETIRED_BUILT_IN_MODELS.length - 1];
  expect(() => withRetiredEntry(source, { ...listed, hash: 'f'.repeat(64) })).toThrow(/listed already/);
  expect(() => withRetiredEntry(source, { ...listed, folder: 'models/elsewhere' })).toThrow(/listed already/);
  expect(() => withRetiredEntry('export const X = [];\n', { ...listed, folder: 'models/x' })).toThrow(/no export const/);
});
