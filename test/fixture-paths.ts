/**
 * Where the tests find the golden fixtures (test/fixtures/README.md). Everything lives inside the
 * repository, so a fresh clone anywhere passes `npm test`; FLOWFILL_FIXTURES points the tiny-golden
 * tests at another folder of the same format.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file lives in <root>/test/. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const fixturesRoot = path.join(repoRoot, 'test', 'fixtures');

/** The sd3-tiny-golden folder: $FLOWFILL_FIXTURES when set, else the copy in the repository. */
export const goldenFixtureDir = path.resolve(process.env.FLOWFILL_FIXTURES ?? path.join(fixturesRoot, 'sd3-tiny-golden'));

/**
 * The extracted sd3-diffusers-tiny folder (cases.json, the .bin arrays, sd35m_style/,
 * sd3m_style_no_t5/). Extracts the committed archive on first use; concurrent jest workers each
 * extract into their own temporary folder and rename it into place, so none sees a half-written tree.
 */
export function diffusersFixtureDir(): string {
  const extracted = path.join(fixturesRoot, '.extracted');
  const folder = path.join(extracted, 'sd3-diffusers-tiny');
  if (existsSync(path.join(folder, 'cases.json'))) return folder;
  const archive = path.join(fixturesRoot, 'sd3-diffusers-tiny.tar.xz');
  const scratch = path.join(extracted, `.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(scratch, { recursive: true });
  try {
    execFileSync('tar', ['-xJf', archive, '-C', scratch], { stdio: 'pipe' });
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    const why = (error as { stderr?: Buffer }).stderr?.toString().trim() || String(error);
    throw new Error(`could not extract ${archive} (tar -xJf needs xz; on Debian: apt-get install xz-utils): ${why}`, { cause: error });
  }
  try {
    renameSync(path.join(scratch, 'sd3-diffusers-tiny'), folder);
  } catch (error) {
    // Another worker won the race: its complete copy is in place.
    if (!existsSync(path.join(folder, 'cases.json'))) throw error;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return folder;
}
