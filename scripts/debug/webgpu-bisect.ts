/**
 * Finds where onnxruntime-web's WebGPU EP departs from its WASM EP on a graph Flowfill builds:
 * every intermediate value of one component becomes an output, both backends run it in headless
 * Chromium on the golden case's inputs, and the values are listed in node order with their
 * difference, so the first diverging op stands out.
 *
 *   npx tsx scripts/debug/webgpu-bisect.ts <diffusers-golden folder> <case name> <component> [--all]
 *   component: text_encoder | text_encoder_2 | text_encoder_3 | transformer | vae_decoder | vae_encoder
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openPackageAsync } from '../../worker/engine/package-source.js';
import { readPackageIndexAsync } from '../../worker/engine/load-model-package.js';
import { GraphBuilder } from '../../worker/engine/onnx/graph-builder.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../../worker/engine/onnx/serialize-graph.js';
import { buildComponentGraphAsync } from '../../worker/engine/sd3/diffusers-package.js';
import type { Sd3GraphName } from '../../worker/engine/sd3/package.js';
import { VerifyingReader } from '../../worker/engine/verifying-reader.js';
import { openFolderAsync } from '../../worker/cli/node-host.js';
import { launchChromiumAsync, startRigAsync } from '../../test/browser/browser-rig.js';

async function main(): Promise<void> {
  const [root, caseName, component, flag] = process.argv.slice(2);
  const cases = JSON.parse(readFileSync(path.join(root, 'cases.json'), 'utf8'));
  const golden = cases.cases.find((c: { name: string }) => c.name === caseName);
  if (!golden) throw new Error(`no case ${caseName}`);
  const folder = path.join(root, cases.models[golden.model].folder);
  const files = await openPackageAsync({ kind: 'files', files: await openFolderAsync(folder), description: folder });
  const reader = new VerifyingReader(files);
  await readPackageIndexAsync(reader);
  const built = await buildComponentGraphAsync(component as Sd3GraphName, files, reader, 'fp32');
  if (!built) throw new Error(`no ${component}`);
  const graph = GraphBuilder.exposeIntermediates(built.graph);
  const serialized = await serializeGraphAsync(graph);

  const rig = await startRigAsync({ 'bisect-worker': 'test/browser/pages/bisect-worker.ts' });
  const dir = path.join(rig.outDir, 'rig', 'bisect');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'model.onnx'), serialized.model);
  for (const file of serialized.externalFiles) writeFileSync(path.join(dir, file.path), await externalFileBytesAsync(file));
  const a = golden.arrays;
  const feed = (name: string, type: 'float32' | 'int64', dims: number[], array: string) => {
    writeFileSync(path.join(dir, `${name}.bin`), readFileSync(path.join(root, a[array].file)));
    return { [name]: { type, dims, file: `${name}.bin` } };
  };
  let feeds: Record<string, unknown>;
  if (component.startsWith('text_encoder')) {
    const tokenizer = component.replace('text_encoder', 'tokenizer');
    feeds = feed('input_ids', 'int64', a[`${tokenizer}_prompt_ids`].shape, `${tokenizer}_prompt_ids`);
  } else if (component === 'transformer') {
    const x = a.step0_transformer_input.shape;
    const embeds = Buffer.concat([
      readFileSync(path.join(root, a.negative_prompt_embeds.file)),
      readFileSync(path.join(root, a.prompt_embeds.file)),
    ]);
    const pooled = Buffer.concat([
      readFileSync(path.join(root, a.negative_pooled_prompt_embeds.file)),
      readFileSync(path.join(root, a.pooled_prompt_embeds.file)),
    ]);
    writeFileSync(path.join(dir, 'ehs.bin'), embeds);
    writeFileSync(path.join(dir, 'pooled.bin'), pooled);
    feeds = {
      ...feed('hidden_states', 'float32', x, 'step0_transformer_input'),
      ...feed('timestep', 'float32', a.step0_timestep.shape, 'step0_timestep'),
      encoder_hidden_states: { type: 'float32', dims: [2, a.prompt_embeds.shape[1], a.prompt_embeds.shape[2]], file: 'ehs.bin' },
      pooled_projections: { type: 'float32', dims: [2, a.pooled_prompt_embeds.shape[1]], file: 'pooled.bin' },
    };
  } else if (component === 'vae_decoder') {
    feeds = feed('latent_sample', 'float32', a.vae_decoder_input.shape, 'vae_decoder_input');
  } else {
    feeds = feed('sample', 'float32', a.vae_encoder_input.shape, 'vae_encoder_input');
  }
  const browser = await launchChromiumAsync({ webgpu: true });
  const page = await browser.newPage();
  await page.goto(`${rig.server.url}rig/blank.html`);
  const answer = await page.evaluate(
    (job) =>
      new Promise<any>((resolve) => {
        const worker = new Worker('/rig/bisect-worker.js');
        worker.onmessage = (event) => resolve(event.data);
        worker.onerror = (event) => resolve({ error: event.message });
        worker.postMessage(job);
      }),
    { feeds, externalData: serialized.externalFiles.map((f) => f.path), optimization: (process.env.ORT_OPT ?? 'all') as 'all' },
  );
  await browser.close();
  await rig.close();
  if (answer.error) throw new Error(answer.error);
  const opOf = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, `${n.domain ? n.domain + ':' : ''}${n.opType}`] as const)));
  let shown = 0;
  for (const row of answer.rows) {
    const bad = row.error || row.maxDiff > 1e-4 * Math.max(1, row.maxRef);
    if (bad || flag === '--all') {
      console.log(
        `${bad ? 'DIFF' : 'ok  '} ${row.name} [${opOf.get(row.name) ?? 'output'}] dims ${JSON.stringify(row.dims)} ${row.error ?? `max|Δ| ${row.maxDiff.toExponential(2)} (max|ref| ${row.maxRef.toExponential(2)})`}`,
      );
      if (bad && ++shown >= 12 && flag !== '--all') break;
    }
  }
  console.log(`${answer.rows.length} values compared`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
