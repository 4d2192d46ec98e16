#!/usr/bin/env node
/**
 * Compares onnxruntime-web's two WebGPU builds where the plugin runs them: a classic worker
 * started from a data: URL inside <iframe sandbox="allow-scripts" srcdoc> (null origin), in
 * headless Debian Chromium (WebGPU through SwiftShader on CPU machines), with the .wasm handed over
 * as bytes (env.wasm.wasmBinary), as dist/ui.html does.
 *
 *   webgpu  `onnxruntime-web/webgpu`  ort.webgpu.bundle.min.mjs + ort-wasm-simd-threaded.asyncify.wasm (native WebGPU EP)
 *   jsep    `onnxruntime-web`         ort.bundle.min.mjs        + ort-wasm-simd-threaded.jsep.wasm     (JSEP)
 *
 * For each: the golden fixture's transformer (case d step 0, batch 2 with CFG) and VAE decoder
 * (case d), session creation, first run (shader compiles), two more runs, max |diff| to diffusers.
 *
 *   node scripts/compare-ort-builds.mjs            # FLOWFILL_FIXTURES=<dir> to point elsewhere
 */
import * as esbuild from 'esbuild';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { repoRoot } from './build.mjs';

const fixtures = path.resolve(process.env.FLOWFILL_FIXTURES ?? path.join(repoRoot, 'test', 'fixtures', 'sd3-tiny-golden'));
const ortDist = path.join(repoRoot, 'node_modules/onnxruntime-web/dist');
const BUILDS = {
  webgpu: { module: 'ort.webgpu.bundle.min.mjs', wasm: 'ort-wasm-simd-threaded.asyncify.wasm' },
  jsep: { module: 'ort.bundle.min.mjs', wasm: 'ort-wasm-simd-threaded.jsep.wasm' },
};

// The worker: decodes the inputs, runs each graph three times, reports times and max |diff|.
const WORKER = `
import * as ort from 'ort';
const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
self.onmessage = async ({ data }) => {
  try {
    ort.env.wasm.wasmBinary = b64(data.wasm);
    ort.env.wasm.numThreads = 1;
    const out = {};
    for (const job of data.jobs) {
      let t = performance.now();
      const session = await ort.InferenceSession.create(b64(job.model), { executionProviders: ['webgpu'] });
      const sessionMs = performance.now() - t;
      const feeds = {};
      for (const [name, [base64, dims]] of Object.entries(job.feeds)) feeds[name] = new ort.Tensor('float32', new Float32Array(b64(base64).buffer), dims);
      const runsMs = [];
      let result;
      for (let i = 0; i < 3; i++) { t = performance.now(); result = await session.run(feeds); runsMs.push(performance.now() - t); }
      const got = result[job.output].data, want = new Float32Array(b64(job.expected).buffer);
      let maxAbsDiff = 0;
      for (let i = 0; i < want.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[i] - want[i]));
      out[job.name] = { sessionMs, runsMs, maxAbsDiff };
      await session.release();
    }
    self.postMessage({ done: out });
  } catch (error) { self.postMessage({ error: String(error && error.stack || error) }); }
};`;

async function workerSourceAsync(build) {
  const result = await esbuild.build({
    stdin: { contents: WORKER, resolveDir: repoRoot, loader: 'js' },
    bundle: true,
    write: false,
    format: 'iife',
    minify: true,
    target: 'es2022',
    logLevel: 'error',
    define: { 'import.meta.url': 'self.location.href' },
    plugins: [{ name: 'ort', setup: (b) => b.onResolve({ filter: /^ort$/ }, () => ({ path: path.join(ortDist, build.module) })) }],
  });
  return result.outputFiles[0].text;
}

const read = (rel) => readFileSync(path.join(fixtures, rel));
const b64 = (...parts) => Buffer.concat(parts).toString('base64');
const JOBS = [
  {
    name: 'transformer',
    model: b64(read('transformer/model.onnx')),
    output: 'out_hidden_states',
    expected: b64(read('d_step0_transformer_out.bin')),
    feeds: {
      hidden_states: [b64(read('d_step0_model_input.bin')), [2, 16, 8, 8]],
      timestep: [b64(read('d_step0_timestep.bin')), [2]],
      encoder_hidden_states: [b64(read('negative_prompt_embeds.bin'), read('prompt_embeds.bin')), [2, 7, 32]],
      pooled_projections: [b64(read('negative_pooled_prompt_embeds.bin'), read('pooled_prompt_embeds.bin')), [2, 64]],
    },
  },
  {
    name: 'vae_decoder',
    model: b64(read('vae_decoder/model.onnx')),
    output: 'sample',
    expected: b64(read('d_vae_out.bin')),
    feeds: { latent_sample: [b64(read('d_vae_in.bin')), [1, 16, 8, 8]] },
  },
];

/** A JS literal safe inside <script>: in a string, "<\/" is "</" but cannot close the element. */
const scriptString = (value) => JSON.stringify(value).replace(/<\//g, '<\\/');

function pluginLikePage(workerSource, wasmBase64) {
  const inner = `<!doctype html><script>
const worker = new Worker('data:text/javascript;charset=utf-8,' + encodeURIComponent(${scriptString(workerSource)}));
worker.onmessage = (e) => parent.postMessage(e.data, '*');
worker.onerror = (e) => parent.postMessage({ error: 'worker failed to start: ' + e.message }, '*');
worker.postMessage({ wasm: ${scriptString(wasmBase64)}, jobs: ${scriptString(JOBS)} });
</script>`;
  return `<!doctype html><body><script>
window.onmessage = (e) => { window.result = e.data; };
const frame = document.createElement('iframe');
frame.setAttribute('sandbox', 'allow-scripts');
frame.srcdoc = ${scriptString(inner)};
document.body.appendChild(frame);
</script></body>`;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--enable-unsafe-webgpu',
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;
try {
  for (const [name, build] of Object.entries(BUILDS)) {
    const workerSource = await workerSourceAsync(build);
    const html = pluginLikePage(workerSource, readFileSync(path.join(ortDist, build.wasm)).toString('base64'));
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html)).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`, { waitUntil: 'commit' });
    const result = await page
      .waitForFunction(() => window.result, undefined, { timeout: 600_000, polling: 500 })
      .then((h) => h.jsonValue());
    await page.close();
    server.closeAllConnections();
    server.close();
    console.log(
      `${name}: worker JS ${(workerSource.length / 1e3).toFixed(0)} kB, ${build.wasm} ${(readFileSync(path.join(ortDist, build.wasm)).length / 1e6).toFixed(1)} MB`,
    );
    if (result.error) console.log(`  error: ${result.error}`);
    for (const [graph, r] of Object.entries(result.done ?? {})) {
      console.log(
        `  ${graph.padEnd(12)} session ${fmt(r.sessionMs)}, first run ${fmt(r.runsMs[0])}, then ${r.runsMs.slice(1).map(fmt).join(', ')}; max |diff| ${r.maxAbsDiff.toExponential(2)}`,
      );
    }
  }
} finally {
  await browser.close();
}
