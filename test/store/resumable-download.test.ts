/**
 * The resumable downloader against a real HTTP server (Node's http, Node's fetch) that can cut a
 * response off mid-body, ignore Range, or refuse: what arrives is kept, the next request asks for
 * the rest, sizes and sha256 are checked.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { memoryTarget, downloadFileAsync } from '../../worker/store/resumable-download.js';

const FILE = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);
const SHA = createHash('sha256').update(FILE).digest('hex');

interface Behaviour {
  /** Per request, in order: 'ok', 'drop:<bytes>' (send that much, then cut), 'no-range' (ignore Range), or an HTTP status. */
  plan: string[];
}

async function serveAsync(behaviour: Behaviour): Promise<{ url: string; ranges: (string | undefined)[]; close(): Promise<void> }> {
  const ranges: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    ranges.push(req.headers.range);
    const step = behaviour.plan.shift() ?? 'ok';
    if (/^\d+$/.test(step)) return void res.writeHead(Number(step)).end('refused');
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = match && step !== 'no-range' ? Number(match[1]) : 0;
    const body = FILE.subarray(start);
    res.writeHead(start > 0 ? 206 : 200, {
      'content-length': body.length,
      ...(start > 0 ? { 'content-range': `bytes ${start}-${FILE.length - 1}/${FILE.length}` } : {}),
    });
    if (step.startsWith('drop:')) {
      res.write(body.subarray(0, Number(step.slice(5))));
      setTimeout(() => res.socket?.destroy(), 20);
    } else res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/f.bin`,
    ranges,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

const quick = { backoffMs: () => 1 };

test('a response cut off mid-body is resumed with a Range request for the rest; sha256 checked', async () => {
  const server = await serveAsync({ plan: ['drop:100000', 'ok'] });
  const target = memoryTarget();
  const outcome = await downloadFileAsync({ path: 'f.bin', url: server.url, size: FILE.length, sha256: SHA }, target, quick);
  await server.close();
  expect(Buffer.from(target.bytes()).equals(Buffer.from(FILE))).toBe(true);
  expect(outcome).toEqual({ bytes: FILE.length, sha256: SHA, requests: 2, resumedFrom: 0 });
  expect(server.ranges[0]).toBeUndefined();
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(server.ranges[1] ?? '')?.[1]);
  expect(resumedAt).toBeGreaterThan(0);
  expect(resumedAt).toBeLessThanOrEqual(100_000);
});

test('a server that ignores Range gets the file again from the start, and the result is still exact', async () => {
  const server = await serveAsync({ plan: ['drop:50000', 'no-range'] });
  const target = memoryTarget();
  await downloadFileAsync({ path: 'f.bin', url: server.url, size: FILE.length, sha256: SHA }, target, quick);
  await server.close();
  expect(Buffer.from(target.bytes()).equals(Buffer.from(FILE))).toBe(true);
});

test('after too many failures without progress it gives up, keeps the bytes, and the next call resumes from them', async () => {
  const server = await serveAsync({ plan: ['drop:120000', 'drop:0', 'drop:0', 'drop:0'] });
  const target = memoryTarget();
  const file = { path: 'f.bin', url: server.url, size: FILE.length, sha256: SHA };
  await expect(downloadFileAsync(file, target, { ...quick, retries: 2 })).rejects.toThrow(
    /^\[download-failed\] f\.bin: the connection dropped after \d+ bytes .*; gave up after 3 attempts in a row at \d+ of 300000 bytes\. The bytes are kept: add the same URL again to resume$/,
  );
  const kept = await target.sizeAsync();
  expect(kept).toBeGreaterThan(0);
  const outcome = await downloadFileAsync(file, target, quick);
  await server.close();
  expect(outcome.resumedFrom).toBe(kept);
  expect(server.ranges.at(-1)).toBe(`bytes=${kept}-`);
  expect(Buffer.from(target.bytes()).equals(Buffer.from(FILE))).toBe(true);
});

test('bytes whose sha256 differs from the listed one are refused and discarded', async () => {
  const server = await serveAsync({ plan: ['ok'] });
  const target = memoryTarget();
  await expect(
    downloadFileAsync({ path: 'f.bin', url: server.url, size: FILE.length, sha256: '0'.repeat(64) }, target, quick),
  ).rejects.toThrow(
    `[model-corrupt] f.bin: the downloaded bytes have sha256 ${SHA}; the server lists ${'0'.repeat(64)}. The file was discarded; add the URL again to download it anew`,
  );
  await server.close();
  expect(await target.sizeAsync()).toBe(0);
});

test('HTTP 401 fails at once and says the repository needs an account; a cancel stops it and keeps the bytes', async () => {
  const refused = await serveAsync({ plan: ['401'] });
  await expect(downloadFileAsync({ path: 'f.bin', url: refused.url }, memoryTarget(), quick)).rejects.toThrow(
    /^\[download-failed\] f\.bin: .* answered HTTP 401: the files need an account \(a gated or private Hub repository\)/,
  );
  expect(refused.ranges).toHaveLength(1);
  await refused.close();

  const slow = await serveAsync({ plan: ['drop:10000', 'drop:0'] });
  const controller = new AbortController();
  const target = memoryTarget();
  const running = downloadFileAsync({ path: 'f.bin', url: slow.url, size: FILE.length }, target, {
    backoffMs: () => 10_000,
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(), 300);
  await expect(running).rejects.toThrow('[cancelled] the download of f.bin was cancelled; its bytes are kept to resume');
  await slow.close();
  expect(await target.sizeAsync()).toBeGreaterThan(0);
});
