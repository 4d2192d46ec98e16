/**
 * The command-line tools as a user runs them (tsx, separate processes): generate is deterministic
 * and reports its backend and stage timings; parity exits 0 on the golden fixtures.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodePng } from '../../worker/engine/png.js';
import { FIXTURE_DIR } from './helpers.js';

const run = promisify(execFile);
const TSX = path.resolve('node_modules/tsx/dist/cli.mjs');

function tsx(script: string, args: string[]) {
  return run(process.execPath, [TSX, script, ...args], { cwd: process.cwd(), maxBuffer: 1 << 24 });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flowfill-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('npm run generate: same seed twice gives identical PNG files; stdout names the backend and stages', async () => {
  const args = (out: string) => ['a rocket', '--model', FIXTURE_DIR, '--size', '96x64', '--steps', '3', '--guidance', '4', '--seed', '7', '-o', out];
  const first = await tsx('worker/cli/generate.ts', args(path.join(dir, 'a.png')));
  await tsx('worker/cli/generate.ts', args(path.join(dir, 'b.png')));
  const [a, b] = await Promise.all([readFile(path.join(dir, 'a.png')), readFile(path.join(dir, 'b.png'))]);
  expect(a.equals(b)).toBe(true);
  expect(decodePng(new Uint8Array(a))).toMatchObject({ width: 96, height: 64 });
  expect(first.stdout).toMatch(/^backend\s+wasm$/m);
  for (const stage of ['load', 'text', 'denoise', 'vae dec', 'total']) expect(first.stdout).toMatch(new RegExp(`^${stage}\\s+[0-9.]+ ms`, 'm'));
}, 120_000);

test('npm run generate without --model uses models/default/, or explains what to pass when it is absent', async () => {
  const { stat } = await import('node:fs/promises');
  const hasDefault = await stat('models/default/model_index.json').then(() => true, () => false);
  const outcome = await tsx('worker/cli/generate.ts', ['x', '--steps', '1', '-o', path.join(dir, 'c.png')]).then(
    ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
  if (hasDefault) {
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toMatch(/^backend\s+wasm$/m);
  } else {
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/no embedded model in this build .* pass --model <dir>/);
  }
}, 120_000);

test('npm run parity exits 0 on the golden fixtures and prints one row per case', async () => {
  const { stdout } = await tsx('worker/cli/parity.ts', [FIXTURE_DIR]);
  expect(stdout).toMatch(/parity on wasm/);
  for (const name of ['a_txt2img', 'b_txt2img', 'c_img2img', 'd_txt2img']) expect(stdout).toContain(name);
  expect(stdout).not.toMatch(/FAIL/);
}, 120_000);
