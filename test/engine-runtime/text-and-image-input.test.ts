/**
 * The parts the golden fixtures lack, on small real ONNX graphs (extended-package.ts): prompt
 * encoding through a CLIP-style text encoder and tokenizer, image-to-image through a VAE encoder
 * whose weights live in external data.
 */
import type { GenerationRequest, ModelInfo } from '../../common/engine-types.js';
import { createEngine, type Engine } from '../../worker/engine/engine.js';
import { createSd3RuntimeAsync, releaseSd3RuntimeAsync } from '../../worker/engine/sd3/runtime.js';
import { encodePromptAsync } from '../../worker/engine/sd3/text-encoding.js';
import { CLIP_HIDDEN, CLIP_LENGTH, extendedPackageFiles, T5_ZERO_LENGTH, TABLE, textEncoderGraph, VOCAB } from './extended-package.js';
import { rejectionOf, sd3PackageAsync } from './helpers.js';

let files: Record<string, Uint8Array>;
let engine: Engine;
let info: ModelInfo;

beforeAll(async () => {
  files = await extendedPackageFiles();
  engine = createEngine({ backend: 'wasm' });
  info = await engine.loadModel({ kind: 'files', files });
}, 60_000);

test('ModelInfo reports the text encoder, image-to-image and the recommended settings of flowfill.json', () => {
  expect(info).toMatchObject({
    name: 'Extended tiny',
    hasTextEncoder: true,
    supportsImageToImage: true,
    recommended: { steps: 12, guidance: 3.5 },
  });
});

afterAll(async () => {
  await engine.dispose();
});

function request(overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return { jobId: 'job', prompt: 'a red rocket', width: 128, height: 128, steps: 3, guidance: 4, seed: 11, ...overrides };
}

function gradient(width: number, height: number): Uint8Array {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rgba.set([(x * 255) / width, (y * 255) / height, 128, 255], (y * width + x) * 4);
  }
  return rgba;
}

describe('text encoding', () => {
  test('SD3 assembly: penultimate hidden state padded to joint_attention_dim, zero T5 block, [negative, prompt], pooled text_embeds', async () => {
    const pkg = await sd3PackageAsync({ kind: 'files', files });
    const runtime = await createSd3RuntimeAsync(pkg, 'wasm');
    try {
      const c = await encodePromptAsync(runtime, 'a RED rocket', '', true);
      const D = pkg.transformer.config.joint_attention_dim;
      const P = pkg.transformer.config.pooled_projection_dim;
      expect([c.batch, c.sequenceLength]).toEqual([2, CLIP_LENGTH + T5_ZERO_LENGTH]);
      const id = (t: string) => VOCAB.indexOf(t);
      const rows = {
        // BOS … EOS, padded with the pad token (EOS) to model_max_length.
        0: [id('<|startoftext|>'), ...Array(CLIP_LENGTH - 1).fill(id('<|endoftext|>'))],
        1: [id('<|startoftext|>'), id('a'), id('red'), id('rocket'), ...Array(CLIP_LENGTH - 4).fill(id('<|endoftext|>'))],
      };
      const { projection } = textEncoderGraph(P);
      for (const [b, ids] of Object.entries(rows).map(([b, ids]) => [Number(b), ids] as const)) {
        const pooled = new Float64Array(P);
        for (let s = 0; s < c.sequenceLength; s++) {
          for (let k = 0; k < D; k++) {
            const got = c.embeds[(b * c.sequenceLength + s) * D + k];
            const hidden = s < CLIP_LENGTH && k < CLIP_HIDDEN ? Math.tanh(TABLE[ids[s] * CLIP_HIDDEN + k]) : 0;
            expect(got).toBeCloseTo(hidden, 5);
          }
        }
        for (let s = 0; s < CLIP_LENGTH; s++) {
          for (let k = 0; k < CLIP_HIDDEN; k++) {
            const last = 2 * Math.tanh(TABLE[ids[s] * CLIP_HIDDEN + k]);
            for (let p = 0; p < P; p++) pooled[p] += (last / CLIP_LENGTH) * projection[k * P + p];
          }
        }
        for (let p = 0; p < P; p++) expect(c.pooled[b * P + p]).toBeCloseTo(pooled[p], 4);
      }
    } finally {
      await releaseSd3RuntimeAsync(runtime);
    }
  }, 60_000);

  test('the prompt steers the image: same prompt, same bytes; another prompt, other bytes', async () => {
    const first = await engine.generate(request({ jobId: 't1' }));
    const again = await engine.generate(request({ jobId: 't2' }));
    const other = await engine.generate(request({ jobId: 't3', prompt: 'a blue cat' }));
    expect(Buffer.from(again.png).equals(Buffer.from(first.png))).toBe(true);
    expect(Buffer.from(other.png).equals(Buffer.from(first.png))).toBe(false);
    expect(first.notes.join('\n')).not.toMatch(/no text encoder/);
  }, 60_000);

  test('a prompt longer than the tokenizer allows is cut, and the result says so', async () => {
    const long = Array(20).fill('rocket').join(' ');
    const result = await engine.generate(request({ jobId: 't4', prompt: long, steps: 1 }));
    expect(result.notes).toContain(`the prompt is longer than text_encoder's ${CLIP_LENGTH} tokens; the rest was cut off`);
    const short = await engine.generate(request({ jobId: 't5', steps: 1 }));
    expect(short.notes.join('\n')).not.toMatch(/cut off/);
  }, 60_000);
});

