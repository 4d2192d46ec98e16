/**
 * Runs the TypeScript-built SD3 graphs (transformer, VAE decoder and encoder, from the
 * sd3-diffusers-tiny checkpoints) on onnxruntime-web's WebGPU EP in headless Chromium — both
 * builds: `webgpu` (ort.webgpu.bundle, native WebGPU EP) and `jsep` (ort.bundle) — and compares
 * each output with diffusers' golden arrays. On CPU machines Chromium's WebGPU is SwiftShader:
 * correct, slow, and without shader-f16, so fp16 graphs are skipped when the adapter lacks it.
 *
 *   npx tsx scripts/sd3-graphs-webgpu.ts [fp32|fp16|int8|int4 ...] [--only <text>] [--build webgpu|jsep] [--no-subgroups] [--variants [--variants-of SiLU,GroupNorm,Linear]]
 *
 * Defaults: fp32 int8 int4, every graph, both builds. `--only p1` keeps the graphs whose name
 * contains "p1" (e.g. "p1 transformer", "p4 vae_decoder"). SwiftShader compiles each new shader
 * slowly: the whole set takes tens of minutes on two cores. `--variants` adds the op
 * alternatives of scripts/op-variants.ts (compared with WASM).
 *
 * Prints one line per graph and build: session time, first and second run, max |diff| and
 * relative L2 against diffusers.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import type { Precision } from '../worker/engine/onnx/layers.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../worker/engine/onnx/serialize-graph.js';
import { buildSd3TransformerGraph, readSd3TransformerConfig } from '../worker/engine/sd3/graphs/sd3-transformer.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph, readAutoencoderKlConfig } from '../worker/engine/sd3/graphs/vae.js';
import { cases, fixtureConfig, fixtureWeightsAsync, goldenArray, type GoldenCase } from '../test/sd3-graphs/graph-harness.js';
import { repoRoot } from '../test/fixture-paths.js';
import { createSessionAsync } from '../worker/engine/ort-backend.js';
import { linearVariants, vaeOpVariants, variantInput } from './op-variants.js';

interface Job {
  name: string;
  precision: Precision;
  model: Uint8Array;
  external: { path: string; data: Uint8Array }[];
  feeds: Record<string, { data: Float32Array; dims: number[] }>;
  output: string;
  /** Compare the first `expected.length` values of the output. */
  expected: Float32Array;
}

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args.splice(i, 2)[1];
};
const only = option('--only');
const variantFamilies = (option('--variants-of') ?? 'SiLU,GroupNorm,Linear').split(',');
const onlyBuild = option('--build');
const noSubgroups = args.includes('--no-subgroups') && args.splice(args.indexOf('--no-subgroups'), 1).length > 0;
const variants = args.includes('--variants') && args.splice(args.indexOf('--variants'), 1).length > 0;
const precisions = (args.length ? args : ['fp32', 'int8', 'int4']) as Precision[];
const ortDist = path.join(repoRoot, 'node_modules/onnxruntime-web/dist');
const BUILDS = { webgpu: 'ort.webgpu.bundle.min.mjs', jsep: 'ort.bundle.min.mjs' };

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function jobsAsync(): Promise<Job[]> {
  const jobs: Job[] = [];
  const add = async (
    name: string,
    precision: Precision,
    graph: Parameters<typeof serializeGraphAsync>[0],
    rest: Omit<Job, 'name' | 'precision' | 'model' | 'external'>,
  ) => {
    if (only && !name.includes(only)) return;
    const serialized = await serializeGraphAsync(graph);
    const external = await Promise.all(
      serialized.externalFiles.map(async (f) => ({ path: f.path, data: await externalFileBytesAsync(f) })),
    );
    jobs.push({ name, precision, model: serialized.model, external, ...rest });
  };
  for (const precision of precisions) {
    for (const c of cases) {
      const x = goldenArray(c, 'step0_transformer_input');
      const batch = x.dims[0];
      const prompt = goldenArray(c, 'prompt_embeds');
      const pooled = goldenArray(c, 'pooled_prompt_embeds');
      const config = readSd3TransformerConfig(fixtureConfig(c.model, 'transformer'));
      await add(
        `${c.name.slice(0, 2)} transformer`,
        precision,
        buildSd3TransformerGraph(config, await fixtureWeightsAsync(c.model, 'transformer'), precision),
        {
          feeds: {
            hidden_states: x,
            timestep: goldenArray(c, 'step0_timestep'),
            encoder_hidden_states: {
              data: batch === 2 ? concat(goldenArray(c, 'negative_prompt_embeds').data, prompt.data) : prompt.data,
              dims: [batch, ...prompt.dims.slice(1)],
            },
            pooled_projections: {
              data: batch === 2 ? concat(goldenArray(c, 'negative_pooled_prompt_embeds').data, pooled.data) : pooled.data,
              dims: [batch, pooled.dims[1]],
            },
          },
          output: 'out_hidden_states',
          expected: goldenArray(c, 'step0_transformer_output').data,
        },
      );
    }
    for (const c of [cases[0], cases[3]] as GoldenCase[]) {
      const config = readAutoencoderKlConfig(fixtureConfig(c.model, 'vae'));
      const weights = await fixtureWeightsAsync(c.model, 'vae');
      await add(`${c.name.slice(0, 2)} vae_decoder`, precision, buildVaeDecoderGraph(config, weights, precision), {
        feeds: { latent_sample: goldenArray(c, 'vae_decoder_input') },
        output: 'sample',
        expected: goldenArray(c, 'vae_decoder_output').data,
      });
      await add(`${c.name.slice(0, 2)} vae_encoder`, precision, buildVaeEncoderGraph(config, weights, precision), {
        feeds: { sample: goldenArray(c, 'vae_encoder_input') },
        output: 'latent_parameters',
        expected: goldenArray(c, 'vae_encoder_mean').data,
      });
    }
  }
  if (variants) {
    // The VAE op alternatives, expected values from WASM.
    const image = { data: variantInput(128, 128), dims: [1, 128, 128, 128] };
    const tokens = { data: new Float32Array(2 * 1024 * 1536).map((_, i) => Math.sin(i * 0.011)), dims: [2, 1024, 1536] };
    for (const { name, graph, family } of [...vaeOpVariants(128), ...linearVariants(1536, 1536)].filter((v) =>
      variantFamilies.includes(v.family),
    )) {
      const x = family === 'Linear' ? tokens : image;
      const serialized = await serializeGraphAsync(graph);
      const external = await Promise.all(
        serialized.externalFiles.map(async (f) => ({ path: f.path, data: await externalFileBytesAsync(f) })),
      );
      let expected: Float32Array;
      try {
        const session = await createSessionAsync({ label: name, model: serialized.model, externalData: external, backend: 'wasm' });
        expected = (await session.runAsync({ x: { type: 'float32', ...x } })).y.data as Float32Array;
        await session.releaseAsync();
      } catch (error) {
        console.log(`${name}: does not run on WASM (${(error as Error).message.slice(0, 200)}); skipped`);
        continue;
      }
      jobs.push({ name, precision: 'fp32', model: serialized.model, external, feeds: { x }, output: 'y', expected });
    }
  }
  return jobs;
}

