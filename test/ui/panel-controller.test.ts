import { decode } from 'fast-png';
import { PROTOCOL_VERSION, parseUiToMain, type MainToUi, type PlannedJob, type TargetInfo, type UiToMain } from '../../common/protocol.js';
import { validateProvenance, type ProvenanceRecord } from '../../common/provenance.js';
import { HISTORY_LIMIT } from '../../ui/history.js';
import { PanelController, primaryActionLabel, selectedProvenance, variationKindFor } from '../../ui/panel-controller.js';
import { FAKE_MODEL, FakeEngine, colourForSeed, solidPng, waitUntil } from './fake-engine.js';

const v = PROTOCOL_VERSION;

const parentRecord: ProvenanceRecord = {
  format: 'flowfill-provenance',
  version: 1,
  prompt: 'rocket, flat style, on a teal background',
  negativePrompt: 'blurry',
  seed: 1000,
  steps: 2,
  guidance: 3,
  width: 64,
  height: 64,
  model: { id: 'fake-tiny', hash: 'cd'.repeat(32) },
  backend: 'wasm',
  createdAt: '2026-01-31T12:00:00.000Z',
};

function fillJob(jobId: string, nodeId: string, gen = { width: 64, height: 48 }): PlannedJob {
  return { jobId, kind: 'fill', nodeId, nodeName: `Frame ${nodeId}`, target: { width: 400, height: 300 }, gen, notes: [] };
}

/** A controller wired to a fake engine and a recording "main thread"; seeds come from a counter. */
async function startedPanel() {
  const engine = new FakeEngine();
  const sent: UiToMain[] = [];
  let nextSeed = 500;
  const logs: string[] = [];
  const panel = new PanelController({
    engine,
    post: (message) => {
      // Everything the panel sends must pass the main thread's validator.
      const parsed = parseUiToMain(message);
      if (!parsed.ok) throw new Error(`panel sent an invalid message: ${parsed.error}`);
      sent.push(message);
    },
    drawSeed: () => nextSeed++,
    now: () => new Date('2026-02-01T10:00:00.000Z'),
    settingsSaveDelayMs: 0,
    log: (m) => logs.push(m),
  });
  await panel.startAsync();
  const ofType = <T extends UiToMain['type']>(type: T) => sent.filter((m): m is Extract<UiToMain, { type: T }> => m.type === type);
  const lastOfType = <T extends UiToMain['type']>(type: T) => {
    const all = ofType(type);
    if (all.length === 0) throw new Error(`no ${type} sent`);
    return all[all.length - 1];
  };
  const receive = (message: MainToUi) => panel.receive(message);
  return { engine, panel, sent, logs, ofType, lastOfType, receive };
}

describe('PanelController start-up', () => {
  test('announces itself, then loads the embedded model and shows its name and backend', async () => {
    const { panel, sent } = await startedPanel();
    expect(sent[0]).toEqual({ type: 'ui-ready', v });
    const { model } = panel.getState();
    expect(model.status).toBe('ready');
    expect(model.info?.name).toBe(FAKE_MODEL.name);
    expect(model.capabilities?.backend).toBe('wasm');
  });

  test('a model that fails to load is shown in plain language and blocks generation', async () => {
    const engine = new FakeEngine();
    engine.loadError = new Error('[model-missing-file] transformer/model.onnx is not in the package');
    const panel = new PanelController({ engine, post: () => {}, log: () => {} });
    await panel.startAsync();
    expect(panel.getState().model.status).toBe('failed');
    expect(panel.getState().model.error).toBe(
      'The model could not be loaded. The model package is missing a file: transformer/model.onnx is not in the package',
    );
    expect(panel.requestPlan('generate')).toBe(false);
    expect(panel.getState().notices.at(-1)?.text).toMatch(/failed to load/);
    // "Try again" loads it once the cause is gone.
    engine.loadError = undefined;
    await panel.loadModelAsync();
    expect(panel.getState().model).toMatchObject({ status: 'ready', info: { id: FAKE_MODEL.id } });
    expect(panel.getState().model.error).toBeUndefined();
  });
});

