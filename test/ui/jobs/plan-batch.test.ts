import type { Target } from '../../../common/host-rpc.js';
import type { ProvenanceRecord } from '../../../common/provenance.js';
import { ROW_GAP, nameFromPrompt, planBatch, rowPositions, variationKindFor, type PlanInput } from '../../../ui/jobs/plan-batch.js';
import { RETIRED_BUILT_IN_MODELS } from '../../../ui/jobs/skip-reasons.js';
import { createDefaultSettings } from '../../../ui/settings/settings.js';

const record: ProvenanceRecord = {
  format: 'flowfill-provenance',
  version: 1,
  prompt: 'rocket',
  negativePrompt: '',
  seed: 101,
  steps: 30,
  guidance: 6,
  width: 512,
  height: 384,
  model: { id: 'm', hash: 'h' },
  backend: 'wasm',
  createdAt: '2026-01-31T12:00:00.000Z',
};

function target(overrides: Partial<Target> = {}): Target {
  return { id: '1:2', name: 'Hero', type: 'FRAME', hasImageFill: false, width: 400, height: 300, x: 0, y: 0, ...overrides };
}

/** A small model: native 256², sides up to 1024, multiples of 16. */
function input(overrides: Partial<PlanInput> = {}): PlanInput {
  return {
    request: 'generate',
    targets: [target()],
    viewportCenter: { x: 0, y: 0 },
    settings: { ...createDefaultSettings(100), prompt: 'a fox', steps: 8, guidance: 3 },
    geometry: { nativeSize: 256, maxSide: 1024, sizeMultiple: 16 },
    newFrame: { width: 512, height: 512 },
    batchId: 'b1',
    ...overrides,
  };
}

