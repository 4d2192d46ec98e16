/**
 * A diffusers checkpoint that is damaged or not SD3's: every case is refused before any session
 * exists, with an EngineError naming the file (and the tensor), and a conversion that fails leaves
 * no package behind.
 */
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../worker/engine/engine.js';
import { openPackageAsync } from '../../worker/engine/package-source.js';
import { convertDiffusersCheckpointAsync } from '../../worker/engine/sd3/convert-diffusers.js';
import { createNodePackageSinkAsync } from '../../worker/cli/node-package-sink.js';
import { openFolderAsync } from '../../worker/cli/node-host.js';
import { diffusersFixtureDir } from '../fixture-paths.js';
import { rejectionOf } from './helpers.js';

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'flowfill-diffusers-bad-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A fresh copy of a fixture model folder, changed by `damage`. */
async function damagedCopyAsync(model: 'sd35m_style' | 'sd3m_style_no_t5', damage: (dir: string) => Promise<void>): Promise<string> {
  const dir = await mkdtemp(path.join(scratch, `${model}-`));
  await cp(path.join(diffusersFixtureDir(), model), dir, { recursive: true });
  await damage(dir);
  return dir;
}

async function loadAsync(dir: string) {
  const engine = new Engine({ backend: 'wasm' });
  try {
    return await engine.loadModel({ kind: 'files', files: await openFolderAsync(dir), description: `the folder ${dir}` });
  } finally {
    await engine.dispose();
  }
}

async function editJson(file: string, edit: (value: Record<string, any>) => void): Promise<void> {
  const value = JSON.parse(await readFile(file, 'utf8'));
  edit(value);
  await writeFile(file, JSON.stringify(value));
}

test('a truncated shard is named, with the tensor that runs past its end', async () => {
  const dir = await damagedCopyAsync('sd35m_style', async (d) => {
    await truncate(path.join(d, 'transformer/diffusion_pytorch_model-00003-of-00006.safetensors'), 30_000);
  });
  const { code, message } = await rejectionOf(loadAsync(dir));
  expect(code).toBe('model-corrupt');
  expect(message).toMatch(
    /diffusion_pytorch_model-00003-of-00006\.safetensors is truncated: tensor "[^"]+" ends at byte \d+ but the file has 30000 bytes/,
  );
});

test('a missing shard is named, with how many tensors the index puts there', async () => {
  const dir = await damagedCopyAsync('sd35m_style', (d) => rm(path.join(d, 'text_encoder_3/model-00002-of-00006.safetensors')));
  const { code, message } = await rejectionOf(loadAsync(dir));
  expect(code).toBe('model-missing-file');
  expect(message).toMatch(
    /text_encoder_3\/model-00002-of-00006\.safetensors is missing; text_encoder_3\/model\.safetensors\.index\.json lists it for \d+ tensors/,
  );
});

test('an index naming a tensor its shard does not hold is named', async () => {
  const dir = await damagedCopyAsync('sd35m_style', (d) =>
    editJson(path.join(d, 'transformer/diffusion_pytorch_model.safetensors.index.json'), (index) => {
      index.weight_map['transformer_blocks.9.attn.to_q.weight'] = 'diffusion_pytorch_model-00001-of-00006.safetensors';
    }),
  );
  const { code, message } = await rejectionOf(loadAsync(dir));
  expect(code).toBe('model-corrupt');
  expect(message).toContain('puts tensor "transformer_blocks.9.attn.to_q.weight" in diffusion_pytorch_model-00001-of-00006.safetensors');
});

test('a weight whose shape disagrees with config.json names the tensor, its shape and the config', async () => {
  const dir = await damagedCopyAsync('sd3m_style_no_t5', (d) =>
    editJson(path.join(d, 'transformer/config.json'), (config) => {
      config.joint_attention_dim = 128;
    }),
  );
  const { code, message } = await rejectionOf(loadAsync(dir));
  expect(code).toBe('model-mismatch');
  expect(message).toMatch(/context_embedder\.weight" has shape \[32, 96\]; .*\[32, 128\]|joint_attention_dim/);
});

test.each([
  ['FluxPipeline', 'a FLUX folder'],
  ['StableDiffusionXLPipeline', 'an SDXL folder'],
])('an unknown _class_name (%s, %s) is refused, listing what runs', async (className) => {
  const dir = await damagedCopyAsync('sd3m_style_no_t5', (d) =>
    editJson(path.join(d, 'model_index.json'), (index) => {
      index._class_name = className;
    }),
  );
  const { code, message } = await rejectionOf(loadAsync(dir));
  expect(code).toBe('model-mismatch');
  expect(message).toContain(`_class_name "${className}"`);
  expect(message).toContain('StableDiffusion3Pipeline');
});

test('bfloat16 weights beyond float16 range refuse the fp16 conversion, naming the tensor', async () => {
  // Put 1e6 into the first element of a bf16 tensor: bf16 0x4974 ≈ 999 424.
  const dir = await damagedCopyAsync('sd3m_style_no_t5', async (d) => {
    const index = JSON.parse(await readFile(path.join(d, 'transformer/diffusion_pytorch_model.safetensors.index.json'), 'utf8'));
    const shard = path.join(d, 'transformer', index.weight_map['proj_out.weight']);
    const bytes = await readFile(shard);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    const start = 8 + headerLength + header['proj_out.weight'].data_offsets[0];
    expect(header['proj_out.weight'].dtype).toBe('BF16');
    bytes.writeUInt16LE(0x4974, start);
    await writeFile(shard, bytes);
  });
  const engine = new Engine({ backend: 'wasm' });
  const files = await openFolderAsync(dir);
  const { code, message } = await rejectionOf(engine.loadModel({ kind: 'files', files, description: dir, precision: 'fp16' }));
  await engine.dispose();
  expect(code).toBe('model-mismatch');
  expect(message).toMatch(/tensor "proj_out\.weight" has 1 value\(s\) beyond float16's range .*use fp32, int8 or int4/);
  // The same checkpoint converts fine at fp32.
  await expect(loadAsync(dir)).resolves.toMatchObject({ format: 'diffusers', precision: 'fp32' });
});

test('a conversion that fails half-way leaves no package and no partial folder', async () => {
  const dir = await damagedCopyAsync('sd35m_style', (d) =>
    truncate(path.join(d, 'vae/diffusion_pytorch_model-00020-of-00026.safetensors'), 1000),
  );
  const out = path.join(scratch, 'converted');
  const files = await openPackageAsync({ kind: 'files', files: await openFolderAsync(dir), description: dir });
  const sink = await createNodePackageSinkAsync(out);
  const { code, message } = await rejectionOf(convertDiffusersCheckpointAsync(files, sink, { precision: 'fp32' }));
  expect(code).toBe('model-corrupt');
  expect(message).toContain('diffusion_pytorch_model-00020-of-00026.safetensors');
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(scratch).filter((name) => name.startsWith('converted'))).toEqual([]);
});
