/** Loading a package from a URL: streamed fetch with progress, 404 = absent optional file, other failures named. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { LoadProgress } from '../../common/engine-types.js';
import { FIXTURE_DIR, rejectionOf, sd3PackageAsync } from './helpers.js';

let server: http.Server;
let baseUrl: string;
const failing = new Set<string>();

beforeAll(async () => {
  server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent((req.url ?? '/').replace(/^\/pkg\//, ''));
    if (failing.has(rel)) {
      res.writeHead(500).end('boom');
      return;
    }
    const file = path.join(FIXTURE_DIR, rel);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile() || !file.startsWith(FIXTURE_DIR)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(info.size) });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pkg`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

test('streams every file with progress up to its content-length; absent optional files are skipped', async () => {
  const events: LoadProgress[] = [];
  const pkg = await sd3PackageAsync({ kind: 'url', baseUrl }, (p) => events.push(p));
  expect(pkg.geometry.maxSide).toBe(512);
  expect(pkg.source).toBe(`${baseUrl}/`);
  const size = (await stat(path.join(FIXTURE_DIR, 'transformer/model.onnx'))).size;
  const transformer = events.filter((e) => e.file === 'transformer/model.onnx');
  expect(transformer.length).toBeGreaterThan(1);
  expect(transformer.every((e) => e.totalBytes === size)).toBe(true);
  expect(transformer.at(-1)!.loadedBytes).toBe(size);
  expect(events.some((e) => e.file === 'flowfill.json')).toBe(false);
});

test('the same package from a URL and from files has the same hash', async () => {
  const { fixturePackageFiles } = await import('./helpers.js');
  const fromUrl = await sd3PackageAsync({ kind: 'url', baseUrl });
  const fromFiles = await sd3PackageAsync({ kind: 'files', files: await fixturePackageFiles() });
  expect(fromUrl.hash).toBe(fromFiles.hash);
});

test('a server error is model-missing-file naming the file and the status', async () => {
  failing.add('vae_decoder/model.onnx');
  try {
    const { code, message } = await rejectionOf(sd3PackageAsync({ kind: 'url', baseUrl }));
    expect(code).toBe('model-missing-file');
    expect(message).toContain('vae_decoder/model.onnx');
    expect(message).toContain('HTTP 500');
  } finally {
    failing.clear();
  }
});

test('a URL without a package is model-missing-file for model_index.json', async () => {
  const { code, message } = await rejectionOf(sd3PackageAsync({ kind: 'url', baseUrl: `${baseUrl}/nothing-here` }));
  expect(code).toBe('model-missing-file');
  expect(message).toContain('model_index.json is missing');
});
