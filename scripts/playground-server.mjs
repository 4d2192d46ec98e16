#!/usr/bin/env node
/**
 * npm start → builds, then serves the playground on http://127.0.0.1:5173/ (PORT=… to change).
 * A tiny static server with no dependencies, for people and for the browser tests:
 *
 *   /                 playground/index.html (the embedded plugin, as Figma runs dist/ui.html)
 *   /hosted           dist/site/index.html (the same playground, running the hosted plugin)
 *   /bench            dist/site/bench.html (the built-in model stage by stage, cold and warm, in a worker)
 *   /manifest.json    the plugin manifest          /dist/…       the build (dist/)
 *   /favicon.svg      the playground's icon        /fixtures/…   a fixture folder, if given (read-only)
 *   /app.html, /worker.js, /ort/…, /model/…, /plugin/…   dist/site/: the hosted app at the root
 *
 * The hosted plugin opens the app at http://localhost:5173/app.html (FLOWFILL_APP_ORIGIN's
 * default) while the playground page is http://127.0.0.1:5173/: two sites on one server, so the
 * app is a third-party frame with partitioned storage, as it is under figma.com.
 *
 * The site's files get Cross-Origin-Resource-Policy, and app.html, worker.js and ort/ get
 * COOP/COEP, so the app opened on its own is cross-origin isolated (ORT's WASM threads). GET
 * answers Range requests (206), as static hosts and the Hugging Face CDN do (resumed downloads).
 * Only GET and HEAD; paths cannot leave their folder. Loopback only: nothing here is for a network.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.md': 'text/markdown; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.onnx': 'application/octet-stream',
};

/** Headers by path: everything embeddable anywhere; the app page, its worker and ORT's files cross-origin isolated. */
function isolationHeaders(pathname) {
  const headers = { 'cross-origin-resource-policy': 'cross-origin' };
  if (pathname === '/app.html' || pathname === '/worker.js' || pathname.startsWith('/ort/'))
    headers['cross-origin-embedder-policy'] = 'require-corp';
  if (pathname === '/app.html') headers['cross-origin-opener-policy'] = 'same-origin';
  return headers;
}

/** Resolves `rel` inside `dir`, or null when it would escape it or does not name a file. */
function fileInside(dir, rel) {
  const file = path.resolve(dir, '.' + path.posix.normalize('/' + rel));
  if (file !== dir && !file.startsWith(dir + path.sep)) return null;
  return existsSync(file) && statSync(file).isFile() ? file : null;
}

/**
 * Starts the server. `distDir` replaces dist/ (the tests serve their own build); `mounts` adds
 * folders: { '/fixtures/': '/abs/dir' }. Port 0 picks a free one.
 * Resolves with { url, port, close() }.
 */
export async function startPlaygroundServer({
  port = 5173,
  host = '127.0.0.1',
  distDir = path.join(repoRoot, 'dist'),
  mounts = {},
  quiet = false,
} = {}) {
  const siteDir = path.join(path.resolve(distDir), 'site');
  const routes = [
    ['/dist/', path.resolve(distDir)],
    ...Object.entries(mounts).map(([prefix, dir]) => [prefix, path.resolve(dir)]),
    // Last: the hosted app at the root, as a static host serves dist/site/.
    ['/', siteDir],
  ];
  const exact = {
    '/': path.join(repoRoot, 'playground/index.html'),
    '/index.html': path.join(repoRoot, 'playground/index.html'),
    '/hosted': path.join(siteDir, 'index.html'),
    '/hosted.html': path.join(siteDir, 'index.html'),
    '/bench': path.join(siteDir, 'bench.html'),
    '/manifest.json': path.join(repoRoot, 'manifest.json'),
    // The page links the SVG; browsers that ask for /favicon.ico anyway get the same icon.
    '/favicon.svg': path.join(repoRoot, 'playground/favicon.svg'),
    '/favicon.ico': path.join(repoRoot, 'playground/favicon.svg'),
  };
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    let file = exact[pathname] && existsSync(exact[pathname]) ? exact[pathname] : null;
    for (const [prefix, dir] of routes) if (!file && pathname.startsWith(prefix)) file = fileInside(dir, pathname.slice(prefix.length));
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${pathname}\n`);
      return;
    }
    const size = statSync(file).size;
    const headers = {
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      'accept-ranges': 'bytes',
      ...isolationHeaders(pathname),
    };
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && req.method === 'GET') {
      const start = Number(range[1]);
      const end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size || end < start) {
        res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` }).end();
        return;
      }
      res.writeHead(206, { ...headers, 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}` });
      createReadStream(file, { start, end }).pipe(res);
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actualPort = server.address().port;
  const url = `http://${host}:${actualPort}/`;
  if (!quiet) console.log(`Flowfill playground: ${url}`);
  return {
    url,
    port: actualPort,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  if (!existsSync(path.join(repoRoot, 'dist/ui.html'))) console.warn('dist/ui.html is missing: run npm run build (npm start does both)');
  const server = await startPlaygroundServer({ port: Number(process.env.PORT ?? 5173) });
  console.log(`  embedded plugin (as Figma runs dist/ui.html): ${server.url}`);
  console.log(`  hosted plugin (dist/hosted/, models kept in the app's storage): ${server.url}hosted`);
  console.log(`  the hosted app on its own (cross-origin isolated: WASM threads): http://localhost:${server.port}/app.html`);
}
