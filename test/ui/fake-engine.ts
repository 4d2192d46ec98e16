/**
 * A test double of EngineApi for the UI's queue and controller tests: it honours the contract
 * (progress per step with a preview, cancel by jobId, errors with "[code]" prefixes as the real
 * engine's EngineError) and returns real PNG bytes (fast-png) whose colour encodes the seed, so a
 * test can check which request produced which image. The real engine is exercised by the engine
 * and browser suites.
 */
import { encode } from 'fast-png';
import type {
  BackendPreference,
  Capabilities,
  EngineApi,
  GenerationProgress,
  GenerationRequest,
  GenerationResult,
  LoadProgress,
  ModelInfo,
  ModelSource,
  PromptCheck,
} from '../../common/engine-types.js';

export const FAKE_MODEL: ModelInfo = {
  id: 'fake-tiny',
  name: 'Fake Tiny SD3',
  hash: 'cd'.repeat(32),
  backend: 'wasm',
  nativeSize: 256,
  maxSide: 1024,
  sizeMultiple: 16,
  hasTextEncoder: true,
  supportsImageToImage: true,
  notes: ['test double'],
  recommended: { steps: 20, guidance: 4.5 },
};

/** The colour the fake paints for a seed: distinct for neighbouring seeds. */
export function colourForSeed(seed: number): [number, number, number] {
  return [seed & 0xff, (seed >>> 8) & 0xff, (seed * 7 + 13) & 0xff];
}

export function solidPng(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) {
    data[i] = rgb[0];
    data[i + 1] = rgb[1];
    data[i + 2] = rgb[2];
    data[i + 3] = 255;
  }
  return encode({ width, height, data, channels: 4, depth: 8 });
}

/** Lets the event loop run, like the real worker's round trips do. */
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export class FakeEngine implements EngineApi {
  readonly requests: GenerationRequest[] = [];
  readonly cancelCalls: string[] = [];
  /** Prompts containing this text fail with an invalid-request error. */
  failWhenPromptIncludes = 'FAIL';
  /** Pause before each step, ms; 0 yields one event-loop turn (unit tests), more paces a browser test. */
  stepDelayMs = 0;
  loadError: Error | undefined;
  model: ModelInfo = FAKE_MODEL;
  /** Every backend preference the panel handed over, and every model load, in order. */
  readonly events: string[] = [];
  private active = 0;
  maxConcurrent = 0;
  private readonly cancelled = new Set<string>();
  /** While set, loading and each generation step wait until released. */
  private gate: { promise: Promise<void>; release: () => void } | undefined;

  /** Words checkPrompt reports as unknown to the model (lower-case), and every prompt it was asked about. */
  unknownWords = new Set<string>();
  readonly checkedPrompts: string[] = [];
  /** Pause before checkPrompt answers, ms (to make answers arrive out of order). */
  checkDelayMs = (_prompt: string) => 0;

  async checkPrompt(prompt: string): Promise<PromptCheck> {
    this.checkedPrompts.push(prompt);
    await new Promise<void>((resolve) => setTimeout(resolve, this.checkDelayMs(prompt)));
    const words = prompt.toLowerCase().split(/[^\p{L}\p{N}]+/u);
    return { unknownWords: [...new Set(words.filter((w) => this.unknownWords.has(w)))], truncated: false };
  }

  async setBackendPreference(preference: BackendPreference): Promise<void> {
    this.events.push(`prefer ${preference}`);
  }

  async capabilities(): Promise<Capabilities> {
    return { backend: 'wasm', backendReason: 'test double', shaderF16: false, fallbackReason: 'test double' };
  }

  async loadModel(source: ModelSource, onProgress?: (p: LoadProgress) => void): Promise<ModelInfo> {
    if (source.kind !== 'embedded') throw new Error(`[invalid-request] fake loads only the embedded model, not ${source.kind}`);
    this.events.push('load');
    onProgress?.({ file: 'transformer/model.onnx', loadedBytes: 10, totalBytes: 10 });
    await tick();
    if (this.gate) await this.gate.promise;
    if (this.loadError) throw this.loadError;
    return this.model;
  }

  /** Makes model loading and generation pause (before every step) until `release()`. */
  hold(): void {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.gate = { promise, release };
  }

  release(): void {
    const gate = this.gate;
    this.gate = undefined;
    gate?.release();
  }

  async generate(request: GenerationRequest, onProgress?: (p: GenerationProgress) => void): Promise<GenerationResult> {
    this.requests.push(request);
    this.active++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.active);
    try {
      if (request.prompt.includes(this.failWhenPromptIncludes)) {
        await tick();
        throw new Error(`[invalid-request] prompt "${request.prompt}" was refused by the fake engine`);
      }
      for (let step = 1; step <= request.steps; step++) {
        await (this.stepDelayMs > 0 ? new Promise<void>((resolve) => setTimeout(resolve, this.stepDelayMs)) : tick());
        if (this.gate) await this.gate.promise;
        if (this.cancelled.has(request.jobId)) throw new Error(`[cancelled] job ${request.jobId} was cancelled at step ${step}`);
        const preview = { rgba: new Uint8Array(4 * 4 * 4).fill(step), width: 4, height: 4 };
        onProgress?.({ jobId: request.jobId, step, total: request.steps, elapsedMs: step, preview });
      }
      const { init, jobId: _jobId, ...settings } = request;
      return {
        jobId: request.jobId,
        png: solidPng(request.width, request.height, colourForSeed(request.seed)),
        width: request.width,
        height: request.height,
        seed: request.seed,
        settings: { ...settings, hasInit: init !== undefined },
        timings: { textEncodeMs: 1, denoiseStepMs: Array(request.steps).fill(1), vaeDecodeMs: 1, totalMs: request.steps + 2 },
        backend: 'wasm',
        modelId: this.model.id,
        modelHash: this.model.hash,
        notes: [],
      };
    } finally {
      this.active--;
    }
  }

  async cancel(jobId: string): Promise<void> {
    this.cancelCalls.push(jobId);
    this.cancelled.add(jobId);
  }
}

/** Waits (yielding to the event loop) until the condition holds; fails after many turns. */
export async function waitUntil(condition: () => boolean, what: string, turns = 2000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (condition()) return;
    await tick();
  }
  throw new Error(`gave up waiting until ${what}`);
}
