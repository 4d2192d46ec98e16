#!/usr/bin/env node
/**
 * npm run build — the plugin as Figma loads it, plus the playground. One esbuild call per output:
 *
 *   dist/code.js        src/main.ts, Figma's main-thread sandbox (IIFE, ES2017)
 *   dist/ui.html        ONE self-contained page: the panel (ui/main.ts), the engine worker
 *                       (worker/worker-entry.ts) as a string, and every file onnxruntime-web loads
 *                       at run time plus the default model, embedded — it works with no network
 *   dist/playground.js  playground/playground.ts, the browser host that runs both (npm start)
 *
 * and the hosted mode, for an app origin (FLOWFILL_APP_ORIGIN, default http://localhost:5173; it
 * may carry a path, e.g. https://me.github.io/flowfill):
 *
 *   dist/site/          the static web app any static host serves: app.html + app.js (the panel,
 *                       ui/app-main.ts), worker.js (worker/site-worker-entry.ts), ort/ (ORT's .mjs
 *                       and .wasm), model/ (the built-in model's files + files.json), index.html +
 *                       playground.js (the playground hosting the hosted plugin), plugin/ (a copy
 *                       of dist/hosted/), _headers (COOP/COEP for hosts that read it), bench.html +
 *                       bench.js + bench-worker.js (the benchmark page, playground/bench-page.ts)
 *   dist/hosted/        the hosted plugin: manifest.json (networkAccess = the app origin and the
 *                       model hosts), code.js (the same main thread), ui.html (a few kB: sends the
 *                       plugin frame to <origin>/app.html)
 *
 * Why the worker and assets are laid out this way (measured in headless Chromium 156 inside an
 * <iframe sandbox="allow-scripts" srcdoc>, the null origin Figma gives plugin UIs):
 *   - a data: URL worker is a secure context there, so it has navigator.gpu; a blob:null/… worker
 *     starts but is not a secure context (no WebGPU), and a blob: *module* worker does not start;
 *   - Chromium refuses data: URLs of tens of MB, so ORT's 27 MB .wasm and the model cannot be in
 *     the worker's source: they sit in the page as gzip+base64 text and are posted to the worker
 *     (worker/runtime/embedded-assets.ts). The worker is a classic script (IIFE), which both URL
 *     kinds start.
 *   - ORT build: `onnxruntime-web/webgpu` (native WebGPU EP, asyncify .wasm) rather than the
 *     default JSEP build (`npm run bench:ort-builds`, SwiftShader, 2 shared cores): both match
 *     diffusers on the golden transformer and VAE (max |diff| 1.4e-5 / 7e-6); after the first run
 *     the native EP was faster (transformer 0.29–0.35 s vs 0.61–1.02 s per run, VAE 2.5–3.8 s vs
 *     4.9–6.9 s; first runs ~17 s / ~27 s for both, shader compiles); its JS is 3.5× smaller
 *     (118 kB vs 414 kB) and its .wasm smaller (26.8 MB vs 28.3 MB); and JSEP is slated for
 *     removal upstream (microsoft/onnxruntime#29716).
 *
 * Model to embed: models/default/ when it holds a package, or FLOWFILL_EMBED_MODEL=<dir> (e.g. the
 * golden fixture, for tests); FLOWFILL_EMBED_MODEL=none embeds no model.
 *
 * The module also exports its pieces, so the browser tests build their own pages the same way.
 */
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = path.join(repoRoot, 'dist');

/** The ORT .wasm that matches `onnxruntime-web/webgpu`; its asset path is ORT_WASM_ASSET in worker/runtime. */
const ORT_WASM_FILE = 'ort-wasm-simd-threaded.asyncify.wasm';
const ORT_WASM_ASSET = `onnxruntime/${ORT_WASM_FILE}`;
const MODEL_ASSET_PREFIX = 'model/';

const fromRoot = (...parts) => path.join(repoRoot, ...parts);

function requireEntry(relPath, owner) {
  const file = fromRoot(relPath);
  if (!existsSync(file)) {
    throw new Error(`build: ${relPath} does not exist (written by the ${owner}); nothing to bundle for it yet`);
  }
  return file;
}

/** Options shared by the browser-side bundles (panel, worker, playground, test pages). */
function browserOptions(entry) {
  return {
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    // WebGPU needs Chromium 113+ / Safari 26 anyway; ORT's bundle is already ES2020+.
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
    // The panel's view is Preact JSX (ui/view/*.tsx), whatever tsconfig a bundle is built under.
    jsx: 'automatic',
    jsxImportSource: 'preact',
  };
}

