/**
 * Which files a model folder on a web server consists of, planned before downloading: a diffusers
 * checkpoint by its model_index.json (served here from the sd35m_style fixture: the planned files
 * must be enough for the real conversion), a Flowfill package by its flowfill.json, and a Hub
 * repository by the Hub's file listing (emulated here: paginated, with LFS sha256s).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createNodePackageSinkAsync } from '../../worker/cli/node-package-sink.js';
import { openFolderAsync } from '../../worker/cli/node-host.js';
import type { PackageSink } from '../../worker/engine/package-writer.js';
import { openPackageAsync } from '../../worker/engine/package-source.js';
import { convertDiffusersCheckpointAsync } from '../../worker/engine/sd3/convert-diffusers.js';
import { pickedPackageFiles } from '../../worker/store/picked-folder.js';
import { normaliseBaseUrl, planRemotePackageAsync } from '../../worker/store/remote-package.js';
import { diffusersFixtureDir } from '../fixture-paths.js';

function folderFiles(dir: string, prefix = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of readdirSync(path.join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(path.join(dir, rel)).isDirectory()) for (const [p, b] of folderFiles(dir, rel)) out.set(p, b);
    else out.set(rel, readFileSync(path.join(dir, rel)));
  }
  return out;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Converting the tiny checkpoint takes a few seconds on the shared 2-core machine. */
const CONVERSION_BUDGET_MS = 120_000;

/** Serves `files` under /<prefix>/, and a Hub-style tree listing of them under /api/models/org/repo/tree/main. */
async function serveAsync(files: Map<string, Buffer>, prefix: string, options: { pageSize?: number; status?: number } = {}) {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (options.status) return void res.writeHead(options.status).end();
    // The Hub's tree API: /api/models/<repo>/tree/<revision>[/<folder>], paths from the repository root.
    if (url.pathname === `/api/models/org/repo/tree/main/${prefix}`) {
      const all = [...files].map(([p, bytes]) => ({
        type: 'file',
        path: `${prefix}/${p}`,
        size: bytes.length,
        oid: 'f'.repeat(40),
        ...(p.endsWith('.safetensors') ? { lfs: { oid: sha256(bytes), size: bytes.length } } : {}),
      }));
      const cursor = Number(url.searchParams.get('cursor') ?? 0);
      const page = all.slice(cursor, cursor + (options.pageSize ?? all.length));
      const next =
        cursor + page.length < all.length
          ? `<http://${req.headers.host}${url.pathname}?recursive=true&cursor=${cursor + page.length}>; rel="next"`
          : undefined;
      return void res.writeHead(200, { 'content-type': 'application/json', ...(next ? { link: next } : {}) }).end(JSON.stringify(page));
    }
    const rel = decodeURIComponent(url.pathname).replace(new RegExp(`^/(org/repo/resolve/main/)?${prefix}/`), '');
    const bytes = files.get(rel);
    if (!bytes) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': bytes.length });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return { host, requests, close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
}

function memorySink(): PackageSink & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    description: 'memory',
    async createFileAsync(p) {
      const chunks: Uint8Array[] = [];
      return { write: async (c) => void chunks.push(c.slice()), close: async () => void files.set(p, Buffer.concat(chunks)) };
    },
    commitAsync: async () => {},
    abortAsync: async () => files.clear(),
  };
}

const fixture = () => folderFiles(path.join(diffusersFixtureDir(), 'sd35m_style'));

test(
  'a diffusers folder: every component the index names, the shards its index files list, the tokenizer files there are; enough for the conversion',
  async () => {
    const files = fixture();
    const server = await serveAsync(files, 'sd35m');
    try {
      const plan = await planRemotePackageAsync(`http://${server.host}/sd35m`);
      expect(plan).toMatchObject({ baseUrl: `http://${server.host}/sd35m/`, kind: 'diffusers', name: 'sd35m' });
      const planned = plan.files.map((f) => f.path).sort();
      // Exactly the folder's files: the fixture holds what the pipeline needs and nothing else.
      expect(planned).toEqual([...files.keys()].sort());
      for (const file of plan.files) expect(file.size).toBe(files.get(file.path)!.length);
      // Plain HEAD answers carry no sha256: the files are checked by size.
      expect(plan.files.every((f) => f.sha256 === undefined)).toBe(true);

      // What was planned converts, downloaded into memory.
      const downloaded = new Map<string, Blob>();
      for (const file of plan.files) downloaded.set(file.path, new Blob([new Uint8Array(await (await fetch(file.url)).arrayBuffer())]));
      const sink = memorySink();
      const result = await convertDiffusersCheckpointAsync(pickedPackageFiles(downloaded, 'the download'), sink, { precision: 'fp32' });
      expect(result.components).toEqual(['transformer', 'vae_decoder', 'vae_encoder', 'text_encoder', 'text_encoder_2', 'text_encoder_3']);
      expect(sink.files.has('flowfill.json')).toBe(true);
    } finally {
      await server.close();
    }
  },
  CONVERSION_BUDGET_MS,
);