describe('planBatch', () => {
  test('fills each fillable layer at its own aspect ratio, with consecutive seeds; the others are skipped with their reason', () => {
    const out = planBatch(
      input({
        targets: [
          target(),
          target({ id: '1:3', name: 'Tall', width: 90, height: 160 }),
          target({ id: '1:4', name: 'Title', type: 'TEXT', unfillable: 'text' }),
          target({ id: '1:5', name: 'Vec', type: 'BOOLEAN_OPERATION', unfillable: 'unsupported' }),
        ],
      }),
    );
    expect(out.jobs.map((j) => [j.jobId, j.kind, j.label, j.destination, j.request.seed, j.status])).toEqual([
      ['b1-j1', 'fill', 'Hero', { kind: 'existing', nodeId: '1:2' }, 100, 'queued'],
      ['b1-j2', 'fill', 'Tall', { kind: 'existing', nodeId: '1:3' }, 101, 'queued'],
    ]);
    for (const [job, ratio] of [
      [out.jobs[0], 4 / 3],
      [out.jobs[1], 90 / 160],
    ] as const) {
      const { width, height } = job.request;
      expect((width % 16) + (height % 16)).toBe(0);
      expect(Math.abs(width / height / ratio - 1)).toBeLessThan(0.01);
      expect(width * height).toBeGreaterThan(0.7 * 256 * 256);
      expect(width * height).toBeLessThan(1.4 * 256 * 256);
    }
    expect(out.jobs[0].request).toMatchObject({ prompt: 'a fox', negativePrompt: '', steps: 8, guidance: 3 });
    expect(out.skipped.map((s) => [s.name, s.code, s.reason])).toEqual([
      ['Title', 'text', 'Text layers are skipped: an image fill would paint the letters. Select a frame or shape instead.'],
      ['Vec', 'unsupported', 'Boolean operation layers cannot hold an image. Select a frame or shape.'],
    ]);
  });

  test('extreme ratios carry the planner’s note, once', () => {
    const out = planBatch(input({ targets: [target({ width: 2000, height: 10 }), target({ id: '1:9', width: 2000, height: 10 })] }));
    expect(out.jobs[0].request.width).toBeLessThanOrEqual(1024);
    expect(out.notes).toHaveLength(1);
    expect(out.notes[0]).toMatch(/aspect ratio|wider/);
  });

  test('at most 64 jobs per batch; the rest are skipped with a reason', () => {
    const out = planBatch(input({ targets: Array.from({ length: 70 }, (_, i) => target({ id: `1:${i + 10}` })) }));
    expect(out.jobs).toHaveLength(64);
    expect(out.skipped).toHaveLength(6);
    expect(out.skipped[0]).toMatchObject({ code: 'batch-limit', reason: expect.stringMatching(/at most 64/) });
  });

  test('nothing selected: `variations` new frames of the insert size in a row centred in the viewport, named after the prompt', () => {
    const out = planBatch(
      input({
        targets: [],
        viewportCenter: { x: 1000, y: 500 },
        settings: { ...input().settings, prompt: '  rocket,   flat style\nsecond line', variations: 2 },
        newFrame: { width: 320, height: 180 },
      }),
    );
    expect(out.jobs.map((j) => [j.kind, j.label, j.destination])).toEqual([
      [
        'new-frame',
        'rocket, flat style 1',
        { kind: 'create', name: 'rocket, flat style 1', x: 1000 - 340, y: 410, width: 320, height: 180 },
      ],
      [
        'new-frame',
        'rocket, flat style 2',
        { kind: 'create', name: 'rocket, flat style 2', x: 1000 + 20, y: 410, width: 320, height: 180 },
      ],
    ]);
    expect(Math.abs(out.jobs[0].request.width / out.jobs[0].request.height / (320 / 180) - 1)).toBeLessThan(0.01);
  });

  test('regenerate skips a layer made with another model, naming it: Use it when it is installed, add it when it is not', () => {
    const made = (hash: string, id: string) => target({ provenance: { ...record, model: { id, hash } } });
    const models = {
      current: { id: 'sd35m-aaaa', name: 'sd35m', hash: 'a'.repeat(64) },
      installed: [{ id: 'emoji-bbbb', name: 'Flowfill emoji', hash: 'b'.repeat(64) }],
    };
    const out = planBatch(
      input({
        request: 'regenerate',
        models,
        targets: [
          { ...made('a'.repeat(64), 'sd35m-aaaa'), id: '1:1', name: 'Same' },
          { ...made('b'.repeat(64), 'emoji-bbbb'), id: '1:2', name: 'Installed' },
          { ...made('c'.repeat(64), 'gone-cccc'), id: '1:3', name: 'Missing' },
        ],
      }),
    );
    expect(out.jobs.map((j) => j.label)).toEqual(['Same']);
    expect(out.skipped).toEqual([
      {
        nodeId: '1:2',
        name: 'Installed',
        code: 'other-model',
        reason: 'Made with “Flowfill emoji”, not the model in use (“sd35m”): choose Use on it under Models, then Regenerate.',
      },
      {
        nodeId: '1:3',
        name: 'Missing',
        code: 'other-model',
        reason: `Made with the model gone-cccc (hash ${'c'.repeat(12)}…), which is not among your models: add it (Models → Add from folder or Add from URL), then Regenerate. Or choose Use these settings, then Generate, for a new image from its settings with “sd35m”.`,
      },
    ]);
  });

  test('regenerate: a layer made with a retired built-in model names its folder in the repository', () => {
    const [v1, v20] = RETIRED_BUILT_IN_MODELS;
    const made = (model: { id: string }, hash: string, name: string) => ({
      ...target({ provenance: { ...record, model: { id: model.id, hash } } }),
      name,
    });
    const v2 = { id: 'flowfill-v2-eeee', name: 'Flowfill v2', hash: 'e'.repeat(64) };
    const out = planBatch(
      input({
        request: 'regenerate',
        models: { current: v2, installed: [] },
        targets: [
          { ...made(v1, v1.hash, 'Made with v1'), id: '1:1' },
          { ...made(v1, v1.supersedes![0], 'Made with v1 before its rebuild'), id: '1:2' },
          { ...made(v20, v20.hash, 'Made with v2.0'), id: '1:3' },
          { ...made(v20, v20.supersedes![0], 'Made with v2.0 before its rebuild'), id: '1:4' },
        ],
      }),
    );
    expect(out.jobs).toEqual([]);
    const reasonOf = (name: string, folder: string) =>
      `Made with “${name}”, the model built into earlier Flowfill versions. Its package is the folder ${folder} of the Flowfill repository: add it (Models → Add from folder), then Regenerate. Or choose Use these settings, then Generate, for a new image from its settings with “Flowfill v2”.`;
    const reason = reasonOf('Flowfill Emoji SD3-tiny', 'models/v1');
    const reason20 = reasonOf('Flowfill Emoji & Icons SD3-tiny v2', 'models/v2.0');
    expect(out.skipped).toEqual([
      { nodeId: '1:1', name: 'Made with v1', code: 'other-model', reason },
      { nodeId: '1:2', name: 'Made with v1 before its rebuild', code: 'other-model', reason },
      { nodeId: '1:3', name: 'Made with v2.0', code: 'other-model', reason: reason20 },
      { nodeId: '1:4', name: 'Made with v2.0 before its rebuild', code: 'other-model', reason: reason20 },
    ]);
    // Added from its folder, v1 is installed: the panel names it as the model to Use.
    const added = planBatch(
      input({
        request: 'regenerate',
        models: { current: v2, installed: [v1] },
        targets: [{ ...made(v1, v1.hash, 'Made with v1'), id: '1:1' }],
      }),
    );
    expect(added.skipped[0].reason).toBe(
      'Made with “Flowfill Emoji SD3-tiny”, not the model in use (“Flowfill v2”): choose Use on it under Models, then Regenerate.',
    );
  });

  test('regenerate: a model that supersedes the recorded package (same weights, new graphs) regenerates its layers', () => {
    const made = (hash: string, id: string) => target({ provenance: { ...record, model: { id, hash } } });
    const rebuiltDefault = { id: 'emoji-dddd', name: 'Flowfill emoji', hash: 'd'.repeat(64), supersedes: ['b'.repeat(64)] };
    const inUse = planBatch(
      input({
        request: 'regenerate',
        models: { current: rebuiltDefault, installed: [] },
        targets: [
          { ...made('b'.repeat(64), 'emoji-bbbb'), id: '1:1', name: 'Before the rebuild' },
          { ...made('c'.repeat(64), 'other-cccc'), id: '1:2', name: 'Other' },
        ],
      }),
    );
    expect(inUse.jobs.map((j) => j.label)).toEqual(['Before the rebuild']);
    expect(inUse.skipped.map((s) => s.code)).toEqual(['other-model']);
    // Installed but not in use: the panel names it as the model to Use.
    const installed = planBatch(
      input({
        request: 'regenerate',
        models: { current: { id: 'sd35m-aaaa', name: 'sd35m', hash: 'a'.repeat(64) }, installed: [rebuiltDefault] },
        targets: [{ ...made('b'.repeat(64), 'emoji-bbbb'), id: '1:1', name: 'Before the rebuild' }],
      }),
    );
    expect(installed.skipped[0].reason).toBe(
      'Made with “Flowfill emoji”, not the model in use (“sd35m”): choose Use on it under Models, then Regenerate.',
    );
  });

  test('regenerate: one job per layer with a record, at the record’s size, reproducing it exactly; the others skipped', () => {
    const out = planBatch(
      input({ request: 'regenerate', targets: [target({ provenance: { ...record, shift: 2 } }), target({ id: '1:3', name: 'Plain' })] }),
    );
    expect(out.jobs).toHaveLength(1);
    expect(out.jobs[0].request).toEqual({
      prompt: 'rocket',
      negativePrompt: '',
      steps: 30,
      guidance: 6,
      seed: 101,
      width: 512,
      height: 384,
      shift: 2,
    });
    expect(out.jobs[0].sourceNodeId).toBeUndefined();
    expect(out.skipped).toEqual([
      { nodeId: '1:3', name: 'Plain', code: 'no-record', reason: 'It holds no Flowfill image to regenerate. Use Generate instead.' },
    ]);
  });

  test('regenerating an image variation re-exports its parent at the recorded strength', () => {
    const variation = { ...record, strength: 0.3, parent: { nodeId: '9:9', seed: 5 } };
    const out = planBatch(input({ request: 'regenerate', targets: [target({ provenance: variation })] }));
    expect(out.jobs[0]).toMatchObject({ sourceNodeId: '9:9', parent: { nodeId: '9:9', seed: 5 }, request: { strength: 0.3, seed: 101 } });
  });

  test('seed variations: a row to the right of the source, its record’s settings and size, seeds that skip the parent’s', () => {
    const out = planBatch(
      input({
        request: 'seed-variations',
        targets: [target({ x: 10, y: 20, provenance: record })],
        settings: { ...input().settings, variations: 3 },
      }),
    );
    expect(out.jobs.map((j) => [j.kind, j.label, j.destination])).toEqual(
      [1, 2, 3].map((i) => [
        'seed-variation',
        `Hero · ${i}`,
        { kind: 'create', name: `Hero — variation ${i}`, x: 10 + (400 + ROW_GAP) * i, y: 20, width: 400, height: 300 },
      ]),
    );
    expect(out.jobs.map((j) => j.request.seed)).toEqual([100, 102, 103]);
    expect(out.jobs[0].request).toMatchObject({ prompt: 'rocket', steps: 30, width: 512, height: 384 });
    expect(out.jobs[0].parent).toEqual({ nodeId: '1:2', seed: 101 });
  });

  test('image variations use the panel prompt (or the source’s when it is empty) and strength, from the source’s pixels', () => {
    const settings = { ...input().settings, strength: 0.7 };
    const [withPrompt] = planBatch(input({ request: 'image-variations', targets: [target({ provenance: record })], settings })).jobs;
    expect(withPrompt).toMatchObject({
      kind: 'image-variation',
      sourceNodeId: '1:2',
      parent: { nodeId: '1:2', seed: 101 },
      request: { prompt: 'a fox', strength: 0.7, seed: 100 },
    });
    const [withoutPrompt] = planBatch(
      input({ request: 'image-variations', targets: [target({ provenance: record })], settings: { ...settings, prompt: '  ' } }),
    ).jobs;
    expect(withoutPrompt.request.prompt).toBe('rocket');
    const [plain] = planBatch(input({ request: 'image-variations', targets: [target()], settings })).jobs;
    expect(plain.parent).toEqual({ nodeId: '1:2' });
  });

  test("'variations' picks seed variations when every fillable layer has a record, else image variations", () => {
    const withRecord = target({ provenance: record });
    const text = target({ id: '1:3', type: 'TEXT', unfillable: 'text' });
    expect(variationKindFor([withRecord])).toBe('seed-variations');
    expect(variationKindFor([withRecord, text])).toBe('seed-variations');
    expect(variationKindFor([target()])).toBe('image-variations');
    expect(variationKindFor([withRecord, target({ id: '1:4' })])).toBe('image-variations');
    expect(variationKindFor([])).toBe('image-variations');
    expect(planBatch(input({ request: 'variations', targets: [withRecord] })).jobs[0].kind).toBe('seed-variation');
  });

  test('nothing to do says why', () => {
    expect(planBatch(input({ request: 'image-variations', targets: [] })).nothingToDo).toBe('Select a layer first.');
    expect(planBatch(input({ targets: [target({ name: 'T', unfillable: 'locked' })] })).nothingToDo).toBe(
      '“T”: The layer is locked. Unlock it to fill it.',
    );
    expect(
      planBatch(input({ targets: [target({ unfillable: 'locked' }), target({ id: '1:3', unfillable: 'text' })] })).nothingToDo,
    ).toMatch(/^None of the 2 selected layers can be used\./);
  });

  test('names and rows', () => {
    expect(nameFromPrompt('')).toBe('Flowfill image');
    expect(nameFromPrompt('x'.repeat(100))).toHaveLength(60);
    expect(rowPositions(2, { width: 100, height: 50 }, { x: 0, y: 0 })).toEqual([
      { x: -120, y: -25 },
      { x: 20, y: -25 },
    ]);
  });
});
