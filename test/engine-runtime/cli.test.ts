/**
 * The command-line tools as a user runs them: separate processes (tsx), started in a temporary
 * directory so that relative paths mean what they mean for the user. Every wrong command line
 * fails before the model's sessions exist, with exit status 2 and a message naming the argument.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { planGenerationSize } from '../../common/resolution-planner.js';
import { decodePng, encodePng } from '../../worker/engine/png.js';
import { generateUsage } from '../../worker/cli/generate-args.js';
import { repoRoot } from '../fixture-paths.js';
import { extendedPackageFiles } from './extended-package.js';
import { FIXTURE_DIR } from './helpers.js';

const TSX = path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs');
const GENERATE = path.join(repoRoot, 'worker/cli/generate.ts');
const PARITY = path.join(repoRoot, 'worker/cli/parity.ts');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command and resolves with its exit status and output, whatever the status. */
function run(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: options.cwd, env: options.env ?? process.env, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A tool as `npx tsx worker/cli/<tool>.ts …` would run it, from `cwd`. */
function tool(script: string, args: string[], cwd: string): Promise<Outcome> {
  return run(process.execPath, [TSX, script, ...args], { cwd });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'flowfill-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh working directory for one test, inside `dir`. */
async function workdir(name: string): Promise<string> {
  const folder = path.join(dir, name);
  await mkdir(folder, { recursive: true });
  return folder;
}

describe('npm run generate', () => {
  test('--help prints the usage on stdout and exits 0; the README shows the same text', async () => {
    const { code, stdout, stderr } = await tool(GENERATE, ['--help'], await workdir('help'));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^Usage: npm run generate -- \[options\] "<prompt>"\n/);
    for (const option of [
      '--out',
      '--size',
      '--steps',
      '--guidance',
      '--seed',
      '--negative',
      '--init',
      '--strength',
      '--model',
      '--backend',
      '--quiet',
      '--help',
    ]) {
      expect(stdout).toContain(option);
    }
    // The default model's real sizes, read from its configs.
    expect(stdout).toMatch(/the default model: \d+x\d+, sides up to \d+ px in steps of \d+/);
    const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
    expect(readme).toContain(stdout.trimEnd());
  }, 60_000);

  test.each([
    [
      'no prompt',
      ['--steps', '2'],
      /^generate: no prompt: say what to draw, e\.g\. npm run generate -- ".*" \(or --prompt "" for an unconditional image\)$/m,
    ],
    ['an option without its value', ['a rocket', '--steps'], /^generate: --steps needs a value$/m],
    [
      'an option followed by another option',
      ['a rocket', '--steps', '--seed', '3'],
      /^generate: --steps needs a value, but the next argument is an option/m,
    ],
    ['an unknown option', ['a rocket', '--colour', 'red'], /^generate: unknown option --colour$/m],
    ['two prompts', ['a', 'rocket'], /^generate: one prompt, please: got 2 \("a", "rocket"\); put the prompt in quotes$/m],
    ['steps out of range', ['a rocket', '--steps', '0'], /^generate: --steps "0": expected an integer from 1 to 200$/m],
    [
      'a size that is not WxH',
      ['a rocket', '--size', '256'],
      /^generate: --size "256": expected <width>x<height> in pixels, e\.g\. 256x256$/m,
    ],
    [
      'an output that is not PNG',
      ['a rocket', '-o', 'out.jpg'],
      /^generate: --out out\.jpg: the image is written as PNG, so name it \*\.png \(e\.g\. out\.png\)$/m,
    ],
    [
      'an output folder that does not exist',
      ['a rocket', '-o', 'nowhere/out.png'],
      /^generate: --out nowhere\/out\.png: the folder nowhere does not exist; create it first or write elsewhere$/m,
    ],
    ['an init image that does not exist', ['a rocket', '--init', 'missing.png'], /^generate: --init missing\.png: no such file$/m],
    ['strength without an init image', ['a rocket', '--strength', '0.5'], /^generate: --strength 0\.5 needs --init <image>/m],
    ['a model folder that does not exist', ['a rocket', '--model', 'no-model'], /^generate: --model no-model: no such folder$/m],
    ['an unknown backend', ['a rocket', '--backend', 'cuda'], /^generate: --backend "cuda": expected wasm, webgpu or auto$/m],
  ])(
    '%s: exit 2 before the model loads, naming the argument',
    async (_label, args, message) => {
      const cwd = await workdir(`usage-${_label.replace(/\W+/g, '-')}`);
      const { code, stdout, stderr } = await tool(GENERATE, args, cwd);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
      expect(stderr).toMatch(/^Run "npm run generate -- --help" for the options\.$/m);
      expect(stderr).not.toMatch(/ENOENT|EACCES|at .*\.ts:\d+/);
      expect(stdout).toBe('');
      expect(existsSync(path.join(cwd, 'out.png'))).toBe(false);
    },
    60_000,
  );

  test("a size beyond the model's grid is refused with the model's real maximum, before any session", async () => {
    const cwd = await workdir('too-large');
    const { code, stdout, stderr } = await tool(GENERATE, ['a rocket', '--model', FIXTURE_DIR, '--size', '640x256'], cwd);
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /^generate: --size width 640 is larger than this model's positional grid \(maxSide 512 px\); the largest width is 512$/m,
    );
    expect(stdout).toBe('');
  }, 60_000);

  test('a folder that is not a model package, and an image format the engine does not read, are named', async () => {
    const cwd = await workdir('not-things');
    await mkdir(path.join(cwd, 'empty-model'));
    await writeFile(path.join(cwd, 'cat.gif'), 'GIF89a');
    const model = await tool(GENERATE, ['a rocket', '--model', 'empty-model'], cwd);
    expect(model.code).toBe(2);
    expect(model.stderr).toMatch(/^generate: --model empty-model: not a model package \(no model_index\.json in it\)$/m);
    const gif = await tool(GENERATE, ['a rocket', '--init', 'cat.gif'], cwd);
    expect(gif.code).toBe(2);
    expect(gif.stderr).toMatch(/^generate: --init cat\.gif: a GIF image; use PNG, JPEG or WebP$/m);
  }, 60_000);

  test('relative paths resolve against the working directory; same seed, same bytes; one progress line per step when piped', async () => {
    const cwd = await workdir('generate');
    await mkdir(path.join(cwd, 'out'));
    const args = (out: string) => [
      'a rocket',
      '--model',
      FIXTURE_DIR,
      '--size',
      '96x64',
      '--steps',
      '3',
      '--guidance',
      '4',
      '--seed',
      '7',
      '-o',
      out,
    ];
    const first = await tool(GENERATE, args('out/a.png'), cwd);
    expect(first.code).toBe(0);
    const second = await tool(GENERATE, args('out/b.png'), cwd);
    expect(second.code).toBe(0);
    const [a, b] = await Promise.all([readFile(path.join(cwd, 'out/a.png')), readFile(path.join(cwd, 'out/b.png'))]);
    expect(a.equals(b)).toBe(true);
    expect(decodePng(new Uint8Array(a))).toMatchObject({ width: 96, height: 64 });
    expect(first.stdout).toMatch(/^backend\s+wasm$/m);
    expect(first.stdout).toMatch(/^wrote\s+out\/a\.png \(\d+ bytes\)$/m);
    for (const stage of ['load', 'text', 'denoise', 'vae dec', 'total'])
      expect(first.stdout).toMatch(new RegExp(`^${stage}\\s+[0-9.]+ ms`, 'm'));
    const lines = first.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    lines.forEach((line, i) =>
      expect(line).toMatch(new RegExp(`^step ${i + 1}/3  (\\d+\\.\\d\\d it/s|\\d+\\.\\d s/it)  (ETA )?\\d+ (s|min)`)),
    );
    expect(first.stderr).not.toContain('\r');
  }, 120_000);

  test('--prompt "" asks for an unconditional image; --quiet prints no progress', async () => {
    const cwd = await workdir('unconditional');
    const { code, stdout, stderr } = await tool(
      GENERATE,
      ['--prompt', '', '--model', FIXTURE_DIR, '--size', '64x64', '--steps', '1', '-q'],
      cwd,
    );
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^wrote\s+out\.png/m);
    expect(existsSync(path.join(cwd, 'out.png'))).toBe(true);
  }, 60_000);

  test('without --model it uses the embedded model, models/default/', async () => {
    expect(existsSync(path.join(repoRoot, 'models/default/model_index.json'))).toBe(true);
    const cwd = await workdir('default-model');
    const { code, stdout } = await tool(
      GENERATE,
      ['rocket, flat style, on a teal background', '--size', '64x64', '--steps', '1', '-q'],
      cwd,
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/^model\s+.*\(.*-[0-9a-f]{12}\)$/m);
  }, 60_000);

  describe('init images', () => {
    let cwd: string;
    const width = 96;
    const height = 64;
    const rgba = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) rgba.set([x * 2, y * 3, 128, 255], (y * width + x) * 4);

    beforeAll(async () => {
      cwd = await workdir('init');
      // A package with a VAE encoder (image-to-image), written out as a folder.
      for (const [rel, bytes] of Object.entries(await extendedPackageFiles())) {
        await mkdir(path.join(cwd, 'model', path.dirname(rel)), { recursive: true });
        await writeFile(path.join(cwd, 'model', rel), bytes);
      }
      // The same pixels as PNG, as lossless WebP and as JPEG, made with the codecs' own encoders.
      const require = createRequire(path.join(repoRoot, 'package.json'));
      const codec = async (module: string, wasm: string) => {
        const loaded = (await import(require.resolve(module))) as {
          init(m: object): Promise<void>;
          default(image: object, options: object): Promise<ArrayBuffer>;
        };
        await loaded.init(await WebAssembly.compile(await readFile(require.resolve(wasm))));
        return loaded;
      };
      const image = { data: new Uint8ClampedArray(rgba), width, height, colorSpace: 'srgb' };
      const webp = await codec('@jsquash/webp/encode.js', '@jsquash/webp/codec/enc/webp_enc.wasm');
      const jpeg = await codec('@jsquash/jpeg/encode.js', '@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm');
      await writeFile(path.join(cwd, 'in.png'), encodePng(rgba, width, height, 4));
      await writeFile(path.join(cwd, 'in.webp'), new Uint8Array(await webp.default(image, { lossless: 1 })));
      await writeFile(path.join(cwd, 'in.jpg'), new Uint8Array(await jpeg.default(image, { quality: 90 })));
      await writeFile(path.join(cwd, 'broken.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
    }, 60_000);

    const args = (init: string, out: string) => [
      'a red rocket',
      '--model',
      'model',
      '--init',
      init,
      '--strength',
      '0.6',
      '--steps',
      '5',
      '--seed',
      '3',
      '-q',
      '-o',
      out,
    ];

    test("a lossless WebP decodes to the PNG's pixels: the same image; without --size the init's shape is planned", async () => {
      const fromPng = await tool(GENERATE, args('in.png', 'png.png'), cwd);
      const fromWebp = await tool(GENERATE, args('in.webp', 'webp.png'), cwd);
      expect([fromPng.code, fromWebp.code]).toEqual([0, 0]);
      const [a, b] = await Promise.all([readFile(path.join(cwd, 'png.png')), readFile(path.join(cwd, 'webp.png'))]);
      expect(a.equals(b)).toBe(true);
      const planned = planGenerationSize(width, height, { nativeSize: 256, maxSide: 512, sizeMultiple: 16 });
      expect(decodePng(new Uint8Array(a))).toMatchObject({ width: planned.width, height: planned.height });
    }, 120_000);

    test('a JPEG is accepted; a broken one is named with what the decoder said', async () => {
      const jpeg = await tool(GENERATE, args('in.jpg', 'jpeg.png'), cwd);
      expect(jpeg.code).toBe(0);
      expect(decodePng(new Uint8Array(await readFile(path.join(cwd, 'jpeg.png')))).width).toBeGreaterThan(0);
      const broken = await tool(GENERATE, args('broken.jpg', 'broken.png'), cwd);
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(/^generate: --init broken\.jpg: not a readable JPEG \(.+\)$/m);
      expect(existsSync(path.join(cwd, 'broken.png'))).toBe(false);
    }, 120_000);
  });

  test('npm run from another directory resolves -o against it (INIT_CWD)', async () => {
    const cwd = await workdir('npm-run');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const { code, stderr } = await run(
      npm,
      [
        '--prefix',
        repoRoot,
        'run',
        '--silent',
        'generate',
        '--',
        'a rocket',
        '--model',
        FIXTURE_DIR,
        '--size',
        '64x64',
        '--steps',
        '1',
        '-q',
        '-o',
        'here.png',
      ],
      { cwd },
    );
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(existsSync(path.join(cwd, 'here.png'))).toBe(true);
    expect(existsSync(path.join(repoRoot, 'here.png'))).toBe(false);
  }, 120_000);
});

describe('npm run parity', () => {
  test('exits 0 on the golden fixtures and prints one row per case', async () => {
    const { code, stdout } = await tool(PARITY, [FIXTURE_DIR], await workdir('parity'));
    expect(code).toBe(0);
    expect(stdout).toMatch(/parity on wasm/);
    for (const name of ['a_txt2img', 'b_txt2img', 'c_img2img', 'd_txt2img']) expect(stdout).toContain(name);
    expect(stdout).not.toMatch(/FAIL/);
  }, 120_000);

  test('--help exits 0; a folder without cases.json is a usage error naming it', async () => {
    const cwd = await workdir('parity-usage');
    const help = await tool(PARITY, ['--help'], cwd);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run parity -- \[options\] <fixtures folder>/);
    const wrong = await tool(PARITY, ['.'], cwd);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^parity: \.: not a golden-parity folder \(no cases\.json in it\)$/m);
  }, 60_000);
});

test("the usage text lists the default model's sizes when it is known, and reads without them", () => {
  expect(generateUsage({ nativeSize: 512, maxSide: 1024, sizeMultiple: 16 })).toContain(
    'the default model: 512x512, sides up to 1024 px in steps of 16',
  );
  expect(generateUsage()).not.toContain('the default model:');
});