describe('PanelController messages from main', () => {
  test('a malformed message gets an error reply and the panel keeps working', async () => {
    const { panel, lastOfType, logs } = await startedPanel();
    expect(() => panel.receive({ type: 'plan', v, requestId: 'x' })).not.toThrow();
    expect(lastOfType('error')).toMatchObject({ code: 'malformed-message', inReplyTo: 'plan', ref: 'x' });
    panel.receive('not even an object');
    expect(lastOfType('error').code).toBe('malformed-message');
    panel.receive({ type: 'init', v: 99, command: 'open', host: 'figma' });
    expect(lastOfType('error').code).toBe('version-mismatch');
    expect(logs).toHaveLength(3);
    expect(panel.getState().model.status).toBe('ready');
  });

  test('stored settings are read back field by field; an unlocked seed is not reused', async () => {
    const { panel, receive } = await startedPanel();
    const seedBefore = panel.getState().settings.seed;
    receive({ type: 'settings-loaded', v, settings: { prompt: 'owl', steps: 9999, seed: 7, seedLocked: false, fillMode: 'sideways' } });
    const settings = panel.getState().settings;
    expect(settings.prompt).toBe('owl');
    expect(settings.steps).toBe(100);
    expect(settings.seed).toBe(seedBefore);
    expect(settings.fillMode).toBe('replace');
    receive({ type: 'settings-loaded', v, settings: { seed: 7, seedLocked: true } });
    expect(panel.getState().settings.seed).toBe(7);
  });

  test('the selection drives the primary label and the provenance view', async () => {
    const { panel, receive } = await startedPanel();
    const hero: TargetInfo = { id: '1:2', name: 'Hero', type: 'FRAME', width: 400, height: 300, hasImageFill: true, canFill: true, provenance: parentRecord };
    const text: TargetInfo = { id: '1:3', name: 'Title', type: 'TEXT', width: 10, height: 10, hasImageFill: false, canFill: false, skipReason: 'Text layers cannot hold an image' };
    expect(primaryActionLabel(panel.getState().targets)).toBe('Insert');
    receive({ type: 'selection-changed', v, targets: [hero] });
    expect(primaryActionLabel(panel.getState().targets)).toBe('Fill 1 frame');
    expect(selectedProvenance(panel.getState().targets)?.record.seed).toBe(1000);
    receive({ type: 'selection-changed', v, targets: [hero, text, { ...hero, id: '1:4', provenance: undefined }] });
    expect(primaryActionLabel(panel.getState().targets)).toBe('Fill 2 frames');
    receive({ type: 'selection-changed', v, targets: [text] });
    expect(primaryActionLabel(panel.getState().targets)).toBe('Nothing to fill');
    receive({ type: 'selection-changed', v, targets: [] });
    expect(primaryActionLabel(panel.getState().targets, 3)).toBe('Insert 3 images');
    expect(selectedProvenance(panel.getState().targets)).toBeUndefined();
  });

  test('Variations: new seeds when every fillable node has a record, else image-to-image from its pixels', () => {
    const hero: TargetInfo = { id: '1:2', name: 'Hero', type: 'FRAME', width: 400, height: 300, hasImageFill: true, canFill: true, provenance: parentRecord };
    const photo: TargetInfo = { ...hero, id: '1:5', name: 'Photo', provenance: undefined };
    const text: TargetInfo = { id: '1:3', name: 'Title', type: 'TEXT', width: 10, height: 10, hasImageFill: false, canFill: false, skipReason: 'Text layers cannot hold an image' };
    expect(variationKindFor([hero])).toBe('seed-variations');
    expect(variationKindFor([hero, text])).toBe('seed-variations');
    expect(variationKindFor([photo])).toBe('image-variations');
    expect(variationKindFor([hero, photo])).toBe('image-variations');
    expect(variationKindFor([])).toBe('image-variations');
  });
});

