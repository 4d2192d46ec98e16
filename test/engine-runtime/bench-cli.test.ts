/**
 * `npm run bench` as a user runs it: a separate process (tsx) started in a temporary directory.
 * Wrong command lines fail before any session exists, with exit status 2 and the argument named;
 * a short real run on WASM prints every stage of the table with numbers, cold and warm, beside the
 * native peer, and writes the same report as JSON. No timing is asserted: only that it was measured.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../fixture-paths.js';
import { FIXTURE_DIR } from './helpers.js';

const TSX = path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs');
const BENCH = path.join(repoRoot, 'worker/cli/bench.ts');

const STAGES = [
  'session creation (all graphs)',
  'text encoding',
  'denoise step, first',
  'denoise step, median',
  'denoise loop, wall',
  'denoise loop / steps',
  'VAE decode',
  'pixels to PNG',
  'image (prompt to PNG)',
];

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function bench(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSX, BENCH, ...args], { cwd, env, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The table's row for `stage`: its cells after the stage name. */
function rowOf(stdout: string, stage: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${stage}  `));
  if (!line) throw new Error(`no row "${stage}" in:\n${stdout}`);
  return line.slice(stage.length).trim().split(/\s+/);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flowfill-bench-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run bench', () => {
  test('--help lists --backend and the other options, exit 0', async () => {
    const { code, stdout, stderr } = await bench(['--help'], dir);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^Usage: npm run bench -- \[options\]\n/);
    for (const option of ['--backend', '--model', '--size', '--steps', '--guidance', '--runs', '--native-threads', '--out', '--help'])
      expect(stdout).toContain(option);
  }, 60_000);

  test.each([
    ['an unknown backend', ['--backend', 'cuda'], /^bench: --backend "cuda": expected wasm or webgpu$/m],
    ['zero runs', ['--runs', '0'], /^bench: --runs "0": expected a positive integer$/m],
    ['steps that are not a number', ['--steps', 'many'], /^bench: --steps "many": expected a positive integer$/m],
    ['a size that is not WxH', ['--size', '256'], /^bench: --size "256": expected <width>x<height>, e\.g\. 256x256$/m],
    ['a negative guidance', ['--guidance=-1'], /^bench: --guidance "-1": expected a number of 0 or more$/m],
    [
      'a report that is not .json',
      ['--out', 'report.txt'],
      /^bench: --out "report\.txt": expected a \.json file name, e\.g\. bench\.json$/m,
    ],
    ['an unknown option', ['--colour', 'red'], /^bench: Unknown option '--colour'/m],
    ['a model folder that does not exist', ['--model', 'no-model'], /^bench: --model no-model: no such folder$/m],
  ])(
    '%s: exit 2, the argument named, where the options are',
    async (_name, args, message) => {
      const { code, stdout, stderr } = await bench(args, dir);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(message);
      expect(stderr).toContain('Run "npm run bench -- --help" for the options.');
    },
    60_000,
  );

  test('--backend webgpu where Dawn finds no adapter: exit 1 (not a hang), saying how to get one and naming --backend wasm', async () => {
    const { code, stderr } = await bench(['--backend', 'webgpu', '--steps', '1', '--runs', '1'], dir, {
      ...process.env,
      VK_ICD_FILENAMES: path.join(dir, 'no-driver.json'),
      VK_DRIVER_FILES: path.join(dir, 'no-driver.json'),
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^bench: --backend webgpu: Dawn for Node found no GPU adapter \(it needs a Vulkan driver; .*VK_ICD_FILENAMES=.*\); use --backend wasm$/m,
    );
  }, 60_000);

  test('a short real run on WASM (default model, 128², 2 steps, 2 images): every stage numeric, cold and warm, beside the native peer; --out relative to the working directory', async () => {
    const cwd = path.join(dir, 'run');
    await mkdir(cwd);
    const { code, stdout, stderr } = await bench(['--size', '128x128', '--steps', '2', '--runs', '2', '--out', 'report.json'], cwd);
    expect({ code, stderr: stderr.split('\n').filter((l) => !/^(wasm|native): /.test(l) && l !== '') }).toEqual({ code: 0, stderr: [] });
    expect(stdout).toMatch(/^model .+; 128x128, 2 steps, guidance 4 \(CFG, batch 2\), 2 image\(s\)$/m);
    expect(stdout).toMatch(/^stage +cold ms +warm ms +native cold ms +native warm ms +wasm\/native$/m);
    for (const stage of STAGES) {
      const [cold, warm] = rowOf(stdout, stage);
      expect([stage, Number(cold) > 0, Number(warm) > 0]).toEqual([stage, true, true]);
    }
    // The native peer has the same graphs' stages; the loop's wall time is the engine's own.
    for (const stage of ['session creation (all graphs)', 'text encoding', 'denoise step, median', 'VAE decode']) {
      const [, , nativeCold, nativeWarm, ratio] = rowOf(stdout, stage);
      expect([stage, Number(nativeCold) > 0, Number(nativeWarm) > 0, Number(ratio) > 0]).toEqual([stage, true, true, true]);
    }
    const cold =
      /^cold start: process start to first PNG ([\d.]+) ms; tool modules loaded at ([\d.]+) ms; module load to first PNG ([\d.]+) ms$/m.exec(
        stdout,
      );
    expect(cold).not.toBeNull();
    expect(Number(cold![1])).toBeCloseTo(Number(cold![2]) + Number(cold![3]), 0);
    expect(stdout).toMatch(/^peak memory during wasm \(process\.memoryUsage, cumulative\): rss [1-9]\d* MiB/m);

    const report = JSON.parse(await readFile(path.join(cwd, 'report.json'), 'utf8'));
    expect(report).toMatchObject({ backend: 'wasm', width: 128, height: 128, steps: 2, images: 2, cfg: true });
    expect(report.rows.map((row: { stage: string }) => row.stage)).toEqual(STAGES);
    expect(report.perImage).toHaveLength(2);
    expect(report.perImage[0].denoiseStepMs).toHaveLength(2);
    expect(report.sessionCreateMs).toHaveLength(2);
  }, 180_000);

  test('any package folder (--model, relative to the working directory): the golden fixture at its own size, 1 step, no CFG', async () => {
    const { code, stdout } = await bench(
      ['--model', path.relative(dir, FIXTURE_DIR), '--steps', '1', '--runs', '1', '--guidance', '1'],
      dir,
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/^model .+; \d+x\d+, 1 steps, guidance 1 \(no CFG\), 1 image\(s\)$/m);
    for (const stage of STAGES) {
      const [cold, warm] = rowOf(stdout, stage);
      // One image: nothing warm to show.
      expect([stage, Number(cold) >= 0, warm]).toEqual([stage, true, '—']);
    }
  }, 180_000);
});