/**
 * With `--no-subgroups` the page hides the WebGPU "subgroups" feature from onnxruntime-web before
 * it creates its device. onnxruntime-web 1.30's native WebGPU EP computes MultiHeadAttention
 * wrongly on SwiftShader when subgroups are available (off by up to several percent of the values'
 * scale) and exactly without them.
 */
const HIDE_SUBGROUPS = `<script>
for (const proto of [GPUAdapter.prototype, GPUDevice.prototype]) {
  const get = Object.getOwnPropertyDescriptor(proto, 'features').get;
  Object.defineProperty(proto, 'features', { get() { return new Set([...get.call(this)].filter((f) => f !== 'subgroups')); } });
}
const requestDevice = GPUAdapter.prototype.requestDevice;
GPUAdapter.prototype.requestDevice = function (descriptor) {
  if (descriptor?.requiredFeatures) descriptor = { ...descriptor, requiredFeatures: [...descriptor.requiredFeatures].filter((f) => f !== 'subgroups') };
  return requestDevice.call(this, descriptor);
};
</script>`;

// Runs in the page: fetches each job's bytes, creates a WebGPU session, runs twice, compares.
const PAGE = (bundle: string) => `<!doctype html>${noSubgroups ? HIDE_SUBGROUPS : ''}<script type="module">
import * as ort from '/ort/${bundle}';
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = '/ort/';
const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
const floats = async (url) => new Float32Array((await bytes(url)).buffer);
const list = await (await fetch('/jobs.json')).json();
const adapter = await navigator.gpu?.requestAdapter();
const results = [];
for (const [i, job] of list.entries()) {
  if (job.precision === 'fp16' && !adapter?.features.has('shader-f16')) { results.push({ name: job.name, precision: job.precision, skipped: 'no shader-f16 on this adapter' }); continue; }
  try {
    const external = await Promise.all(job.external.map(async (p, k) => ({ path: p, data: await bytes('/job/' + i + '/external/' + k) })));
    let t = performance.now();
    const session = await ort.InferenceSession.create(await bytes('/job/' + i + '/model'), { executionProviders: ['webgpu'], externalData: external, logSeverityLevel: 3 });
    const sessionMs = performance.now() - t;
    const feeds = {};
    for (const [name, dims] of Object.entries(job.feeds)) feeds[name] = new ort.Tensor('float32', await floats('/job/' + i + '/feed/' + name), dims);
    const expected = await floats('/job/' + i + '/expected');
    const runsMs = [];
    let got;
    for (let r = 0; r < 2; r++) {
      t = performance.now();
      const out = await session.run(feeds);
      got = await out[job.output].getData();
      runsMs.push(performance.now() - t);
    }
    let max = 0, num = 0, den = 0;
    for (let k = 0; k < expected.length; k++) { const d = got[k] - expected[k]; max = Math.max(max, Math.abs(d)); num += d * d; den += expected[k] ** 2; if (Number.isNaN(d)) max = Infinity; }
    results.push({ name: job.name, precision: job.precision, sessionMs, runsMs, maxAbsDiff: max, relL2: Math.sqrt(num / den) });
    await session.release();
  } catch (error) {
    results.push({ name: job.name, precision: job.precision, error: String(error?.message ?? error).slice(0, 400) });
  }
}
window.result = { adapter: adapter ? adapter.info.vendor + ' ' + adapter.info.architecture + ' [' + ['shader-f16', 'subgroups'].filter((f) => adapter.features.has(f)).join(', ') + ']' : 'none', results };
</script>`;