describe('image-to-image', () => {
  test('strength 0.6 of 5 steps runs the last 3, encodes the init image and says how', async () => {
    const totals: number[] = [];
    const init = { rgba: gradient(128, 128), width: 128, height: 128 };
    const result = await engine.generate(request({ jobId: 'i1', steps: 5, init, strength: 0.6 }), (p) => totals.push(p.total));
    expect(new Set(totals)).toEqual(new Set([3]));
    expect(result.timings.denoiseStepMs).toHaveLength(3);
    expect(result.timings.vaeEncodeMs).toBeGreaterThanOrEqual(0);
    expect(result.settings).toMatchObject({ hasInit: true, strength: 0.6 });
    expect(result.notes.join('\n')).toMatch(/posterior mean/);
    const again = await engine.generate(request({ jobId: 'i2', steps: 5, init, strength: 0.6 }));
    expect(Buffer.from(again.png).equals(Buffer.from(result.png))).toBe(true);
  }, 60_000);

  test('strength 1 starts from pure noise: the image equals text-to-image with the same seed', async () => {
    const init = { rgba: gradient(128, 128), width: 128, height: 128 };
    const fromImage = await engine.generate(request({ jobId: 'i3', init, strength: 1 }));
    const fromText = await engine.generate(request({ jobId: 'i4' }));
    expect(Buffer.from(fromImage.png).equals(Buffer.from(fromText.png))).toBe(true);
  }, 60_000);

  test('the init image matters below strength 1, and is resized to the generation size', async () => {
    const a = await engine.generate(
      request({ jobId: 'i5', init: { rgba: gradient(128, 128), width: 128, height: 128 }, strength: 0.5, steps: 4 }),
    );
    const flipped = gradient(128, 128).reverse();
    const b = await engine.generate(request({ jobId: 'i6', init: { rgba: flipped, width: 128, height: 128 }, strength: 0.5, steps: 4 }));
    expect(Buffer.from(a.png).equals(Buffer.from(b.png))).toBe(false);
    const resized = await engine.generate(
      request({ jobId: 'i7', init: { rgba: gradient(200, 100), width: 200, height: 100 }, strength: 0.5, steps: 4 }),
    );
    expect(resized.notes.join('\n')).toMatch(/init image 200x100 resized bilinearly to 128x128/);
  }, 60_000);

  test('an init image whose byte count does not match its size is refused', async () => {
    const { code, message } = await rejectionOf(
      engine.generate(request({ jobId: 'i8', init: { rgba: new Uint8Array(10), width: 4, height: 4 } })),
    );
    expect(code).toBe('invalid-request');
    expect(message).toMatch(/init.rgba has 10 bytes; a 4x4 RGBA image has 64 bytes/);
  });

  test('a graph whose external data file is missing is model-missing-file naming it', async () => {
    const copy = { ...files };
    delete copy['vae_encoder/model.onnx_data'];
    const { code, message } = await rejectionOf(sd3PackageAsync({ kind: 'files', files: copy }));
    expect(code).toBe('model-missing-file');
    expect(message).toContain('vae_encoder/model.onnx_data is missing');
  });
});
