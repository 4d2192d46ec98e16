/**
 * Probes com.microsoft MultiHeadAttention on onnxruntime-web's WebGPU EP against its WASM EP over a
 * grid of shapes and input layouts (headless Chromium): which forms compute correctly.
 *   npx tsx scripts/debug/mha-probe.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DataType } from '../../worker/engine/onnx/data-types.js';
import { GraphBuilder } from '../../worker/engine/onnx/graph-builder.js';
import { serializeGraphAsync } from '../../worker/engine/onnx/serialize-graph.js';
import { launchChromiumAsync, startRigAsync } from '../../test/browser/browser-rig.js';

const cases: { batch: number; s: number; h: number; d: number; layout: 'bsd' | 'bnsh' }[] = [];
for (const [batch, s, h, d] of [
  [1, 18, 1, 32],
  [1, 20, 1, 32],
  [1, 24, 1, 32],
  [1, 31, 1, 32],
  [1, 32, 1, 32],
  [1, 33, 1, 32],
  [1, 64, 1, 32],
  [1, 256, 1, 32],
  [1, 288, 5, 32],
])
  cases.push({ batch, s, h, d, layout: 'bsd' });

async function main(): Promise<void> {
  const rig = await startRigAsync({ 'bisect-worker': 'test/browser/pages/bisect-worker.ts' });
  const browser = await launchChromiumAsync({ webgpu: true });
  const page = await browser.newPage();
  await page.goto(`${rig.server.url}rig/blank.html`);
  for (const c of cases) {
    const b = new GraphBuilder('mha');
    const q = b.input('q', DataType.FLOAT, [c.batch, c.s, c.h * c.d]);
    const k = b.input('k', DataType.FLOAT, [c.batch, c.s, c.h * c.d]);
    const v = b.input('v', DataType.FLOAT, [c.batch, c.s, c.h * c.d]);
    const bnsh = (x: typeof k) => b.op('Transpose', [b.op('Reshape', [x, b.int64([0, 0, c.h, c.d])])], { perm: [0, 2, 1, 3] });
    const out = b.msOp('MultiHeadAttention', c.layout === 'bsd' ? [q, k, v] : [q, bnsh(k), bnsh(v)], { num_heads: c.h });
    b.output(out, 'out', [c.batch, c.s, c.h * c.d]);
    const serialized = await serializeGraphAsync(b.build());
    const dir = path.join(rig.outDir, 'rig', 'bisect');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'model.onnx'), serialized.model);
    const n = c.batch * c.s * c.h * c.d;
    for (const [name, phase] of [
      ['q', 0],
      ['k', 1],
      ['v', 2],
    ] as const) {
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = Number(process.env.SCALE ?? 1) * Math.sin(0.37 * i + phase) * Math.cos(0.011 * i);
      writeFileSync(path.join(dir, `${name}.bin`), new Uint8Array(x.buffer));
    }
    const feeds = Object.fromEntries(
      ['q', 'k', 'v'].map((name) => [name, { type: 'float32', dims: [c.batch, c.s, c.h * c.d], file: `${name}.bin` }]),
    );
    const answer = await page.evaluate(
      (job) =>
        new Promise<any>((resolve) => {
          const worker = new Worker('/rig/bisect-worker.js');
          worker.onmessage = (event) => {
            resolve(event.data);
            worker.terminate();
          };
          worker.postMessage(job);
        }),
      { feeds, externalData: [] },
    );
    const row = answer.rows?.find((r: { name: string }) => r.name === 'out');
    console.log(
      `B ${c.batch} S ${c.s} heads ${c.h} head_dim ${c.d} kv ${c.layout}: ${answer.error ?? `max|Δ| ${row.maxDiff.toExponential(2)}`}`,
    );
  }
  await browser.close();
  await rig.close();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
