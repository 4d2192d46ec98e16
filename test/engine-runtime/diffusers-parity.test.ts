/**
 * `npm run parity` on the diffusers-layout golden fixtures, WASM in Node: the engine loads each
 * tiny SD3/SD3.5 checkpoint as a user's download (safetensors, fp16/bf16, sharded, CLIP tokenizers
 * from vocab.json + merges.txt), builds its graphs, and every array of every case lands within the
 * README's WASM tolerances.
 */
import { openAsBlob } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runDiffusersParityAsync } from '../../worker/parity/run-diffusers-parity.js';
import { diffusersFixtureDir } from '../fixture-paths.js';

test('every diffusers golden case passes on WASM', async () => {
  const root = diffusersFixtureDir();
  const report = await runDiffusersParityAsync({
    readFile: async (rel) => new Uint8Array(await readFile(path.join(root, rel))),
    openFile: (rel) => openAsBlob(path.join(root, rel)),
    backend: 'wasm',
  });
  console.log(
    report.cases
      .map(
        (c) =>
          `${c.name}: ${c.measures.map((m) => `${m.name} ${Number.isInteger(m.value) ? m.value : m.value.toExponential(2)}`).join(', ')}`,
      )
      .join('\n'),
  );
  expect(report.cases.map((c) => c.name)).toEqual([
    'p1_fox_64x96_cfg4.5_8steps',
    'p2_long_prompt_80x48_cfg7_5steps',
    'p3_no_t5_48x48_nocfg_4steps',
    'p4_no_t5_112x64_cfg5_6steps',
  ]);
  expect(report.cases.flatMap((c) => c.measures.filter((m) => !m.pass).map((m) => `${c.name}: ${m.name} ${m.value}`))).toEqual([]);
  // The SD3.5-style cases exercise T5 and its tokenizer; all cases the VAE encoder.
  expect(report.cases[0].measures.map((m) => m.name)).toEqual(
    expect.arrayContaining(['tokenizer_3_prompt_ids (differing)', 'vae_encoder_mean', 'image_uint8 equal fraction']),
  );
  expect(report.pass).toBe(true);
}, 120_000);
