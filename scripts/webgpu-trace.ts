/**
 * Finds where a graph's WebGPU result departs from WASM: every intermediate value of one of the
 * TypeScript-built SD3 graphs becomes an extra output (through a Cast to float32), the graph runs
 * on onnxruntime-web's WASM backend in Node and on a WebGPU build in headless Chromium, and the
 * first nodes whose outputs differ are printed in graph order with their op type.
 *
 *   npx tsx scripts/webgpu-trace.ts <p1|p2|p3|p4> <transformer|vae_decoder|vae_encoder> [--build webgpu|jsep] [--precision fp32|int8|int4] [--no-subgroups]
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { DataType } from '../worker/engine/onnx/data-types.js';
import type { BuiltGraph } from '../worker/engine/onnx/graph-builder.js';
import type { Precision } from '../worker/engine/onnx/layers.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../worker/engine/onnx/serialize-graph.js';
import { createSessionAsync, type HostTensor } from '../worker/engine/ort-backend.js';
import { buildSd3TransformerGraph, readSd3TransformerConfig } from '../worker/engine/sd3/graphs/sd3-transformer.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph, readAutoencoderKlConfig } from '../worker/engine/sd3/graphs/vae.js';
import { repoRoot } from '../test/fixture-paths.js';
import { f32, fixtureConfig, fixtureWeightsAsync, goldenArray, goldenCase } from '../test/sd3-graphs/graph-harness.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i < 0 ? fallback : args.splice(i, 2)[1];
};
const build = option('--build', 'webgpu');
const noSubgroups = args.includes('--no-subgroups') && args.splice(args.indexOf('--no-subgroups'), 1).length > 0;
const precision = option('--precision', 'fp32') as Precision;
const [casePrefix = 'p4', component = 'vae_decoder'] = args;
const bundle = build === 'jsep' ? 'ort.bundle.min.mjs' : 'ort.webgpu.bundle.min.mjs';

const c = goldenCase(casePrefix);
let graph: BuiltGraph;
let feeds: Record<string, HostTensor>;
if (component === 'transformer') {
  const config = readSd3TransformerConfig(fixtureConfig(c.model, 'transformer'));
  graph = buildSd3TransformerGraph(config, await fixtureWeightsAsync(c.model, 'transformer'), precision);
  const x = goldenArray(c, 'step0_transformer_input');
  const batch = x.dims[0];
  const prompt = goldenArray(c, 'prompt_embeds');
  const pooled = goldenArray(c, 'pooled_prompt_embeds');
  const cat = (a: Float32Array, b: Float32Array) => Float32Array.from([...a, ...b]);
  feeds = {
    hidden_states: f32(x.data, x.dims),
    timestep: f32(goldenArray(c, 'step0_timestep').data, [batch]),
    encoder_hidden_states: f32(batch === 2 ? cat(goldenArray(c, 'negative_prompt_embeds').data, prompt.data) : prompt.data, [
      batch,
      ...prompt.dims.slice(1),
    ]),
    pooled_projections: f32(batch === 2 ? cat(goldenArray(c, 'negative_pooled_prompt_embeds').data, pooled.data) : pooled.data, [
      batch,
      pooled.dims[1],
    ]),
  };
} else {
  const config = readAutoencoderKlConfig(fixtureConfig(c.model, 'vae'));
  const weights = await fixtureWeightsAsync(c.model, 'vae');
  const decoder = component === 'vae_decoder';
  graph = decoder ? buildVaeDecoderGraph(config, weights, precision) : buildVaeEncoderGraph(config, weights, precision);
  const input = goldenArray(c, decoder ? 'vae_decoder_input' : 'vae_encoder_input');
  feeds = { [decoder ? 'latent_sample' : 'sample']: f32(input.data, input.dims) };
}

// Every node output, cast to float32 and flattened, becomes a graph output "trace:<n>".
const traced: { name: string; node: string; op: string }[] = [];
const nodes = [...graph.nodes];
const outputs = [...graph.outputs];
const flat = 'trace/flat';
const minusOne = new Uint8Array(new BigInt64Array([-1n]).buffer);
const initializers = [
  ...graph.initializers,
  { name: flat, source: { kind: 'bytes' as const, dataType: DataType.INT64, dims: [1], bytes: minusOne } },
];
for (const node of graph.nodes) {
  for (const value of node.outputs) {
    const out = `trace:${traced.length}`;
    nodes.push({ opType: 'Cast', name: `${out}/Cast`, inputs: [value], outputs: [`${out}/f32`], attributes: { to: DataType.FLOAT } });
    nodes.push({ opType: 'Reshape', name: `${out}/Reshape`, inputs: [`${out}/f32`, flat], outputs: [out] });
    outputs.push({ name: out, elemType: DataType.FLOAT, shape: [`n${traced.length}`] });
    traced.push({ name: out, node: node.name, op: node.opType });
  }
}
const serialized = await serializeGraphAsync({ ...graph, nodes, outputs, initializers });
const external = await Promise.all(serialized.externalFiles.map(async (f) => ({ path: f.path, data: await externalFileBytesAsync(f) })));

const wasmSession = await createSessionAsync({ label: 'trace', model: serialized.model, externalData: external, backend: 'wasm' });
const reference = await wasmSession.runAsync(feeds);
await wasmSession.releaseAsync();

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
const received = new Map<string, Float32Array>();
const PAGE = `<!doctype html>${noSubgroups ? HIDE_SUBGROUPS : ''}<script type="module">
import * as ort from '/ort/${bundle}';
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = '/ort/';
const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
try {
  const meta = await (await fetch('/meta.json')).json();
  const externalData = await Promise.all(meta.external.map(async (p, k) => ({ path: p, data: await bytes('/external/' + k) })));
  const session = await ort.InferenceSession.create(await bytes('/model'), { executionProviders: ['webgpu'], externalData, logSeverityLevel: 3 });
  const feeds = {};
  for (const [name, dims] of Object.entries(meta.feeds)) feeds[name] = new ort.Tensor('float32', new Float32Array((await bytes('/feed/' + name)).buffer), dims);
  const out = await session.run(feeds);
  for (const [name, tensor] of Object.entries(out)) await fetch('/result/' + encodeURIComponent(name), { method: 'POST', body: await tensor.getData() });
  window.done = 'ok';
} catch (error) { window.done = String(error?.message ?? error); }
</script>`;
const asBytes = (a: Float32Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const ortDist = path.join(repoRoot, 'node_modules/onnxruntime-web/dist');
const server = http
  .createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '/');
    const send = (body: Buffer | string, type = 'application/octet-stream') => res.writeHead(200, { 'content-type': type }).end(body);
    if (url === '/') return send(PAGE, 'text/html');
    if (url === '/meta.json')
      return send(
        JSON.stringify({
          external: external.map((e) => e.path),
          feeds: Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.dims])),
        }),
      );
    if (url === '/model') return send(asBytes(serialized.model));
    if (url.startsWith('/external/')) return send(asBytes(external[Number(url.slice(10))].data));
    if (url.startsWith('/feed/')) return send(asBytes(feeds[url.slice(6)].data as Float32Array));
    if (url.startsWith('/ort/'))
      return send(readFileSync(path.join(ortDist, path.basename(url))), url.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
    if (url.startsWith('/result/')) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const all = Buffer.concat(chunks);
        received.set(url.slice(8), new Float32Array(all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)));
        res.writeHead(200).end();
      });
      return;
    }
    res.writeHead(404).end();
  })
  .listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--enable-unsafe-webgpu', '--no-sandbox', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`, { waitUntil: 'commit' });
  const done = await page
    .waitForFunction(() => (window as { done?: string }).done, undefined, { timeout: 1_800_000, polling: 1000 })
    .then((h) => h.jsonValue());
  if (done !== 'ok') throw new Error(`WebGPU run failed: ${done}`);
} finally {
  await browser.close();
  server.closeAllConnections();
  server.close();
}

console.log(
  `${c.name} ${component} ${precision}: ${traced.length} traced values, ${build} build vs WASM (first 25 that differ by more than 1e-4 relative to their scale)`,
);
let shown = 0;
for (const t of traced) {
  const want = reference[t.name].data as Float32Array;
  const got = received.get(t.name);
  if (!got || got.length !== want.length) {
    console.log(`  ${t.op.padEnd(22)} ${t.node}: WebGPU gave ${got?.length ?? 'no'} values, WASM ${want.length}`);
    if (++shown >= 25) break;
    continue;
  }
  let max = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    max = Math.max(max, Math.abs(got[i] - want[i]) || (Number.isNaN(got[i]) ? Infinity : 0));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  if (max > 1e-4 * Math.max(scale, 1e-6)) {
    console.log(
      `  ${t.op.padEnd(22)} ${t.node}: max |diff| ${max.toExponential(2)} (scale ${scale.toExponential(2)}, ${want.length} values)`,
    );
    if (++shown >= 25) break;
  }
}