/** dist/code.js: the main thread. */
export async function buildMainAsync() {
  const result = await esbuild.build({
    entryPoints: [requireEntry('src/main.ts', 'PLUGIN helper')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'neutral',
    // Figma's main thread is a QuickJS VM compiled to WebAssembly, not a browser: its docs claim
    // ES2020+, yet create-figma-plugin still ships ES2017 because spread/rest once failed there.
    // Transpile down to what every sandbox version accepted.
    target: 'es2017',
    mainFields: ['module', 'main'],
    minify: false,
    logLevel: 'warning',
  });
  return result.outputFiles[0].text;
}

/** Resolves every onnxruntime-web import to the `/webgpu` bundle (esbuild's alias is prefix-based). */
const ortWebGpuOnly = {
  name: 'ort-webgpu-only',
  setup(build) {
    const bundle = fromRoot('node_modules/onnxruntime-web/dist/ort.webgpu.bundle.min.mjs');
    build.onResolve({ filter: /^onnxruntime-web(\/webgpu)?$/ }, () => ({ path: bundle }));
  },
};

/** The engine worker as one classic script (started from a data: URL, so no import.meta of its own). */
export async function buildWorkerSourceAsync(entry = fromRoot('worker/worker-entry.ts')) {
  const result = await esbuild.build({
    ...browserOptions(entry),
    // One ORT in the bundle: the engine's default `import('onnxruntime-web')` gets the same build.
    plugins: [ortWebGpuOnly],
    // ORT reads import.meta.url to find its files and to tell Node from browsers; an IIFE has no
    // import.meta, and the worker's own URL is the honest answer (its files come as assets anyway).
    define: { 'import.meta.url': 'self.location.href' },
    // The engine's Node-only helpers (the CLI's file reader) are never reached in the worker.
    external: ['node:*'],
  });
  return result.outputFiles[0].text;
}

/** The panel's script, with the worker's source compiled in as FLOWFILL_WORKER_SOURCE. */
export async function buildPanelScriptAsync(workerSource) {
  const result = await esbuild.build({
    ...browserOptions(requireEntry('ui/main.ts', 'UI helper')),
    define: { FLOWFILL_WORKER_SOURCE: JSON.stringify(workerSource) },
  });
  return result.outputFiles[0].text;
}

/** The panel's own code (view, orchestration, RPC), without the worker: its size is the panel's cost. */
export async function measurePanelOnlyAsync() {
  const result = await esbuild.build({ ...browserOptions(fromRoot('ui/main.ts')), define: { FLOWFILL_WORKER_SOURCE: '""' } });
  return result.outputFiles[0].text.length;
}

export async function buildPlaygroundScriptAsync() {
  const result = await esbuild.build(browserOptions(requireEntry('playground/playground.ts', 'BROWSER helper')));
  return result.outputFiles[0].text;
}

/** Files of a model package worth shipping: root JSON plus every file of its component folders. */
export function listModelFiles(dir) {
  const files = [];
  const walk = (relDir) => {
    for (const name of readdirSync(path.join(dir, relDir)).sort()) {
      if (name.startsWith('.')) continue;
      const rel = relDir ? `${relDir}/${name}` : name;
      if (statSync(path.join(dir, rel)).isDirectory()) walk(rel);
      // At the root only the package's own JSON: fixture folders keep their reference arrays there.
      else if (relDir || name === 'model_index.json' || name === 'flowfill.json') files.push(rel);
    }
  };
  walk('');
  if (!files.includes('model_index.json')) throw new Error(`build: ${dir} is not a model package (no model_index.json)`);
  return files;
}

/** Which model folder to embed, or null; and why, for the size report. */
export function resolveEmbeddedModelDir(env = process.env) {
  const requested = env.FLOWFILL_EMBED_MODEL;
  if (requested === 'none') return { dir: null, why: 'FLOWFILL_EMBED_MODEL=none' };
  if (requested) {
    const dir = path.resolve(requested);
    if (!existsSync(path.join(dir, 'model_index.json'))) {
      throw new Error(
        `build: FLOWFILL_EMBED_MODEL=${requested} has no model_index.json; point it at a model package folder, e.g. test/fixtures/sd3-tiny-golden`,
      );
    }
    return { dir, why: 'FLOWFILL_EMBED_MODEL' };
  }
  const shipped = fromRoot('models/default');
  if (existsSync(path.join(shipped, 'model_index.json'))) return { dir: shipped, why: 'models/default' };
  return { dir: null, why: 'models/default/ has no package yet' };
}

/** Assets the page carries for the worker: ORT's .wasm and the model's files, gzip+base64. */
export function collectAssets(modelDir) {
  const sources = [{ path: ORT_WASM_ASSET, file: fromRoot('node_modules/onnxruntime-web/dist', ORT_WASM_FILE) }];
  if (modelDir)
    for (const rel of listModelFiles(modelDir)) sources.push({ path: MODEL_ASSET_PREFIX + rel, file: path.join(modelDir, rel) });
  return sources.map(({ path: assetPath, file }) => {
    const bytes = readFileSync(file);
    return { path: assetPath, size: bytes.length, gzipBase64: gzipSync(bytes, { level: 9 }).toString('base64') };
  });
}

/** Text safe inside <script>…</script>: only `</script` and `<!--` can end or confuse the element. */
function scriptSafe(js) {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/**
 * Characters of base64 per asset element. The HTML parser cannot yield inside one element, and the
 * panel cannot paint before the parser yields: in 1 MiB pieces the panel (whose script comes first)
 * paints while the rest parses. The panel joins the pieces (worker/runtime/embedded-assets.ts).
 */
export const ASSET_PIECE_CHARS = 2 ** 20;

export function assembleUiHtml(panelScript, assets) {
  const assetElements = assets
    .flatMap((a) => {
      const pieces = [];
      for (let at = 0; at < a.gzipBase64.length || at === 0; at += ASSET_PIECE_CHARS) {
        const text = a.gzipBase64.slice(at, at + ASSET_PIECE_CHARS);
        pieces.push(`<script type="application/octet-stream" data-flowfill-asset="${a.path}" data-size="${a.size}">${text}</script>`);
      }
      return pieces;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Flowfill</title></head>
<body>
<div id="app"></div>
<script>${scriptSafe(panelScript)}</script>
${assetElements}
</body>
</html>
`;
}

/** The hosted app's URL: FLOWFILL_APP_ORIGIN (an origin, optionally with a path), ending in "/". */
export function resolveAppBaseUrl(env = process.env) {
  const raw = env.FLOWFILL_APP_ORIGIN ?? 'http://localhost:5173';
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(
      `build: FLOWFILL_APP_ORIGIN=${raw} is not a URL; give the hosted app's origin, e.g. https://flowfill.example.com or https://me.github.io/flowfill`,
    );
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && ['localhost', '127.0.0.1'].includes(url.hostname))) {
    throw new Error(
      `build: FLOWFILL_APP_ORIGIN=${raw} must be https:// (http:// only for localhost): Figma and browsers give storage and WebGPU to secure origins only`,
    );
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/** Where the app fetches models from, as Figma's allowedDomains patterns (the Hub and its file CDNs). */
export const MODEL_HOSTS = ['https://huggingface.co', '*.huggingface.co', '*.hf.co'];
/** The playground's own origin, for developing the hosted plugin against npm start. */
export const DEV_APP_ORIGIN = 'http://localhost:5173';

/** The hosted plugin's manifest: the embedded one's commands, with the app's origin and the model hosts allowed. */
export function hostedManifest(appBaseUrl, base = JSON.parse(readFileSync(fromRoot('manifest.json'), 'utf8'))) {
  const origin = new URL(appBaseUrl).origin;
  return {
    ...base,
    id: `${base.id}-hosted`,
    name: `${base.name} (hosted)`,
    main: 'code.js',
    ui: 'ui.html',
    networkAccess: {
      allowedDomains: [origin, ...MODEL_HOSTS.filter((host) => host !== origin)],
      reasoning: `The panel is Flowfill's web app at ${origin}, loaded into the plugin's window so it can keep downloaded and converted models in that site's browser storage. Models are downloaded from the Hugging Face Hub (huggingface.co and its file CDNs) only when you add one by URL. Images are made on your device; nothing you draw or type is sent anywhere.`,
      devAllowedDomains: [DEV_APP_ORIGIN],
    },
  };
}

/** dist/hosted/ui.html: the page that sends the plugin's frame to the app. */
export async function buildHostedUiAsync(appBaseUrl) {
  const result = await esbuild.build({
    ...browserOptions(fromRoot('ui/hosted-ui.ts')),
    define: { FLOWFILL_APP_URL: JSON.stringify(new URL('app.html', appBaseUrl).href) },
  });
  const template = readFileSync(fromRoot('ui/hosted-ui.html'), 'utf8');
  return template.replace('/*FLOWFILL_HOSTED_UI_SCRIPT*/', () => scriptSafe(result.outputFiles[0].text));
}

export async function buildAppScriptAsync() {
  const result = await esbuild.build(browserOptions(fromRoot('ui/app-main.ts')));
  return result.outputFiles[0].text;
}

const APP_HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Flowfill</title></head>
<body>
<div id="app"></div>
<script src="app.js"></script>
</body>
</html>
`;

/**
 * COOP/COEP for static hosts that read a _headers file (Netlify, Cloudflare Pages): the app page
 * and its worker become cross-origin isolated, which gives ORT's WASM backend threads. GitHub
 * Pages cannot send headers; the app then runs single-threaded.
 */
const SITE_HEADERS = `/app.html
  Cross-Origin-Opener-Policy: same-origin
  Cross-Origin-Embedder-Policy: require-corp
/worker.js
  Cross-Origin-Embedder-Policy: require-corp
/ort/*
  Cross-Origin-Embedder-Policy: require-corp
/*
  Cross-Origin-Resource-Policy: cross-origin
`;

/** The playground page for the site: the same page, hosting the hosted plugin from plugin/. */
function sitePlaygroundHtml() {
  return readFileSync(fromRoot('playground/index.html'), 'utf8')
    .replace('<body>', '<body data-plugin-base="plugin/" data-plugin-mode="hosted">')
    .replace('<script src="dist/playground.js"></script>', '<script src="playground.js"></script>');
}

/**
 * dist/site/ and dist/hosted/. Returns the sizes to report. `parts` are the outputs already built
 * for the embedded plugin (the main thread and the playground are the same code).
 */
export async function buildHostedModeAsync({ outDir, appBaseUrl, modelDir, mainScript, playgroundScript }) {
  const site = path.join(outDir, 'site');
  const hosted = path.join(outDir, 'hosted');
  rmSync(site, { recursive: true, force: true });
  rmSync(hosted, { recursive: true, force: true });
  for (const dir of [site, hosted, path.join(site, 'ort'), path.join(site, 'plugin')]) mkdirSync(dir, { recursive: true });
  const [workerSource, appScript, hostedUi, benchWorkerSource, benchScript] = await Promise.all([
    buildWorkerSourceAsync(fromRoot('worker/site-worker-entry.ts')),
    buildAppScriptAsync(),
    buildHostedUiAsync(appBaseUrl),
    buildWorkerSourceAsync(fromRoot('worker/bench-worker-entry.ts')),
    esbuild.build(browserOptions(fromRoot('playground/bench-page.ts'))).then((result) => result.outputFiles[0].text),
  ]);
  const manifest = `${JSON.stringify(hostedManifest(appBaseUrl), null, 2)}\n`;
  const rows = [];
  const put = (file, content, label = true) => {
    writeFileSync(file, content);
    if (label) rows.push([path.relative(outDir, file), Buffer.byteLength(content)]);
  };
  put(path.join(hosted, 'manifest.json'), manifest);
  put(path.join(hosted, 'code.js'), mainScript);
  put(path.join(hosted, 'ui.html'), hostedUi);
  for (const name of ['manifest.json', 'code.js', 'ui.html']) copyFileSync(path.join(hosted, name), path.join(site, 'plugin', name));
  put(path.join(site, 'app.html'), APP_HTML);
  put(path.join(site, 'app.js'), appScript);
  put(path.join(site, 'worker.js'), workerSource);
  // The benchmark page (/bench on the playground server): the built-in model, stage by stage.
  put(path.join(site, 'bench.html'), readFileSync(fromRoot('playground/bench.html'), 'utf8'), false);
  put(path.join(site, 'bench.js'), benchScript, false);
  put(path.join(site, 'bench-worker.js'), benchWorkerSource, false);
  put(path.join(site, '_headers'), SITE_HEADERS, false);
  put(path.join(site, 'index.html'), sitePlaygroundHtml(), false);
  if (playgroundScript !== undefined) put(path.join(site, 'playground.js'), playgroundScript, false);
  copyFileSync(fromRoot('playground/favicon.svg'), path.join(site, 'favicon.svg'));
  let ortBytes = 0;
  for (const name of [ORT_WASM_FILE, ORT_WASM_FILE.replace(/\.wasm$/, '.mjs')]) {
    copyFileSync(fromRoot('node_modules/onnxruntime-web/dist', name), path.join(site, 'ort', name));
    ortBytes += statSync(path.join(site, 'ort', name)).size;
  }
  rows.push(['site/ort/ (onnxruntime-web .mjs + .wasm)', ortBytes]);
  if (modelDir) {
    const files = listModelFiles(modelDir).map((rel) => ({ path: rel, size: statSync(path.join(modelDir, rel)).size }));
    for (const { path: rel } of files) {
      mkdirSync(path.dirname(path.join(site, 'model', rel)), { recursive: true });
      copyFileSync(path.join(modelDir, rel), path.join(site, 'model', rel));
    }
    writeFileSync(path.join(site, 'model', 'files.json'), `${JSON.stringify({ files }, null, 2)}\n`);
    rows.push(['site/model/ (the built-in model)', files.reduce((sum, f) => sum + f.size, 0)]);
  }
  return rows;
}

function formatBytes(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

/**
 * Builds everything into `outDir` (dist/ by default; the browser tests build into a temp folder).
 * Each output is written as soon as it is built, so a missing entry (another part still being
 * written) leaves the others usable; the missing ones are reported together and the build fails.
 */
export async function buildAllAsync({ env = process.env, log = console.log, outDir = distDir } = {}) {
  const started = Date.now();
  mkdirSync(outDir, { recursive: true });
  const model = resolveEmbeddedModelDir(env);
  const rows = [];
  const failures = [];
  const write = (name, text) => {
    writeFileSync(path.join(outDir, name), text);
    rows.push([`dist/${name}`, text.length]);
  };
  const attempt = async (what, build) => {
    try {
      return await build();
    } catch (error) {
      failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  };

  const [mainScript, workerSource, playgroundScript] = await Promise.all([
    attempt('dist/code.js', buildMainAsync),
    attempt('engine worker', () => buildWorkerSourceAsync()),
    attempt('dist/playground.js', buildPlaygroundScriptAsync),
  ]);
  if (mainScript !== undefined) {
    write('code.js', mainScript);
    rows.push(['  code.js gzip', gzipSync(mainScript).length]);
  }
  let html;
  let assets = [];
  if (workerSource !== undefined) {
    const panelScript = await attempt('dist/ui.html', () => buildPanelScriptAsync(workerSource));
    if (panelScript !== undefined) {
      assets = collectAssets(model.dir);
      html = assembleUiHtml(panelScript, assets);
      write('ui.html', html);
      // The panel starts the worker from a data: URL; Chromium refuses those past 2 MB (URL limit).
      const workerDataUrlLength = `data:text/javascript;charset=utf-8,${encodeURIComponent(workerSource)}`.length;
      rows.push(
        ['  panel script (incl. worker source)', panelScript.length],
        ['  panel script without the worker', await measurePanelOnlyAsync()],
        ['  worker source', workerSource.length],
        ['  worker as data: URL', workerDataUrlLength],
        ...assets.map((a) => [`  asset ${a.path} (${formatBytes(a.size)} raw)`, a.gzipBase64.length]),
      );
      if (workerDataUrlLength > 2 * 1024 * 1024)
        failures.push(`the worker's data: URL is ${formatBytes(workerDataUrlLength)}; Chromium refuses more than 2 MB`);
    }
  }
  if (playgroundScript !== undefined) write('playground.js', playgroundScript);

  let appBaseUrl;
  let hostedRows = [];
  if (mainScript !== undefined) {
    await attempt('dist/site + dist/hosted', async () => {
      appBaseUrl = resolveAppBaseUrl(env);
      hostedRows = await buildHostedModeAsync({ outDir, appBaseUrl, modelDir: model.dir, mainScript, playgroundScript });
    });
  }

  log(
    `flowfill build (${Date.now() - started} ms); embedded model: ${model.dir ? path.relative(repoRoot, model.dir) || model.dir : 'none'} (${model.why})`,
  );
  log('embedded plugin (manifest.json; everything in ui.html, works offline):');
  for (const [name, size] of rows) log(`  ${name.padEnd(72)} ${formatBytes(size).padStart(10)}`);
  if (appBaseUrl) {
    log(`hosted plugin (dist/hosted/manifest.json) and its app (dist/site/, served at ${appBaseUrl}):`);
    for (const [name, size] of hostedRows) log(`  ${`dist/${name}`.padEnd(72)} ${formatBytes(size).padStart(10)}`);
  }
  if (failures.length > 0) throw new Error(`build failed:\n  ${failures.join('\n  ')}`);
  return { html, mainScript, workerSource, assets, model, appBaseUrl };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  buildAllAsync().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