describe('PanelController generation', () => {
  test('generate: plan request → jobs run → one job-result per frame with PNG and provenance → history', async () => {
    const { panel, engine, receive, lastOfType, ofType } = await startedPanel();
    panel.updateSettings({ prompt: 'rocket, flat style', steps: 2, guidance: 5, insertSize: 'wide-16-9', fillMode: 'keep' });
    // The seed shown is the seed used.
    const seed = panel.getState().settings.seed;
    expect(panel.requestPlan('generate')).toBe(true);
    expect(panel.getState().settings.seed).not.toBe(seed);

    const request = lastOfType('plan-request');
    expect(request).toMatchObject({
      kind: 'generate',
      fillMode: 'keep',
      prompt: 'rocket, flat style',
      count: 1,
      newFrame: { width: 1024, height: 576 },
      geometry: { nativeSize: FAKE_MODEL.nativeSize, maxSide: FAKE_MODEL.maxSide, sizeMultiple: FAKE_MODEL.sizeMultiple },
    });
    // The settings are saved when a generation starts.
    expect(lastOfType('settings-save').settings).toMatchObject({ prompt: 'rocket, flat style', steps: 2 });

    receive({ type: 'plan', v, requestId: request.requestId, batchId: 'b1', jobs: [fillJob('j1', '1:2'), fillJob('j2', '1:3', { width: 48, height: 64 })], skipped: [] });
    await panel.whenIdle();

    const results = ofType('job-result');
    expect(results.map((r) => r.jobId)).toEqual(['j1', 'j2']);
    expect(engine.requests.map((r) => r.seed)).toEqual([seed, seed + 1]);
    const second = decode(results[1].png);
    expect([second.width, second.height]).toEqual([48, 64]);
    expect(Array.from(second.data.slice(0, 3))).toEqual(colourForSeed(seed + 1));
    for (const result of results) expect(validateProvenance(result.record).ok).toBe(true);
    expect(results[0].record).toMatchObject({
      prompt: 'rocket, flat style',
      seed,
      steps: 2,
      guidance: 5,
      width: 64,
      height: 48,
      model: { id: FAKE_MODEL.id, hash: FAKE_MODEL.hash },
      backend: 'wasm',
      createdAt: '2026-02-01T10:00:00.000Z',
    });
    expect(results[0].record.strength).toBeUndefined();

    receive({ type: 'job-applied', v, jobId: 'j1', nodeId: '1:2', nodeName: 'Hero' });
    receive({ type: 'job-applied', v, jobId: 'j2', nodeId: '1:3', nodeName: 'Card' });
    expect(panel.getState().history.map((h) => h.nodeName)).toEqual(['Card', 'Hero']);
    expect(lastOfType('history-save').entries.map((e) => e.jobId)).toEqual(['j2', 'j1']);
  });

  test('an unlocked seed changes on every Generate; a locked one is reused', async () => {
    const { panel, lastOfType, receive, engine } = await startedPanel();
    panel.updateSettings({ prompt: 'cat' });
    const seeds: number[] = [];
    for (const locked of [false, false, true, true]) {
      panel.updateSettings({ seedLocked: locked });
      panel.requestPlan('generate');
      receive({ type: 'plan', v, requestId: lastOfType('plan-request').requestId, batchId: 'b', jobs: [fillJob(`j${seeds.length}`, '1:2')], skipped: [] });
      await panel.whenIdle();
      seeds.push(engine.requests.at(-1)!.seed);
    }
    expect(seeds[0]).not.toBe(seeds[1]);
    expect(seeds[2]).toBe(seeds[3]);
  });

  test('an empty prompt is refused with a plain message and nothing is sent', async () => {
    const { panel, ofType } = await startedPanel();
    expect(panel.requestPlan('generate')).toBe(false);
    expect(ofType('plan-request')).toHaveLength(0);
    expect(panel.getState().notices.at(-1)).toMatchObject({ level: 'error', text: 'Describe the image first: the prompt is empty.' });
  });

  test('seed variations keep the parent record and use new seeds, never the parent seed', async () => {
    const { panel, engine, receive, lastOfType, ofType } = await startedPanel();
    panel.useRecord(parentRecord);
    expect(panel.getState().settings).toMatchObject({ prompt: parentRecord.prompt, seed: 1000, seedLocked: true, steps: 2 });
    panel.updateSettings({ variations: 3 });
    panel.requestPlan('seed-variations');
    const request = lastOfType('plan-request');
    expect(request).toMatchObject({ kind: 'seed-variations', count: 3 });
    expect(request.newFrame).toBeUndefined();
    const jobs: PlannedJob[] = [0, 1, 2].map((i) => ({
      jobId: `sv${i}`,
      kind: 'seed-variation',
      nodeId: null,
      nodeName: `Hero — variation ${i + 1}`,
      target: { width: 64, height: 64 },
      gen: { width: 64, height: 64 },
      variationIndex: i,
      parentNodeId: '1:2',
      sourceRecord: parentRecord,
      notes: [],
    }));
    receive({ type: 'plan', v, requestId: request.requestId, batchId: 'b', jobs, skipped: [] });
    await panel.whenIdle();

    expect(engine.requests.map((r) => r.seed)).toEqual([1001, 1002, 1003]);
    expect(engine.requests.every((r) => r.prompt === parentRecord.prompt && r.negativePrompt === 'blurry')).toBe(true);
    expect(ofType('job-result').map((r) => r.record.parent)).toEqual([0, 1, 2].map(() => ({ nodeId: '1:2', seed: 1000 })));
  });

  test('image variation: asks main to export the source, runs image-to-image, records strength and parent', async () => {
    const { panel, engine, receive, lastOfType, ofType } = await startedPanel();
    panel.updateSettings({ prompt: 'rocket, modern style', strength: 0.45 });
    panel.requestPlan('image-variations');
    const job: PlannedJob = {
      jobId: 'iv0',
      kind: 'image-variation',
      nodeId: null,
      nodeName: 'Hero — variation 1',
      target: { width: 64, height: 64 },
      gen: { width: 64, height: 64 },
      variationIndex: 0,
      parentNodeId: '1:2',
      notes: [],
    };
    receive({ type: 'plan', v, requestId: lastOfType('plan-request').requestId, batchId: 'b', jobs: [job], skipped: [] });
    await waitUntil(() => ofType('export-request').length === 1, 'the panel asks for the source pixels');
    const exportRequest = lastOfType('export-request');
    expect(exportRequest).toMatchObject({ nodeId: '1:2', size: { width: 64, height: 64 } });
    receive({ type: 'export-result', v, requestId: exportRequest.requestId, nodeId: '1:2', png: solidPng(32, 32, [10, 20, 30]), width: 32, height: 32 });
    await panel.whenIdle();

    expect(engine.requests[0].init?.width).toBe(64);
    expect(Array.from(engine.requests[0].init!.rgba.slice(0, 4))).toEqual([10, 20, 30, 255]);
    const record = lastOfType('job-result').record;
    expect(record.strength).toBe(0.45);
    expect(record.parent).toEqual({ nodeId: '1:2' });
    expect(validateProvenance(record).ok).toBe(true);
  });

  test('an export refused by main fails that job with job-failed; the next job still runs', async () => {
    const { panel, receive, lastOfType, ofType } = await startedPanel();
    panel.updateSettings({ prompt: 'owl' });
    panel.requestPlan('image-variations');
    const variation: PlannedJob = {
      jobId: 'iv0',
      kind: 'image-variation',
      nodeId: null,
      nodeName: 'V',
      target: { width: 64, height: 64 },
      gen: { width: 64, height: 64 },
      variationIndex: 0,
      parentNodeId: '9:9',
      notes: [],
    };
    receive({ type: 'plan', v, requestId: lastOfType('plan-request').requestId, batchId: 'b', jobs: [variation, fillJob('f1', '1:2')], skipped: [] });
    await waitUntil(() => ofType('export-request').length === 1, 'export requested');
    receive({ type: 'error', v, code: 'export-failed', message: 'The layer "V" was deleted', ref: lastOfType('export-request').requestId });
    await panel.whenIdle();
    expect(lastOfType('job-failed')).toMatchObject({ jobId: 'iv0', code: 'internal' });
    expect(lastOfType('job-failed').message).toContain('The layer "V" was deleted');
    expect(ofType('job-result').map((r) => r.jobId)).toEqual(['f1']);
    expect(panel.getState().notices.some((n) => n.level === 'error' && n.text.includes('was deleted'))).toBe(true);
  });

  test('when the engine falls back to another backend mid-session, the header follows it', async () => {
    // The model loads on WebGPU; the fake's results report WASM, as after a lost GPU device.
    const engine = new FakeEngine();
    engine.model = { ...FAKE_MODEL, backend: 'webgpu' };
    const sent: UiToMain[] = [];
    const panel = new PanelController({ engine, post: (m) => sent.push(m), log: () => {}, settingsSaveDelayMs: 0 });
    await panel.startAsync();
    expect(panel.getState().model.info?.backend).toBe('webgpu');
    panel.updateSettings({ prompt: 'owl', steps: 1 });
    panel.requestPlan('generate');
    const request = sent.find((m): m is Extract<UiToMain, { type: 'plan-request' }> => m.type === 'plan-request')!;
    panel.receive({ type: 'plan', v, requestId: request.requestId, batchId: 'b', jobs: [fillJob('j1', '1:2')], skipped: [] });
    await panel.whenIdle();
    expect(panel.getState().model.info?.backend).toBe('wasm');
    expect(panel.getState().notices.at(-1)?.text).toBe('The engine now runs on WASM (CPU).');
  });

  test('an engine failure is sent as job-failed with its code and shown in plain language', async () => {
    const { panel, receive, lastOfType } = await startedPanel();
    panel.updateSettings({ prompt: 'FAIL please' });
    panel.requestPlan('generate');
    receive({ type: 'plan', v, requestId: lastOfType('plan-request').requestId, batchId: 'b', jobs: [fillJob('j1', '1:2')], skipped: [] });
    await panel.whenIdle();
    expect(lastOfType('job-failed')).toMatchObject({ jobId: 'j1', code: 'invalid-request' });
    expect(panel.getState().notices.at(-1)?.text).toMatch(/^Frame 1:2: The settings were not accepted/);
  });

  test('cancel sends job-cancelled; a job main dropped is stopped without a reply', async () => {
    const { panel, engine, receive, lastOfType, ofType } = await startedPanel();
    panel.updateSettings({ prompt: 'owl', steps: 5 });
    engine.hold();
    panel.requestPlan('generate');
    receive({ type: 'plan', v, requestId: lastOfType('plan-request').requestId, batchId: 'b', jobs: [fillJob('a', '1'), fillJob('b', '2'), fillJob('c', '3')], skipped: [] });
    await waitUntil(() => panel.getState().jobs[0]?.status === 'running', 'job a runs');
    await panel.cancelJob('a');
    receive({ type: 'job-dropped', v, jobId: 'b', reason: 'The layer "2" was deleted' });
    engine.release();
    await panel.whenIdle();
    expect(ofType('job-cancelled').map((m) => m.jobId)).toEqual(['a']);
    expect(ofType('job-result').map((m) => m.jobId)).toEqual(['c']);
    expect(panel.getState().jobs.map((j) => j.status)).toEqual(['cancelled', 'cancelled', 'done']);
  });

  test('a run-command that arrives while the model loads runs once it is ready', async () => {
    const engine = new FakeEngine();
    const sent: UiToMain[] = [];
    const panel = new PanelController({ engine, post: (m) => sent.push(m), log: () => {}, settingsSaveDelayMs: 0 });
    const starting = panel.startAsync();
    panel.receive({ type: 'run-command', v, command: 'generate', source: 'quick-action', prompt: 'a red kite' });
    expect(sent.some((m) => m.type === 'plan-request')).toBe(false);
    await starting;
    const request = sent.find((m): m is Extract<UiToMain, { type: 'plan-request' }> => m.type === 'plan-request');
    expect(request).toMatchObject({ kind: 'generate', prompt: 'a red kite' });
  });

  test('history stays bounded to the last 30 records', async () => {
    const { panel, receive, lastOfType } = await startedPanel();
    panel.updateSettings({ prompt: 'p', steps: 1 });
    const jobs = Array.from({ length: 35 }, (_, i) => fillJob(`h${i}`, `${i}:1`, { width: 16, height: 16 }));
    panel.requestPlan('generate');
    receive({ type: 'plan', v, requestId: lastOfType('plan-request').requestId, batchId: 'b', jobs, skipped: [] });
    await panel.whenIdle();
    for (const job of jobs) receive({ type: 'job-applied', v, jobId: job.jobId, nodeId: job.nodeId!, nodeName: job.nodeName });
    expect(panel.getState().history).toHaveLength(HISTORY_LIMIT);
    expect(panel.getState().history[0].jobId).toBe('h34');
    expect(lastOfType('history-save').entries).toHaveLength(HISTORY_LIMIT);
  });
});