const jobs = await jobsAsync();
const manifest = jobs.map((j) => ({
  name: j.name,
  precision: j.precision,
  external: j.external.map((e) => e.path),
  feeds: Object.fromEntries(Object.entries(j.feeds).map(([k, v]) => [k, v.dims])),
  output: j.output,
}));
const asBytes = (a: Float32Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
let bundle = '';
const server = http
  .createServer((req, res) => {
    const url = req.url ?? '/';
    const send = (body: Buffer | string, type = 'application/octet-stream') => res.writeHead(200, { 'content-type': type }).end(body);
    if (url === '/') return send(PAGE(bundle), 'text/html');
    if (url === '/jobs.json') return send(JSON.stringify(manifest), 'application/json');
    if (url.startsWith('/ort/')) {
      const file = path.join(ortDist, path.basename(url));
      return send(readFileSync(file), file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
    }
    const match = /^\/job\/(\d+)\/(model|expected|external\/(\d+)|feed\/(\w+))$/.exec(url);
    if (!match) return res.writeHead(404).end();
    const job = jobs[Number(match[1])];
    if (match[2] === 'model') return send(asBytes(job.model));
    if (match[2] === 'expected') return send(asBytes(job.expected));
    if (match[3] !== undefined) return send(asBytes(job.external[Number(match[3])].data));
    return send(asBytes(job.feeds[match[4]].data));
  })
  .listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const port = (server.address() as { port: number }).port;
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--enable-unsafe-webgpu', '--no-sandbox', '--no-first-run'],
});
try {
  for (const [build, file] of Object.entries(BUILDS)) {
    if (onlyBuild && build !== onlyBuild) continue;
    bundle = file;
    const page = await browser.newPage();
    const t = performance.now();
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'commit' });
    const result = (await page
      .waitForFunction(() => (window as { result?: unknown }).result, undefined, { timeout: 1_800_000, polling: 1000 })
      .then((h) => h.jsonValue())) as {
      adapter: string;
      results: {
        name: string;
        precision: string;
        sessionMs?: number;
        runsMs?: number[];
        maxAbsDiff?: number;
        relL2?: number;
        error?: string;
        skipped?: string;
      }[];
    };
    await page.close();
    console.log(`${build} build (${file}), adapter ${result.adapter}, ${((performance.now() - t) / 1000).toFixed(0)} s in all`);
    for (const r of result.results) {
      const head = `  ${r.name.padEnd(Math.max(15, r.name.length))} ${r.precision.padEnd(5)}`;
      if (r.error) console.log(`${head} ERROR ${r.error}`);
      else if (r.skipped) console.log(`${head} skipped: ${r.skipped}`);
      else {
        console.log(
          `${head} session ${(r.sessionMs! / 1000).toFixed(1)} s, runs ${r.runsMs!.map((ms) => `${ms.toFixed(0)} ms`).join(' / ')}; ` +
            `max |diff| ${r.maxAbsDiff!.toExponential(2)}, rel. L2 ${r.relL2!.toExponential(2)}`,
        );
      }
    }
  }
} finally {
  await browser.close();
  server.closeAllConnections();
  server.close();
}
