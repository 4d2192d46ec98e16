/**
 * The shipped model package (models/default/, built by model/flowfill/export.py) and the built-in
 * models before it (models/v2.0/, models/v1/, kept so that layers made with them regenerate), against the
 * engine's package contract (worker/engine/model-package.ts): file hashes, size budget, config keys, tokenizer behaviour in
 * @huggingface/tokenizers, and the ONNX graphs' names and dynamic shapes under onnxruntime-web's WASM
 * backend (the fallback every host has).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-web';
import { retiredEntryAsync } from '../../scripts/retire-built-in-model.js';
import { makesImagesOf, RETIRED_BUILT_IN_MODELS } from '../../ui/jobs/skip-reasons.js';
import { clampToRange, GUIDANCE_RANGE, STEPS_RANGE } from '../../ui/settings/settings.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
ort.env.wasm.numThreads = 1;

test('each retired built-in model is the package in its folder, as the engine reads it', async () => {
  // The identity the panel gets (ModelInfo), from the engine's own loader: what a release writes into the list.
  const shipped = await retiredEntryAsync(repoRoot, 'models/default');
  expect(RETIRED_BUILT_IN_MODELS.length).toBeGreaterThan(0);
  for (const retired of RETIRED_BUILT_IN_MODELS) {
    const { folder: _, ...pkg } = await retiredEntryAsync(repoRoot, retired.folder);
    expect(pkg).toEqual({
      id: retired.id,
      name: retired.name,
      hash: retired.hash,
      supersedes: retired.supersedes ?? [],
    });
    expect(makesImagesOf(shipped, retired.hash)).toBe(false);
  }
});

test('every earlier built-in model kept under models/ is listed as retired, so its layers name their folder', () => {
  const kept = fs
    .readdirSync(path.join(repoRoot, 'models'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'default')
    .map((e) => `models/${e.name}`);
  expect(kept.sort()).toEqual(RETIRED_BUILT_IN_MODELS.map((m) => m.folder).sort());
});

test('a release that changes only the recommended guidance or steps keeps the package hash, so nothing is retired', async () => {
  // model/install-package.sh --ship-sampler (flowfill.ship_sampler) ships such a release in place: layers made before
  // it must still regenerate from the same package, at the sampler their provenance records.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfill-sampler-release-'));
  try {
    fs.cpSync(path.join(repoRoot, 'models/default'), path.join(root, 'models/default'), { recursive: true });
    const manifestPath = path.join(root, 'models/default/flowfill.json');
    const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    manifest.recommended = {
      ...manifest.recommended,
      guidance: manifest.recommended.guidance + 0.5,
      steps: manifest.recommended.steps + 2,
    };
    manifest.name = `${manifest.name} (next)`;
    fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
    const [before, after] = await Promise.all([retiredEntryAsync(repoRoot, 'models/default'), retiredEntryAsync(root, 'models/default')]);
    expect(after.hash).toBe(before.hash);
    expect(after.id).not.toBe(before.id); // the name is part of the id the panel shows; provenance matches by hash
    expect(makesImagesOf(after, before.hash)).toBe(true);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

// The shipped package and every retired one (the test above keeps that list equal to models/'s folders).
describe.each(['models/default', ...RETIRED_BUILT_IN_MODELS.map((m) => m.folder)])('%s package', (folder) => {
  const pkg = path.join(repoRoot, folder);
  const readJson = (rel: string): any => JSON.parse(fs.readFileSync(path.join(pkg, rel), 'utf8'));
  const session = (rel: string) => ort.InferenceSession.create(new Uint8Array(fs.readFileSync(path.join(pkg, rel))));
  const flowfill = readJson('flowfill.json');

  test('every file is listed in flowfill.json with its sha256 and size, and the package fits 32 MB', () => {
    const onDisk: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else onDisk.push(path.relative(pkg, p).split(path.sep).join('/'));
      }
    };
    walk(pkg);
    expect(onDisk.filter((f) => f !== 'flowfill.json').sort()).toEqual(Object.keys(flowfill.files).sort());
    let total = 0;
    for (const [rel, info] of Object.entries<{ sha256: string; bytes: number }>(flowfill.files)) {
      const blob = fs.readFileSync(path.join(pkg, rel));
      expect({ rel, bytes: blob.length }).toEqual({ rel, bytes: info.bytes });
      expect(crypto.createHash('sha256').update(blob).digest('hex')).toBe(info.sha256);
      total += blob.length;
    }
    expect(total).toBeLessThanOrEqual(32e6);
  });

  test('its recommended steps and guidance are values the panel can set', () => {
    // The panel snaps a recommendation to its fields' steps (guidance in halves): a model measured at guidance 2.25
    // would be drawn at 2.5, not at the sampler its checks chose (flowfill.set_sampler picks from the checks alone).
    const { steps, guidance } = flowfill.recommended as { steps: number; guidance: number };
    expect(clampToRange(steps, STEPS_RANGE, NaN)).toBe(steps);
    expect(clampToRange(guidance, GUIDANCE_RANGE, NaN)).toBe(guidance);
  });

  test('configs carry the keys the engine reads', () => {
    const t = readJson('transformer/config.json');
    for (const k of [
      'sample_size',
      'patch_size',
      'in_channels',
      'num_layers',
      'attention_head_dim',
      'num_attention_heads',
      'joint_attention_dim',
      'caption_projection_dim',
      'pooled_projection_dim',
      'out_channels',
      'pos_embed_max_size',
      'qk_norm',
      'dual_attention_layers',
    ])
      expect(t).toHaveProperty(k);
    const v = readJson('vae_decoder/config.json');
    expect(v.latent_channels).toBe(t.in_channels);
    expect(2 ** (v.block_out_channels.length - 1)).toBe(8);
    expect(typeof v.scaling_factor).toBe('number');
    expect(typeof v.shift_factor).toBe('number');
    expect(readJson('scheduler/scheduler_config.json')._class_name).toBe('FlowMatchEulerDiscreteScheduler');
    expect(flowfill.latent_rgb_factors).toHaveLength(t.in_channels);
    expect(flowfill.latent_rgb_factors.every((row: number[]) => row.length === 3)).toBe(true);
    expect(flowfill.latent_rgb_bias).toHaveLength(3);
    expect(Number.isInteger(flowfill.max_sequence_length)).toBe(true);
  });

  test('tokenizer.json loads in @huggingface/tokenizers and is word level with <bos> … <eos>', () => {
    const tj = readJson('tokenizer/tokenizer.json');
    const tc = readJson('tokenizer/tokenizer_config.json');
    const tok = new Tokenizer(tj, tc);
    const vocab: Record<string, number> = tj.model.vocab;
    const ids = tok.encode('Rocket, flat style, on a TEAL background').ids;
    expect(ids).toEqual(['<bos>', 'rocket', ',', 'flat', 'style', ',', 'on', 'a', 'teal', 'background', '<eos>'].map((w) => vocab[w]));
    expect(tok.encode('rocketship').ids).toEqual([vocab['<bos>'], vocab['<unk>'], vocab['<eos>']]);
    expect(tok.encode('').ids).toEqual([vocab['<bos>'], vocab['<eos>']]);
    expect(tc.model_max_length).toBe(readJson('text_encoder/config.json').max_position_embeddings);
  });

  test('text encoder: input_ids -> text_embeds, last_hidden_state, hidden_states.0..N', async () => {
    const cfg = readJson('text_encoder/config.json');
    const s = await session('text_encoder/model.onnx');
    const n = cfg.num_hidden_layers;
    expect(s.inputNames).toEqual(['input_ids']);
    expect(s.outputNames).toEqual(['text_embeds', 'last_hidden_state', ...Array.from({ length: n + 1 }, (_, i) => `hidden_states.${i}`)]);
    const L = cfg.max_position_embeddings;
    const ids = new BigInt64Array(2 * L).fill(BigInt(cfg.pad_token_id));
    ids.set([2n, 3n], 0);
    ids.set([2n, 3n], L);
    const out = await s.run({ input_ids: new ort.Tensor('int64', ids, [2, L]) });
    expect(out.text_embeds.dims).toEqual([2, cfg.projection_dim]);
    expect(out[`hidden_states.${n - 1}`].dims).toEqual([2, L, cfg.hidden_size]);
    const a = out.text_embeds.data as Float32Array;
    for (let i = 0; i < cfg.projection_dim; i++) expect(a[i]).toBeCloseTo(a[cfg.projection_dim + i], 5); // same prompt, same row
  });

  test('transformer runs a 2:1 latent and returns the input shape', async () => {
    const t = readJson('transformer/config.json');
    const s = await session('transformer/model.onnx');
    expect(s.inputNames).toEqual(['hidden_states', 'timestep', 'encoder_hidden_states', 'pooled_projections']);
    expect(s.outputNames).toEqual(['out_hidden_states']);
    const h = 22,
      w = 46,
      S = readJson('tokenizer/tokenizer_config.json').model_max_length + flowfill.max_sequence_length;
    const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.8);
    const out = await s.run({
      hidden_states: new ort.Tensor('float32', rnd(t.in_channels * h * w), [1, t.in_channels, h, w]),
      timestep: new ort.Tensor('float32', Float32Array.from([500]), [1]),
      encoder_hidden_states: new ort.Tensor('float32', rnd(S * t.joint_attention_dim), [1, S, t.joint_attention_dim]),
      pooled_projections: new ort.Tensor('float32', rnd(t.pooled_projection_dim), [1, t.pooled_projection_dim]),
    });
    expect(out.out_hidden_states.dims).toEqual([1, t.out_channels, h, w]);
    expect((out.out_hidden_states.data as Float32Array).every(Number.isFinite)).toBe(true);
  });

  test('VAE decoder maps a raw latent to an image 8x larger', async () => {
    const s = await session('vae_decoder/model.onnx');
    expect(s.inputNames).toEqual(['latent_sample']);
    expect(s.outputNames).toEqual(['sample']);
    const out = await s.run({ latent_sample: new ort.Tensor('float32', new Float32Array(16 * 4 * 6).fill(0.1), [1, 16, 4, 6]) });
    expect(out.sample.dims).toEqual([1, 3, 32, 48]);
  });
});