test(
  'a Flowfill package: the files flowfill.json lists, with their sizes and sha256',
  async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), 'flowfill-plan-'));
    const pkgDir = path.join(out, 'pkg');
    try {
      const source = await openPackageAsync({
        kind: 'files',
        files: await openFolderAsync(path.join(diffusersFixtureDir(), 'sd35m_style')),
        description: 'sd35m_style',
      });
      await convertDiffusersCheckpointAsync(source, await createNodePackageSinkAsync(pkgDir), { precision: 'fp32', name: 'tiny' });
      const files = folderFiles(pkgDir);
      const server = await serveAsync(files, 'pkg');
      try {
        const plan = await planRemotePackageAsync(`http://${server.host}/pkg/`);
        expect(plan.kind).toBe('flowfill-package');
        expect(plan.name).toBe('tiny');
        expect(plan.files.map((f) => f.path).sort()).toEqual([...files.keys()].sort());
        for (const file of plan.files.filter((f) => f.path !== 'flowfill.json'))
          expect(file).toMatchObject({ size: files.get(file.path)!.length, sha256: sha256(files.get(file.path)!) });
        // flowfill.json says everything: no HEAD per file.
        expect(server.requests.filter((r) => r.startsWith('HEAD')).length).toBeLessThanOrEqual(1);
      } finally {
        await server.close();
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
  CONVERSION_BUDGET_MS,
);

test('a Hub resolve URL is planned from the repository listing (all pages), with the LFS sha256 of every weight file', async () => {
  const files = fixture();
  const server = await serveAsync(files, 'sub', { pageSize: 20 });
  try {
    const hub = { host: server.host, apiBase: `http://${server.host}` };
    const plan = await planRemotePackageAsync(`http://${server.host}/org/repo/resolve/main/sub/`, { hub });
    expect(plan.files.map((f) => f.path).sort()).toEqual([...files.keys()].sort());
    for (const file of plan.files) {
      expect(file.size).toBe(files.get(file.path)!.length);
      if (file.path.endsWith('.safetensors')) expect(file.sha256).toBe(sha256(files.get(file.path)!));
      expect(file.url).toBe(`http://${server.host}/org/repo/resolve/main/sub/${file.path}`);
    }
    // The listing answered every existence question: no HEAD requests; four pages of 20.
    expect(server.requests.filter((r) => r.startsWith('HEAD'))).toEqual([]);
    expect(server.requests.filter((r) => r.includes('/api/models/'))).toHaveLength(Math.ceil(files.size / 20));
  } finally {
    await server.close();
  }
});

test('what cannot be planned is refused with the reason and what to give instead', async () => {
  expect(() => normaliseBaseUrl('ftp://example.com/model')).toThrow(
    '[invalid-request] "ftp://example.com/model" is a ftp: URL; give an https:// URL of a model folder',
  );
  expect(() => normaliseBaseUrl('not a url')).toThrow(
    '[invalid-request] "not a url" is not a URL; give the base URL of a model folder, e.g. https://huggingface.co/<org>/<repo>/resolve/main/',
  );
  expect(normaliseBaseUrl('https://huggingface.co/stabilityai/stable-diffusion-3.5-medium')).toBe(
    'https://huggingface.co/stabilityai/stable-diffusion-3.5-medium/resolve/main/',
  );

  // ONNX graphs without flowfill.json: nothing says which files belong.
  const onnx = new Map([
    ['model_index.json', Buffer.from('{"_class_name":"StableDiffusion3Pipeline"}')],
    ['transformer/model.onnx', Buffer.from('x')],
  ]);
  const server = await serveAsync(onnx, 'm');
  try {
    await expect(planRemotePackageAsync(`http://${server.host}/m/`)).rejects.toThrow(
      /^\[model-missing-file\] http:\/\/.*\/m\/ holds ONNX graphs but no flowfill\.json listing its files/,
    );
    await expect(planRemotePackageAsync(`http://${server.host}/nothing/`)).rejects.toThrow(
      /^\[model-missing-file\] model_index\.json is missing from http:\/\/.*\/nothing\/ \(it names the pipeline and its components\)$/,
    );
  } finally {
    await server.close();
  }
  const gated = await serveAsync(new Map(), 'x', { status: 401 });
  try {
    await expect(
      planRemotePackageAsync(`http://${gated.host}/org/repo/resolve/main/`, { hub: { host: gated.host, apiBase: `http://${gated.host}` } }),
    ).rejects.toThrow(
      /^\[download-failed\] the Hub answered HTTP 401 listing org\/repo: the files need an account \(a gated or private Hub repository\); accept its licence on the Hub, download the folder, and use Add from folder$/,
    );
  } finally {
    await gated.close();
  }
});
