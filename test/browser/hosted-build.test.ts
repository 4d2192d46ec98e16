/**
 * The hosted mode's build outputs, without a browser: the plugin's manifest (the app's origin and
 * the model hosts, with reasoning; localhost for development), its ui.html (small, pointing at the
 * app), the site's files, and the origin option's checks. The browser suites run them.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildAllAsync, hostedManifest, MODEL_HOSTS, repoRoot, resolveAppBaseUrl } from '../../scripts/build.mjs';
import { startPlaygroundServer } from '../../scripts/playground-server.mjs';
import { fixturesDir } from './browser-rig.js';

let outDir: string;
let lines: string[];

beforeAll(async () => {
  outDir = mkdtempSync(path.join(os.tmpdir(), 'flowfill-hosted-'));
  lines = [];
  await buildAllAsync({
    env: { ...process.env, FLOWFILL_EMBED_MODEL: fixturesDir(), FLOWFILL_APP_ORIGIN: 'https://flowfill.example.com/app' },
    outDir,
    log: (line) => lines.push(line),
  });
}, 120_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

test('the hosted manifest allows the app origin and the model hosts, says why, and keeps every command of the embedded one', () => {
  const embedded = JSON.parse(readFileSync(path.join(repoRoot, 'manifest.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(path.join(outDir, 'hosted/manifest.json'), 'utf8'));
  expect(manifest).toMatchObject({
    main: 'code.js',
    ui: 'ui.html',
    id: `${embedded.id}-hosted`,
    menu: embedded.menu,
    relaunchButtons: embedded.relaunchButtons,
    documentAccess: 'dynamic-page',
  });
  expect(manifest.networkAccess.allowedDomains).toEqual(['https://flowfill.example.com', ...MODEL_HOSTS]);
  expect(manifest.networkAccess.devAllowedDomains).toEqual(['http://localhost:5173']);
  expect(manifest.networkAccess.reasoning).toMatch(
    /^The panel is Flowfill's web app at https:\/\/flowfill\.example\.com, .*Hugging Face Hub \(huggingface\.co/,
  );
  expect(hostedManifest('http://localhost:5173/').networkAccess.allowedDomains[0]).toBe('http://localhost:5173');
});

test('the hosted ui.html is a few kB, opens <origin>/<path>/app.html, and code.js is the embedded plugin’s main thread', () => {
  const html = readFileSync(path.join(outDir, 'hosted/ui.html'), 'utf8');
  expect(Buffer.byteLength(html)).toBeLessThan(50_000);
  expect(html).toContain('"https://flowfill.example.com/app/app.html"');
  expect(html).not.toMatch(/<\/script>[\s\S]*<\/script>[\s\S]*<\/script>/);
  expect(readFileSync(path.join(outDir, 'hosted/code.js'), 'utf8')).toBe(readFileSync(path.join(outDir, 'code.js'), 'utf8'));
  for (const name of ['manifest.json', 'code.js', 'ui.html'])
    expect(readFileSync(path.join(outDir, 'site/plugin', name))).toEqual(readFileSync(path.join(outDir, 'hosted', name)));
});

test('the site holds the app, its worker, ORT’s files, the built-in model with its file list, the playground and COOP/COEP headers', () => {
  for (const file of [
    'app.html',
    'app.js',
    'worker.js',
    'index.html',
    'playground.js',
    'favicon.svg',
    '_headers',
    'ort/ort-wasm-simd-threaded.asyncify.mjs',
    'ort/ort-wasm-simd-threaded.asyncify.wasm',
  ]) {
    expect(existsSync(path.join(outDir, 'site', file))).toBe(true);
  }
  const list = JSON.parse(readFileSync(path.join(outDir, 'site/model/files.json'), 'utf8')).files as { path: string; size: number }[];
  expect(list.map((f) => f.path)).toContain('transformer/model.onnx');
  for (const file of list) expect(statSync(path.join(outDir, 'site/model', file.path)).size).toBe(file.size);
  expect(readFileSync(path.join(outDir, 'site/index.html'), 'utf8')).toContain(
    '<body data-plugin-base="plugin/" data-plugin-mode="hosted">',
  );
  expect(readFileSync(path.join(outDir, 'site/_headers'), 'utf8')).toMatch(
    /\/app\.html\n {2}Cross-Origin-Opener-Policy: same-origin\n {2}Cross-Origin-Embedder-Policy: require-corp/,
  );
});

test('the build prints both plugin modes and their sizes', () => {
  const text = lines.join('\n');
  expect(text).toMatch(/^embedded plugin \(manifest\.json; everything in ui\.html, works offline\):\n {2}dist\/code\.js +\d/m);
  expect(text).toMatch(/^ {2}dist\/ui\.html +[\d.]+ MB$/m);
  expect(text).toMatch(
    /^hosted plugin \(dist\/hosted\/manifest\.json\) and its app \(dist\/site\/, served at https:\/\/flowfill\.example\.com\/app\/\):$/m,
  );
  expect(text).toMatch(/^ {2}dist\/hosted\/ui\.html +[\d.]+ kB$/m);
});

test('FLOWFILL_APP_ORIGIN must be an https URL (http only for localhost)', () => {
  expect(resolveAppBaseUrl({})).toBe('http://localhost:5173/');
  expect(resolveAppBaseUrl({ FLOWFILL_APP_ORIGIN: 'https://me.github.io/flowfill' })).toBe('https://me.github.io/flowfill/');
  expect(() => resolveAppBaseUrl({ FLOWFILL_APP_ORIGIN: 'http://example.com' })).toThrow(
    /must be https:\/\/ \(http:\/\/ only for localhost\)/,
  );
  expect(() => resolveAppBaseUrl({ FLOWFILL_APP_ORIGIN: 'flowfill' })).toThrow(/is not a URL; give the hosted app's origin/);
});

test('the playground server answers Range requests and serves the app cross-origin isolated', async () => {
  const server = await startPlaygroundServer({ port: 0, quiet: true, distDir: outDir });
  try {
    const app = await fetch(`${server.url}app.html`);
    expect(app.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(app.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    const whole = new Uint8Array(await (await fetch(`${server.url}worker.js`)).arrayBuffer());
    const part = await fetch(`${server.url}worker.js`, { headers: { Range: 'bytes=100-' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-${whole.length - 1}/${whole.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(whole.subarray(100)))).toBe(true);
    expect((await fetch(`${server.url}worker.js`, { headers: { Range: `bytes=${whole.length}-` } })).status).toBe(416);
    expect((await fetch(`${server.url}hosted`)).status).toBe(200);
  } finally {
    await server.close();
  }
});
