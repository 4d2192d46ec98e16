/**
 * The engine end to end on the golden fixture package (WASM in Node): determinism, sizes from the
 * planner, request validation, cancel, and the fallbacks proved with injected backend faults.
 */
import type { GenerationProgress, GenerationRequest } from '../../common/engine-types.js';
import { planGenerationSize } from '../../common/resolution-planner.js';
import { createEngine, type Engine } from '../../worker/engine/engine.js';
import { injectBackendFault, liveTensorCount, resetBackendStateForTests } from '../../worker/engine/ort-backend.js';
import { decodePng } from '../../worker/engine/png.js';
import { fixturePackageFiles, rejectionOf } from './helpers.js';

let engine: Engine;

/**
 * Gives this Node process a navigator.gpu whose one adapter has the given name, as a browser's
 * GPUAdapter describes itself (no device can be created from it). Returns the undo.
 */
function provideAdapter(info: { vendor: string; architecture: string; description: string; isFallbackAdapter?: boolean }): () => void {
  const adapter = {
    features: new Set<string>(),
    limits: { maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 40 },
    info: { isFallbackAdapter: false, ...info },
  };
  const previous = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', {
    value: { gpu: { requestAdapter: async () => adapter } },
    configurable: true,
    writable: true,
  });
  return () => {
    if (previous) Object.defineProperty(globalThis, 'navigator', previous);
    else delete (globalThis as { navigator?: unknown }).navigator;
  };
}
let files: Record<string, Uint8Array>;
const geometry = { nativeSize: 0, maxSide: 0, sizeMultiple: 0 };

function request(overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return { jobId: 'job', prompt: 'a rocket', width: 128, height: 128, steps: 3, guidance: 4, seed: 7, ...overrides };
}

beforeAll(async () => {
  files = await fixturePackageFiles();
  engine = createEngine({ backend: 'wasm' });
  const info = await engine.loadModel({ kind: 'files', files });
  Object.assign(geometry, { nativeSize: info.nativeSize, maxSide: info.maxSide, sizeMultiple: info.sizeMultiple });
}, 60_000);

afterAll(async () => {
  await engine.dispose();
});

afterEach(() => {
  resetBackendStateForTests();
});

