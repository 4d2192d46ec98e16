import type { GenerationResult } from '../../common/engine-types.js';
import type { PlannedJob } from '../../common/protocol.js';
import { validateProvenance, type ProvenanceRecord } from '../../common/provenance.js';
import { describeEngineError } from '../../ui/engine-errors.js';
import { engineJobsFromPlan, provenanceFor, seedForVariation } from '../../ui/plan-jobs.js';
import { createDefaultSettings } from '../../ui/settings.js';

const settings = { ...createDefaultSettings(100), prompt: 'owl', negativePrompt: 'text', steps: 8, guidance: 3, strength: 0.7 };
const record: ProvenanceRecord = {
  format: 'flowfill-provenance',
  version: 1,
  prompt: 'rocket',
  negativePrompt: '',
  seed: 101,
  steps: 30,
  guidance: 6,
  width: 512,
  height: 512,
  model: { id: 'm', hash: 'h' },
  backend: 'wasm',
  createdAt: '2026-01-31T12:00:00.000Z',
};
const base = { target: { width: 100, height: 100 }, gen: { width: 256, height: 192 }, notes: [] };

describe('engineJobsFromPlan', () => {
  test('fills take the panel settings with consecutive seeds and the planned size', () => {
    const jobs = engineJobsFromPlan(
      [
        { ...base, jobId: 'a', kind: 'fill', nodeId: '1', nodeName: 'A' },
        { ...base, jobId: 'b', kind: 'new-frame', nodeId: null, nodeName: 'B' },
      ],
      settings,
    );
    expect(jobs.map((j) => j.request)).toEqual([
      { prompt: 'owl', negativePrompt: 'text', steps: 8, guidance: 3, width: 256, height: 192, seed: 100 },
      { prompt: 'owl', negativePrompt: 'text', steps: 8, guidance: 3, width: 256, height: 192, seed: 101 },
    ]);
    expect(jobs.map((j) => j.label)).toEqual(['A', 'B']);
  });

  test('regenerate reproduces the record exactly, ignoring the panel', () => {
    const [job] = engineJobsFromPlan([{ ...base, jobId: 'r', kind: 'regenerate', nodeId: '1', nodeName: 'A', sourceRecord: { ...record, shift: 2 } }], settings);
    expect(job.request).toEqual({ prompt: 'rocket', negativePrompt: '', steps: 30, guidance: 6, seed: 101, width: 256, height: 192, shift: 2 });
    expect(job.sourceNodeId).toBeUndefined();
  });

  test('regenerating an image variation re-exports its parent at the recorded strength', () => {
    const variation = { ...record, strength: 0.3, parent: { nodeId: '9:9', seed: 5 } };
    const [job] = engineJobsFromPlan([{ ...base, jobId: 'r', kind: 'regenerate', nodeId: '1', nodeName: 'A', sourceRecord: variation }], settings);
    expect(job).toMatchObject({ sourceNodeId: '9:9', parent: { nodeId: '9:9', seed: 5 }, request: { strength: 0.3, seed: 101 } });
  });

  test('seed variations skip the parent’s seed', () => {
    expect(seedForVariation(100, 0, 101)).toBe(100);
    expect(seedForVariation(100, 1, 101)).toBe(102);
    expect(seedForVariation(101, 0, 101)).toBe(102);
    expect(seedForVariation(0xffffffff, 1)).toBe(0);
    const jobs: PlannedJob[] = [0, 1, 2].map((i) => ({ ...base, jobId: `v${i}`, kind: 'seed-variation', nodeId: null, nodeName: 'V', variationIndex: i, parentNodeId: '1', sourceRecord: record }));
    expect(engineJobsFromPlan(jobs, settings).map((j) => j.request.seed)).toEqual([100, 102, 103]);
    expect(engineJobsFromPlan(jobs, settings).map((j) => j.label)).toEqual(['V · 1', 'V · 2', 'V · 3']);
  });

  test('image variations use the panel prompt, or the source’s when the panel prompt is empty', () => {
    const job: PlannedJob = { ...base, jobId: 'i', kind: 'image-variation', nodeId: null, nodeName: 'I', variationIndex: 1, parentNodeId: '4:4', sourceRecord: record };
    const [withPrompt] = engineJobsFromPlan([job], settings);
    expect(withPrompt).toMatchObject({ sourceNodeId: '4:4', request: { prompt: 'owl', strength: 0.7, seed: 101 } });
    const [withoutPrompt] = engineJobsFromPlan([job], { ...settings, prompt: '  ' });
    expect(withoutPrompt.request.prompt).toBe('rocket');
  });
});

describe('provenanceFor', () => {
  const result: GenerationResult = {
    jobId: 'i',
    png: new Uint8Array(8),
    width: 256,
    height: 192,
    seed: 101,
    settings: { prompt: 'owl', width: 256, height: 192, steps: 8, guidance: 3, seed: 101, strength: 0.7, hasInit: true },
    timings: { textEncodeMs: 1, denoiseStepMs: [1], vaeDecodeMs: 1, totalMs: 3 },
    backend: 'webgpu',
    modelId: 'flowfill-tiny',
    modelHash: 'ab',
    notes: [],
  };
  test('records what the engine used, with strength and parent for image variations', () => {
    const rec = provenanceFor({ jobId: 'i', label: 'I', request: result.settings, parent: { nodeId: '4:4' } }, result, new Date(Date.UTC(2026, 1, 2)));
    expect(rec).toEqual({
      format: 'flowfill-provenance',
      version: 1,
      prompt: 'owl',
      negativePrompt: '',
      seed: 101,
      steps: 8,
      guidance: 3,
      width: 256,
      height: 192,
      model: { id: 'flowfill-tiny', hash: 'ab' },
      backend: 'webgpu',
      strength: 0.7,
      parent: { nodeId: '4:4' },
      createdAt: '2026-02-02T00:00:00.000Z',
    });
    expect(validateProvenance(rec).ok).toBe(true);
  });
  test('text-to-image records carry no strength', () => {
    const rec = provenanceFor({ jobId: 'i', label: 'I', request: result.settings }, { ...result, settings: { ...result.settings, hasInit: false } }, new Date());
    expect(rec.strength).toBeUndefined();
    expect(rec.parent).toBeUndefined();
  });
});

describe('describeEngineError', () => {
  test('reads the code from the "[code]" prefix comlink leaves in the message', () => {
    expect(describeEngineError(new Error('[size-exceeds-gpu-limits] 4096×4096 needs 9 GB; try 2048×2048'))).toEqual({
      code: 'size-exceeds-gpu-limits',
      message: 'This size is too large for your graphics card; try a smaller frame or fewer steps: 4096×4096 needs 9 GB; try 2048×2048',
    });
  });
  test('prefers a code property that survived, and falls back to internal', () => {
    expect(describeEngineError(Object.assign(new Error('lost'), { code: 'gpu-device-lost' })).code).toBe('gpu-device-lost');
    expect(describeEngineError('weird')).toEqual({ code: 'internal', message: 'Something went wrong inside the image engine: weird' });
    expect(describeEngineError(new Error('[cancelled] job j1')).message).toBe('Cancelled');
  });
});
