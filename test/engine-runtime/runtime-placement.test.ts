/**
 * Where a runtime puts its graphs: small text encoders on WASM beside a WebGPU transformer, big
 * ones with the transformer, the VAE encoder only once image-to-image asks for it, and CFG as two
 * batch-1 transformer calls landing within the same golden tolerances as one batch-2 call.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { graphFromBytes } from '../../worker/engine/graph-file.js';
import { openPackageAsync } from '../../worker/engine/package-source.js';
import { readSd3PackageFilesAsync } from '../../worker/engine/sd3/read-sd3-package-files.js';
import {
  createSd3RuntimeAsync,
  placeTextEncoder,
  releaseSd3RuntimeAsync,
  SMALL_TEXT_ENCODER_BYTES,
  vaeEncoderSessionAsync,
} from '../../worker/engine/sd3/runtime.js';
import { PARITY_TOLERANCES, runParityAsync } from '../../worker/parity/run-parity.js';
import { modelFolderSourceAsync, DEFAULT_MODEL_DIR } from '../../worker/cli/node-host.js';
import { FIXTURE_DIR } from './helpers.js';

describe('text encoder placement', () => {
  const defaultEncoder = async () =>
    graphFromBytes('text_encoder/model.onnx', new Uint8Array(await readFile(path.join(DEFAULT_MODEL_DIR, 'text_encoder/model.onnx'))));

  test('under auto, a small encoder runs on WASM beside a WebGPU transformer, and with it on WASM', async () => {
    const graph = await defaultEncoder();
    expect(graph.model.byteLength).toBeLessThan(SMALL_TEXT_ENCODER_BYTES);
    expect(placeTextEncoder(graph, 'webgpu')).toMatchObject({ backend: 'wasm', reason: expect.stringMatching(/small/) });
    expect(placeTextEncoder(graph, 'wasm').backend).toBe('wasm');
    expect(placeTextEncoder(graph, 'webgpu', 'transformer').backend).toBe('webgpu');
  });

  test('a big encoder (weights in external data past the threshold) stays with the transformer', async () => {
    const graph = await defaultEncoder();
    const big = { ...graph, externalData: [{ path: 'model.onnx_data', data: new Blob([new Uint8Array(SMALL_TEXT_ENCODER_BYTES)]) }] };
    expect(placeTextEncoder(big, 'webgpu')).toMatchObject({ backend: 'webgpu', reason: expect.stringMatching(/same backend/) });
    expect(placeTextEncoder(big, 'webgpu', 'wasm').backend).toBe('wasm');
  });
});

test('the VAE encoder session is made by the first image-to-image need, not at load', async () => {
  const pkg = await readSd3PackageFilesAsync(await openPackageAsync(await modelFolderSourceAsync(DEFAULT_MODEL_DIR)));
  expect(pkg.vaeEncoder).toBeDefined();
  const runtime = await createSd3RuntimeAsync(pkg, 'wasm');
  try {
    expect(runtime.vaeEncoder).toBeUndefined();
    const session = await vaeEncoderSessionAsync(runtime);
    expect(session?.inputNames).toEqual(['sample']);
    expect(await vaeEncoderSessionAsync(runtime)).toBe(session);
  } finally {
    await releaseSd3RuntimeAsync(runtime);
  }
}, 120_000);

test('CFG as two batch-1 transformer calls matches every golden case within the WASM tolerances', async () => {
  const report = await runParityAsync({
    readFile: async (rel) => new Uint8Array(await readFile(path.join(FIXTURE_DIR, rel))),
    backend: 'wasm',
    runtime: { cfgCalls: 'split' },
  });
  const t = PARITY_TOLERANCES.wasm;
  for (const c of report.cases) {
    expect({ name: c.name, failures: c.failures }).toEqual({ name: c.name, failures: [] });
    expect(c.latentsPerStep).toBeLessThanOrEqual(t.latents);
  }
  expect(report.pass).toBe(true);
}, 120_000);
