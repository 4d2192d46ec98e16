#!/usr/bin/env node
/**
 * npm start → builds, then serves the playground on http://127.0.0.1:5173/ (PORT=… to change).
 * A tiny static server with no dependencies, for people and for the browser tests:
 *
 *   /                 playground/index.html        /dist/…       the build (dist/)
 *   /manifest.json    the plugin manifest          /fixtures/…   a fixture folder, if given (read-only)
 *   /favicon.svg      the playground's icon
 *
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
};

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
export async function startPlaygroundServer({ port = 5173, host = '127.0.0.1', distDir = path.join(repoRoot, 'dist'), mounts = {}, quiet = false } = {}) {
  const routes = [
    ['/dist/', path.resolve(distDir)],
    ...Object.entries(mounts).map(([prefix, dir]) => [prefix, path.resolve(dir)]),
  ];
  const exact = {
    '/': path.join(repoRoot, 'playground/index.html'),
    '/index.html': path.join(repoRoot, 'playground/index.html'),
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
    res.writeHead(200, {
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-store',
    });
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
  await startPlaygroundServer({ port: Number(process.env.PORT ?? 5173) });
}
