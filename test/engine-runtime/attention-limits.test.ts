/**
 * Never silently wrong on WebGPU: unfused attention whose score tensor exceeds the adapter's
 * maxStorageBufferBindingSize is refused before running, naming the limit and a size that fits.
 */
import { attentionScoreBytes, checkAttentionFitsGpu, countAttention, type AttentionSite } from '../../worker/engine/attention-limits.js';
import type { JobContext } from '../../worker/engine/model-family.js';
import type { OnnxGraphSummary } from '../../worker/engine/onnx-graph.js';
import { attentionSites, checkGpuLimits } from '../../worker/engine/sd3/attention-sites.js';
import type { Sd3Package } from '../../worker/engine/sd3/package.js';
import { checkRequest } from '../../worker/engine/sd3/pipeline.js';
import type { Sd3Runtime } from '../../worker/engine/sd3/runtime.js';
import { fixturePackageFiles, sd3PackageAsync } from './helpers.js';

let pkg: Sd3Package;

beforeAll(async () => {
  pkg = await sd3PackageAsync({ kind: 'files', files: await fixturePackageFiles() });
});

/** The checks need only the package and the backend; no session is run. */
function webgpuModel(): Sd3Runtime {
  return { pkg, backend: 'webgpu' } as Sd3Runtime;
}

function job(limit: number): JobContext {
  return { isCancelled: () => false, maxStorageBufferBindingSize: limit, notes: [] };
}

function request(width: number, height: number) {
  return { jobId: 'a', prompt: '', width, height, steps: 2, guidance: 4, seed: 1 };
}

test('the fixture transformer exports unfused attention (3 MatMul→Softmax), the VAE one mid-block attention', () => {
  expect(countAttention(pkg.transformer.graph.summary)).toEqual({ fused: 0, unfused: 3 });
  expect(countAttention(pkg.vaeDecoder.graph.summary)).toEqual({ fused: 0, unfused: 1 });
});

test('fused com.microsoft MultiHeadAttention counts as fused, not unfused', () => {
  const graph: OnnxGraphSummary = {
    opsets: [],
    inputs: [],
    outputs: [],
    externalDataFiles: [],
    nodes: [{ opType: 'MultiHeadAttention', domain: 'com.microsoft', inputs: ['q', 'k', 'v'], outputs: ['o'] }],
  };
  expect(countAttention(graph)).toEqual({ fused: 1, unfused: 0 });
});

test('score bytes at 256x256 with CFG: B·heads·T·T·4 with T = image tokens + text tokens', () => {
  const checked = checkRequest(pkg, request(256, 256));
  const [transformer, vae] = attentionSites(webgpuModel(), checked, true);
  // 256 px / 8 / 2 = 16 → 256 image tokens; no text encoder → 256 zero T5 tokens.
  expect(transformer).toMatchObject({ batch: 2, heads: 2, tokens: 512, fixedTokens: 256 });
  expect(attentionScoreBytes(transformer)).toBe(2 * 2 * 512 * 512 * 4);
  expect(vae).toMatchObject({ batch: 1, heads: 1, tokens: 32 * 32 });
});

test('a forced small limit refuses the size, naming the limit and the largest size that fits', () => {
  const limit = 3 * 2 ** 20; // 3 MiB; 256x256 with CFG needs 4 MiB
  const checked = checkRequest(pkg, request(256, 256));
  let message = '';
  try {
    checkGpuLimits(webgpuModel(), checked, true, job(limit));
  } catch (error) {
    message = (error as Error).message;
    expect((error as { code?: string }).code).toBe('size-exceeds-gpu-limits');
  }
  expect(message).toMatch(/256x256 needs a 4.0 MiB attention-score tensor in transformer\/model.onnx/);
  expect(message).toMatch(/maxStorageBufferBindingSize of 3.0 MiB/);
  const fit = /the largest 256:256 size that fits is (\d+)x(\d+)/.exec(message);
  expect(fit).not.toBeNull();
  const [w, h] = [Number(fit![1]), Number(fit![2])];
  expect((w % 16) + (h % 16)).toBe(0);
  // The suggested size really fits, and one grid step larger would not.
  const fits = (width: number, height: number) => {
    const sites = attentionSites(webgpuModel(), checkRequest(pkg, request(width, height)), true);
    return sites.every((site) => site.census.unfused === 0 || attentionScoreBytes(site) <= limit);
  };
  expect(fits(w, h)).toBe(true);
  expect(fits(w + 16, h + 16)).toBe(false);
});

test.each([
  [8 * 2 ** 20, 512, 512],
  [8 * 2 ** 20, 512, 256],
  [2 * 2 ** 20, 256, 448],
])('with a %d-byte limit, %dx%d is refused and the suggested size fits the transformer and the VAE', (limit, width, height) => {
  const fits = (w: number, h: number) =>
    attentionSites(webgpuModel(), checkRequest(pkg, request(w, h)), true).every((site) => attentionScoreBytes(site) <= limit);
  let message = '';
  try {
    checkGpuLimits(webgpuModel(), checkRequest(pkg, request(width, height)), true, job(limit));
  } catch (error) {
    message = (error as Error).message;
  }
  const fit = /size that fits is (\d+)x(\d+)/.exec(message);
  expect(fit).not.toBeNull();
  const [w, h] = [Number(fit![1]), Number(fit![2])];
  expect(fits(w, h)).toBe(true);
  expect(Math.abs(w / h - width / height) / (width / height)).toBeLessThan(0.15);
});

test('the same size passes under the real-world default limit, on WASM, and without CFG when it fits', () => {
  const checked = checkRequest(pkg, request(256, 256));
  expect(() => checkGpuLimits(webgpuModel(), checked, true, job(128 * 2 ** 20))).not.toThrow();
  expect(() => checkGpuLimits({ pkg, backend: 'wasm' } as Sd3Runtime, checked, true, job(1024))).not.toThrow();
  // At 192x192 (T = 144 + 256): 2.4 MiB of scores with CFG, 1.2 MiB without; the VAE needs 1.3 MiB.
  const small = checkRequest(pkg, request(192, 192));
  expect(() => checkGpuLimits(webgpuModel(), small, true, job(2 * 2 ** 20))).toThrow(/size-exceeds-gpu-limits/);
  expect(() => checkGpuLimits(webgpuModel(), small, false, job(2 * 2 ** 20))).not.toThrow();
});

test('a fused site never trips the check, however small the limit', () => {
  const site: AttentionSite = { label: 'x', census: { fused: 2, unfused: 0 }, batch: 2, heads: 24, tokens: 5000, fixedTokens: 333 };
  expect(() => checkAttentionFitsGpu([site], { width: 1024, height: 1024, sizeMultiple: 16 }, 1)).not.toThrow();
});
