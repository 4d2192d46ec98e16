/**
 * Packs what the GPU machine needs to run Flowfill's Node tools (it has no Node and no network):
 *   node scripts/gpu/pack.mjs [out=.device-carry/gpu]
 * writes, into a git-ignored folder that a device run carries:
 *   node.xz                  this machine's Node binary, stripped and xz-compressed
 *   bin/*.mjs                the CLIs (bench-real, bench, generate, parity, convert, rebuild-transformer) bundled for node20,
 *                            onnxruntime-web and webgpu left external; bench.mjs is what bench-gpu.sh runs
 *   node_modules.tar.xz      onnxruntime-web (the WebGPU build and its asyncify .wasm) and webgpu (Dawn
 *                            for linux-x64) — the only packages the bundles import at run time
 *   reference/               model/realcheck/reference.py's inputs: diffusers source, CLIP BPE merges, a T5 tokenizer
 * scripts/gpu/setup.sh unpacks it there; scripts/gpu/README.md lists the scripts that use it. Sizes are printed: the whole tree that travels must stay under 64 MiB.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const out = path.resolve(root, process.argv[2] ?? '.device-carry/gpu');
const cache = path.join(root, '.device-carry', 'cache');
mkdirSync(cache, { recursive: true });
rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'bin'), { recursive: true });

// 1. Node (compressing takes ~100 s: cached by version)
const nodeXz = path.join(cache, `node-${process.version}.xz`);
if (!existsSync(nodeXz)) {
  const stripped = path.join(cache, 'node');
  cpSync(process.execPath, stripped);
  execFileSync('strip', [stripped]);
  execFileSync('xz', ['-9e', '-T2', '-f', stripped]);
  execFileSync('mv', [`${stripped}.xz`, nodeXz]);
}
cpSync(nodeXz, path.join(out, 'node.xz'));

// 2. The CLIs
const entries = ['bench-real', 'bench', 'generate', 'parity', 'convert', 'rebuild-transformer'].filter((name) =>
  existsSync(path.join(root, 'worker/cli', `${name}.ts`)),
);
await esbuild.build({
  entryPoints: Object.fromEntries(entries.map((name) => [name, path.join(root, 'worker/cli', `${name}.ts`)])),
  outdir: path.join(out, 'bin'),
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['onnxruntime-web', 'onnxruntime-web/*', 'webgpu', 'onnxruntime-node'],
  // Bundled CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __ffRequire } from 'node:module'; const require = __ffRequire(import.meta.url);" },
  logLevel: 'warning',
});

// 3. The runtime packages (compressing takes minutes: cached by the two packages' versions)
const versionOf = (name) => JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
const modulesXz = path.join(cache, `node_modules-ort${versionOf('onnxruntime-web')}-webgpu${versionOf('webgpu')}.tar.xz`);
if (!existsSync(modulesXz)) packRuntimePackages(modulesXz);
cpSync(modulesXz, path.join(out, 'node_modules.tar.xz'));

function packRuntimePackages(target) {
  const stage = path.join(cache, 'stage');
  rmSync(stage, { recursive: true, force: true });
  const ortDist = path.join(root, 'node_modules/onnxruntime-web/dist');
  mkdirSync(path.join(stage, 'node_modules/onnxruntime-web/dist'), { recursive: true });
  cpSync(path.join(root, 'node_modules/onnxruntime-web/package.json'), path.join(stage, 'node_modules/onnxruntime-web/package.json'));
  for (const file of [
    'ort.webgpu.bundle.min.mjs',
    'ort.node.min.mjs',
    'ort-wasm-simd-threaded.asyncify.mjs',
    'ort-wasm-simd-threaded.asyncify.wasm',
    'ort-wasm-simd-threaded.mjs',
    'ort-wasm-simd-threaded.wasm',
  ]) {
    cpSync(path.join(ortDist, file), path.join(stage, 'node_modules/onnxruntime-web/dist', file));
  }
  // ort.node.min.mjs (the WASM build Node picks for plain `onnxruntime-web`) imports onnxruntime-common.
  cpSync(path.join(root, 'node_modules/onnxruntime-common'), path.join(stage, 'node_modules/onnxruntime-common'), { recursive: true });
  const webgpu = path.join(root, 'node_modules/webgpu');
  mkdirSync(path.join(stage, 'node_modules/webgpu/dist/linux-x64'), { recursive: true });
  for (const file of ['package.json', 'index.js']) cpSync(path.join(webgpu, file), path.join(stage, 'node_modules/webgpu', file));
  cpSync(path.join(webgpu, 'dist/linux-x64/dawn.node'), path.join(stage, 'node_modules/webgpu/dist/linux-x64/dawn.node'));
  execFileSync('tar', ['-cJf', `${target}.part`, '-C', stage, 'node_modules'], {
    env: { ...process.env, XZ_OPT: '-9 -T2' },
  });
  execFileSync('mv', [`${target}.part`, target]);
}

// 4. Inputs of the Python reference (diffusers source, CLIP merges, a small T5 tokenizer)
mkdirSync(path.join(out, 'reference'), { recursive: true });
for (const file of ['diffusers-src-58eb52c.tar.xz', 'clip-bpe_simple_vocab_16e6.txt.gz']) {
  cpSync(path.join(root, 'model/realcheck/vendor', file), path.join(out, 'reference', file));
}
const fixture = path.join(root, 'test/fixtures/.extracted/sd3-diffusers-tiny/sd35m_style/tokenizer_3');
if (existsSync(fixture)) cpSync(fixture, path.join(out, 'reference', 't5-tokenizer'), { recursive: true });
else console.warn('pack: extract the diffusers fixture first (test/fixture-paths.ts) for the T5 tokenizer');

const size = (dir) =>
  readdirSync(dir, { recursive: true }).reduce((sum, name) => {
    const full = path.join(dir, String(name));
    return statSync(full).isFile() ? sum + statSync(full).size : sum;
  }, 0);
writeFileSync(path.join(out, 'README.txt'), 'Made by scripts/gpu/pack.mjs; unpacked by scripts/gpu/setup.sh on the GPU machine.\n');
console.log(`packed ${path.relative(root, out)}: ${(size(out) / 2 ** 20).toFixed(1)} MiB (${entries.join(', ')})`);