describe('model info', () => {
  test('comes from the configs and says the model is unconditional', async () => {
    const info = await engine.loadModel({ kind: 'files', files });
    expect(info).toMatchObject({
      backend: 'wasm',
      nativeSize: 256,
      maxSide: 512,
      sizeMultiple: 16,
      hasTextEncoder: false,
      supportsImageToImage: false,
    });
    expect(info.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(info.notes.join('\n')).toMatch(/no text encoder/);
  }, 60_000);
});

describe('determinism and aspect ratios', () => {
  test('the same seed twice gives identical PNG bytes; another seed does not', async () => {
    const first = await engine.generate(request({ jobId: 'd1' }));
    const second = await engine.generate(request({ jobId: 'd2' }));
    const other = await engine.generate(request({ jobId: 'd3', seed: 8 }));
    expect(Buffer.from(second.png).equals(Buffer.from(first.png))).toBe(true);
    expect(Buffer.from(other.png).equals(Buffer.from(first.png))).toBe(false);
    expect(first.timings.denoiseStepMs).toHaveLength(3);
  }, 60_000);

  test('loading and generating never draw from Math.random: the seed alone decides the noise', async () => {
    const original = Math.random;
    Math.random = () => {
      throw new Error('Math.random was called');
    };
    const fresh = createEngine({ backend: 'wasm' });
    try {
      await fresh.loadModel({ kind: 'files', files });
      await fresh.generate(request({ jobId: 'no-random', steps: 1 }));
    } finally {
      Math.random = original;
      await fresh.dispose();
    }
  }, 60_000);

  test.each([
    ['1:1', 1, 1],
    ['16:9', 16, 9],
    ['9:16', 9, 16],
  ])(
    '%s at the planned size gives a PNG of exactly that size',
    async (_label, fw, fh) => {
      const planned = planGenerationSize(fw * 100, fh * 100, geometry);
      const result = await engine.generate(request({ jobId: `ar-${fw}x${fh}`, width: planned.width, height: planned.height, steps: 2 }));
      expect([result.width, result.height]).toEqual([planned.width, planned.height]);
      const png = decodePng(result.png);
      expect([png.width, png.height]).toEqual([planned.width, planned.height]);
      expect(result.notes.join('\n')).not.toMatch(/not a multiple/);
    },
    60_000,
  );
});

describe('request validation', () => {
  test('a size off the 16 px grid is rounded to it, and the result says so', async () => {
    const result = await engine.generate(request({ jobId: 'grid', width: 100, height: 70, steps: 1 }));
    expect([result.width, result.height]).toEqual([96, 64]);
    expect(result.settings).toMatchObject({ width: 96, height: 64 });
    expect(result.notes.join('\n')).toMatch(/width 100 is not a multiple of 16; using 96/);
  }, 60_000);

  test.each([
    ['zero width', { width: 0 }, /width/],
    ['negative height', { height: -64 }, /height/],
    ['NaN width', { width: NaN }, /width/],
    ['wider than the positional grid', { width: 640 }, /width 640.*largest width is 512/],
    ['beyond 4096 px', { height: 5000 }, /height 5000/],
    ['zero steps', { steps: 0 }, /steps 0 must be an integer from 1 to 200/],
    ['201 steps', { steps: 201 }, /steps 201/],
    ['fractional steps', { steps: 2.5 }, /steps 2.5/],
    ['negative guidance', { guidance: -1 }, /guidance -1/],
    ['strength without an init image', { strength: 0.5 }, /strength 0.5 needs an init image/],
    ['a seed beyond uint32', { seed: 2 ** 32 }, /seed 4294967296/],
    ['a non-positive shift', { shift: 0 }, /shift 0/],
  ])('%s is an invalid-request error naming the field', async (_label, overrides, message) => {
    const { code, message: text } = await rejectionOf(engine.generate(request({ jobId: 'bad', ...overrides })));
    expect(code).toBe('invalid-request');
    expect(text).toMatch(message);
  });

  test.each([
    ['strength 0', 0],
    ['strength above 1', 1.5],
  ])('%s with an init image is refused', async (_label, strength) => {
    const init = { rgba: new Uint8Array(64 * 64 * 4), width: 64, height: 64 };
    const { code, message } = await rejectionOf(engine.generate(request({ jobId: 'st', init, strength })));
    expect(code).toBe('invalid-request');
    expect(message).toMatch(/strength .* must be in \(0, 1\]/);
  });

  test('an init image on a model without vae_encoder is refused, naming the missing file', async () => {
    const init = { rgba: new Uint8Array(64 * 64 * 4), width: 64, height: 64 };
    const { code, message } = await rejectionOf(engine.generate(request({ jobId: 'noenc', init, strength: 0.6 })));
    expect(code).toBe('invalid-request');
    expect(message).toMatch(/vae_encoder\/model.onnx/);
  });

  test('an empty prompt is allowed (unconditional image)', async () => {
    const result = await engine.generate(request({ jobId: 'empty', prompt: '', steps: 1 }));
    expect(result.png.length).toBeGreaterThan(0);
    expect(result.settings.prompt).toBe('');
  }, 60_000);
});

describe('prompt check', () => {
  test('answers from the package while a job runs, without waiting for it; with no model it is refused', async () => {
    let stepsSeenWhenAnswered = -1;
    let steps = 0;
    const running = engine.generate(request({ jobId: 'pc1', steps: 3 }), () => steps++);
    // The fixture is unconditional (no text encoder): no word can be unknown to it.
    const check = await engine.checkPrompt('a zorbly rocket').then((answer) => {
      stepsSeenWhenAnswered = steps;
      return answer;
    });
    expect(check).toEqual({ unknownWords: [], truncated: false });
    await running;
    expect(stepsSeenWhenAnswered).toBeLessThan(3);
    const { code, message } = await rejectionOf(createEngine({ backend: 'wasm' }).checkPrompt('rocket'));
    expect(code).toBe('invalid-request');
    expect(message).toMatch(/no model is loaded/);
  }, 60_000);
});

describe('cancel', () => {
  test('cancel mid-run stops within one step, returns no result, leaks no tensor, and the next job runs', async () => {
    const steps: number[] = [];
    const onProgress = (p: GenerationProgress): void => {
      steps.push(p.step);
      if (p.step === 2) void engine.cancel('c1');
    };
    const { code } = await rejectionOf(engine.generate(request({ jobId: 'c1', steps: 10 }), onProgress));
    expect(code).toBe('cancelled');
    expect(steps).toEqual([1, 2]);
    expect(liveTensorCount()).toBe(0);
    const next = await engine.generate(request({ jobId: 'c2', steps: 1 }));
    expect(next.jobId).toBe('c2');
  }, 60_000);

  test('a queued job cancelled before it starts never runs', async () => {
    const running = engine.generate(request({ jobId: 'q1', steps: 2 }));
    const queued = engine.generate(request({ jobId: 'q2', steps: 2 }));
    await engine.cancel('q2');
    await expect(running).resolves.toMatchObject({ jobId: 'q1' });
    const { code, message } = await rejectionOf(queued);
    expect(code).toBe('cancelled');
    expect(message).toMatch(/before it started/);
  }, 60_000);

  test('progress reports every step with a preview at latent resolution', async () => {
    const seen: GenerationProgress[] = [];
    await engine.generate(request({ jobId: 'p', width: 128, height: 64, steps: 3 }), (p) => seen.push(p));
    expect(seen.map((p) => [p.step, p.total])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    expect(seen[0].preview).toMatchObject({ width: 16, height: 8 });
    expect(seen[0].preview!.rgba).toHaveLength(16 * 8 * 4);
  }, 60_000);
});

describe('backend faults', () => {
  test('a GPU device lost mid-run fails that job with gpu-device-lost; the next job runs', async () => {
    // Each step runs the transformer, then the Euler step graph: the third run is step 2's transformer.
    injectBackendFault({ kind: 'device-lost', afterRuns: 2 });
    const { code, message } = await rejectionOf(engine.generate(request({ jobId: 'lost', steps: 4 })));
    expect(code).toBe('gpu-device-lost');
    expect(message).toMatch(/transformer\/model.onnx/);
    expect(liveTensorCount()).toBe(0);
    const next = await engine.generate(request({ jobId: 'after-lost', steps: 1 }));
    expect(next.backend).toBe('wasm');
  }, 60_000);

  test('when WebGPU sessions cannot be created the model loads on WASM and says why', async () => {
    injectBackendFault({ kind: 'webgpu-session-create' });
    // Node has no WebGPU here: hand the engine the adapter description a browser would.
    const restore = provideAdapter({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA A100' });
    const gpuEngine = createEngine({ backend: 'webgpu' });
    try {
      const info = await gpuEngine.loadModel({ kind: 'files', files });
      expect(info.backend).toBe('wasm');
      expect(info.notes.join('\n')).toMatch(/running on WASM: WebGPU session creation failed \(injected fault/);
      const result = await gpuEngine.generate(request({ jobId: 'fallback', steps: 1 }));
      expect(result.backend).toBe('wasm');
      expect(result.notes.join('\n')).toMatch(/running on WASM: WebGPU session creation failed/);
      expect((await gpuEngine.capabilities()).fallbackReason).toMatch(/WebGPU session creation failed/);
    } finally {
      restore();
      await gpuEngine.dispose();
    }
  }, 60_000);
});

describe('backend choice', () => {
  test('without a WebGPU adapter, capabilities say wasm and why, even when WebGPU is asked for', async () => {
    for (const backend of ['auto', 'webgpu'] as const) {
      const caps = await createEngine({ backend }).capabilities();
      expect(caps).toMatchObject({ backend: 'wasm', fallbackReason: expect.stringMatching(/no navigator.gpu/) });
      expect(caps.adapter).toBeUndefined();
    }
  });

  test('a software adapter is passed over for WASM unless WebGPU is asked for; the reason names it', async () => {
    const restore = provideAdapter({ vendor: 'google', architecture: 'swiftshader', description: '' });
    try {
      const auto = await createEngine().capabilities();
      expect(auto).toMatchObject({ backend: 'wasm', adapter: { software: true, vendor: 'google' } });
      expect(auto.backendReason).toBe(
        'the only WebGPU adapter, google swiftshader, is a software rasteriser, slower than WASM (ask for the webgpu backend to use it anyway)',
      );
      expect(auto.fallbackReason).toBe(auto.backendReason);
      const asked = await createEngine({ backend: 'webgpu' }).capabilities();
      expect(asked).toMatchObject({
        backend: 'webgpu',
        backendReason: 'WebGPU was asked for; its adapter, google swiftshader, is a software rasteriser',
      });
      expect(asked.fallbackReason).toBeUndefined();
    } finally {
      restore();
    }
  });

  test('a hardware adapter is chosen under auto, and a loaded model says where it runs and why', async () => {
    const restore = provideAdapter({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' });
    try {
      expect(await createEngine().capabilities()).toMatchObject({
        backend: 'webgpu',
        backendReason: 'WebGPU on nvidia hopper (NVIDIA H200)',
      });
    } finally {
      restore();
    }
    const info = await engine.loadModel({ kind: 'files', files });
    expect(info.notes).toContain('running on WASM: the WASM backend was asked for');
  }, 60_000);
});

describe('never silently wrong', () => {
  test('a NaN from a graph stops the job with an error naming the graph and step', async () => {
    const { throwIfNotFinite } = await import('../../worker/engine/sd3/pipeline.js');
    const values = new Float32Array([0.5, NaN, 1]);
    expect(() => throwIfNotFinite(values, 'transformer/model.onnx output at step 3')).toThrow(
      /\[internal\] transformer\/model.onnx output at step 3 contains NaN at index 1/,
    );
    expect(() => throwIfNotFinite(new Float32Array([1, -2, 3]), 'x')).not.toThrow();
  });
});

describe('never silently wrong, end to end', () => {
  test('a transformer that returns Inf fails the job naming the graph, instead of writing a broken image', async () => {
    const { buildOnnxModel, FLOAT } = await import('./onnx-builder.js');
    // Same I/O as the fixture transformer; the output is hidden_states / 0 = ±Inf.
    const { model } = buildOnnxModel({
      inputs: [
        { name: 'hidden_states', elemType: FLOAT, shape: ['batch', 16, 'height', 'width'] },
        { name: 'timestep', elemType: FLOAT, shape: ['batch'] },
        { name: 'encoder_hidden_states', elemType: FLOAT, shape: ['batch', 'sequence', 32] },
        { name: 'pooled_projections', elemType: FLOAT, shape: ['batch', 64] },
      ],
      outputs: [{ name: 'out_hidden_states', elemType: FLOAT, shape: ['batch', 16, 'height', 'width'] }],
      nodes: [{ op: 'Div', inputs: ['hidden_states', 'zero'], outputs: ['out_hidden_states'] }],
      initializers: [{ name: 'zero', dims: [], values: new Float32Array([0]) }],
    });
    const broken = createEngine({ backend: 'wasm' });
    try {
      await broken.loadModel({ kind: 'files', files: { ...files, 'transformer/model.onnx': model } });
      const { code, message } = await rejectionOf(broken.generate(request({ jobId: 'inf', steps: 2 })));
      expect(code).toBe('internal');
      expect(message).toMatch(/transformer\/model.onnx output at step 1 .* on wasm contains -?Infinity/);
    } finally {
      await broken.dispose();
    }
  }, 60_000);
});
