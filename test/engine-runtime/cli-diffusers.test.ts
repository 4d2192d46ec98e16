/**
 * The command line with a diffusers checkpoint, as a user downloads it: `npm run generate --model
 * <folder>` writes the asked size at two aspect ratios with the same bytes for the same seed;
 * `npm run convert` writes a package that generates the same bytes without converting again, and
 * refuses wrong command lines with status 2 and damaged checkpoints with status 1, leaving nothing.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodePng } from '../../worker/engine/png.js';
import { CONVERT_USAGE } from '../../worker/cli/convert-args.js';
import { diffusersFixtureDir, repoRoot } from '../fixture-paths.js';

const TSX = path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs');

function tool(name: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [TSX, path.join(repoRoot, 'worker/cli', `${name}.ts`), ...args],
      { cwd, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

let dir: string;
let model: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flowfill-cli-diffusers-'));
  model = path.join(diffusersFixtureDir(), 'sd35m_style');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const BUDGET = 240_000;

test(
  'generate --model <diffusers folder>: the asked size at 2:1 and 1:2, same bytes for the same seed',
  async () => {
    const common = ['a red fox in the snow', '--model', model, '--steps', '3', '--seed', '11', '-q'];
    const wide1 = await tool('generate', [...common, '--size', '128x64', '-o', 'wide1.png'], dir);
    expect(wide1.stderr).toBe('');
    expect(wide1.code).toBe(0);
    const wide2 = await tool('generate', [...common, '--size', '128x64', '-o', 'wide2.png'], dir);
    const tall = await tool('generate', [...common, '--size', '64x128', '-o', 'tall.png'], dir);
    expect([wide2.code, tall.code]).toEqual([0, 0]);
    const [a, b, c] = await Promise.all(['wide1', 'wide2', 'tall'].map((name) => readFile(path.join(dir, `${name}.png`))));
    expect(Buffer.compare(a, b)).toBe(0);
    expect([decodePng(a).width, decodePng(a).height]).toEqual([128, 64]);
    expect([decodePng(c).width, decodePng(c).height]).toEqual([64, 128]);
  },
  BUDGET,
);

test(
  'convert --help prints the usage and exits 0; wrong command lines exit 2 naming the problem',
  async () => {
    const help = await tool('convert', ['--help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout.trim()).toBe(CONVERT_USAGE);
    const cases: [string[], RegExp][] = [
      [[model], /give the checkpoint folder and the output folder \(got 1 paths\)/],
      [[model, 'out', '--precision', 'fp64'], /--precision fp64 is not one of fp32, fp16, int8, int4/],
      [['no-such-folder', 'out'], /no-such-folder: no such folder/],
      [[model, 'out', '--precision'], /--precision needs a value/],
      [[model, path.join(model, 'inside')], /must not be inside the checkpoint folder/],
    ];
    for (const [args, message] of cases) {
      const outcome = await tool('convert', args, dir);
      expect(outcome.code).toBe(2);
      expect(outcome.stderr).toMatch(message);
    }
  },
  BUDGET,
);

test(
  'convert writes a package that generates the same bytes as the checkpoint it came from',
  async () => {
    const converted = await tool('convert', [model, 'pkg', '--precision', 'fp32'], dir);
    expect(converted.stderr.split('\n').filter((line) => line && !line.startsWith('['))).toEqual([]);
    expect(converted.code).toBe(0);
    expect(converted.stdout).toMatch(/^wrote pkg: \d+ files, [\d.]+ MB, fp32, in [\d.]+ s/);
    const manifest = JSON.parse(await readFile(path.join(dir, 'pkg/flowfill.json'), 'utf8'));
    expect(Object.keys(manifest.files)).toEqual(
      expect.arrayContaining([
        'transformer/model.onnx',
        'transformer/model.onnx_data',
        'tokenizer/tokenizer.json',
        'vae_encoder/model.onnx',
      ]),
    );
    const args = ['a red fox in the snow', '--size', '96x64', '--steps', '2', '--seed', '5', '-q'];
    const fromCheckpoint = await tool('generate', [...args, '--model', model, '-o', 'a.png'], dir);
    const fromPackage = await tool('generate', [...args, '--model', 'pkg', '-o', 'b.png'], dir);
    expect([fromCheckpoint.code, fromPackage.code]).toEqual([0, 0]);
    expect(Buffer.compare(await readFile(path.join(dir, 'a.png')), await readFile(path.join(dir, 'b.png')))).toBe(0);
  },
  BUDGET,
);

test(
  'convert of a damaged checkpoint exits 1 naming the file, and leaves no folder',
  async () => {
    const damaged = path.join(dir, 'damaged');
    await cp(model, damaged, { recursive: true });
    await truncate(path.join(damaged, 'text_encoder/model-00001-of-00002.safetensors'), 4096);
    const outcome = await tool('convert', [damaged, 'broken-pkg'], dir);
    expect(outcome.code).toBe(1);
    expect(outcome.stderr).toMatch(/model-00001-of-00002\.safetensors/);
    expect(existsSync(path.join(dir, 'broken-pkg'))).toBe(false);
    expect(readdirSync(dir).filter((name) => name.startsWith('broken-pkg'))).toEqual([]);
  },
  BUDGET,
);
