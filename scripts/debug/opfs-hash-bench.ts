/**
 * What re-checking a stored model's sha256 on every load would cost: writes a file into OPFS in
 * headless Chromium, then times reading it back whole and hashing it with WebCrypto (what a load
 * that verifies every byte does), against slicing it as a Blob (what a load of a store-checked
 * package does: sizes checked, weights handed to onnxruntime unread).
 *   npx tsx scripts/debug/opfs-hash-bench.ts [megabytes=256] [runs=3]
 */
import http from 'node:http';
import { launchChromiumAsync } from '../../test/browser/browser-rig.js';

const megabytes = Number(process.argv[2] ?? 256);
const runs = Number(process.argv[3] ?? 3);

async function main(): Promise<void> {
  const server = http.createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>bench</title>'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await launchChromiumAsync({ webgpu: false });
  try {
    const page = await browser.newPage();
    await page.goto(`http://localhost:${(server.address() as { port: number }).port}/`);
    for (let run = 1; run <= runs; run++) {
      // A string, so the page runs this code as written (no bundler helpers).
      const result = (await page.evaluate(`(async (megabytes) => {
        const chunk = new Uint8Array(8 << 20);
        crypto.getRandomValues(chunk.subarray(0, 65536));
        const root = await navigator.storage.getDirectory();
        const handle = await root.getFileHandle('flowfill-hash-bench.bin', { create: true });
        const writable = await handle.createWritable();
        for (let i = 0; i < megabytes / 8; i++) await writable.write(chunk);
        await writable.close();
        const file = await handle.getFile();
        let t = performance.now();
        const bytes = await file.arrayBuffer();
        const readMs = performance.now() - t;
        t = performance.now();
        await crypto.subtle.digest('SHA-256', bytes);
        const hashMs = performance.now() - t;
        t = performance.now();
        file.slice(0, file.size);
        const sliceMs = performance.now() - t;
        await root.removeEntry('flowfill-hash-bench.bin');
        return { readMs, hashMs, sliceMs };
      })(${megabytes})`)) as { readMs: number; hashMs: number; sliceMs: number };
      const perGb = (ms: number) => ((ms / megabytes) * 1000) / 1000;
      console.log(
        `run ${run}: ${megabytes} MB from OPFS: read ${result.readMs.toFixed(0)} ms + sha256 ${result.hashMs.toFixed(0)} ms ` +
          `(${perGb(result.readMs + result.hashMs).toFixed(1)} s per GB); Blob slice ${result.sliceMs.toFixed(1)} ms`,
      );
    }
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
