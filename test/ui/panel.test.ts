/**
 * The panel as orchestrator, end to end against the real main thread on the Figma fake: it plans
 * batches from the targets it reads, runs them through the engine (the FakeEngine double), places
 * the images through the host, and keeps the queue, notices, history and undo steps consistent.
 */
import { jest } from '@jest/globals';
import { decode } from 'fast-png';
import { PROVENANCE_KEY, parseProvenance, type ProvenanceRecord } from '../../common/provenance.js';
import { STORAGE_KEYS } from '../../src/figma-host.js';
import { HISTORY_LIMIT } from '../../ui/settings/history.js';
import type { FakeShapeNode, FigmaFake } from '../figma-fake/index.js';
import { FAKE_MODEL, FakeEngine, colourForSeed, waitUntil } from './fake-engine.js';
import { panelOnFakeFigma, selectAsync, type PanelSession } from './panel-harness.js';

/** Each test runs batches through the whole link (main thread, structured clones, a paced engine): under a second alone, longer on a shared machine. */
jest.setTimeout(30_000);

const paints = (node: { fills: unknown }) => node.fills as ReadonlyArray<Paint>;

function frame(figma: FigmaFake, name: string, width = 400, height = 300, x = 0, y = 0): FakeShapeNode {
  const node = figma.createFrame();
  node.name = name;
  node.resize(width, height);
  node.x = x;
  node.y = y;
  return node;
}

function recordOf(node: FakeShapeNode): ProvenanceRecord {
  const parsed = parseProvenance(node.getPluginData(PROVENANCE_KEY));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

async function imageOf(figma: FigmaFake, node: FakeShapeNode) {
  const image = paints(node).find((p): p is ImagePaint => p.type === 'IMAGE');
  if (!image) throw new Error(`${node.name} has no image fill`);
  return decode(await figma.getImageByHash(image.imageHash!)!.getBytesAsync());
}

const count = (session: PanelSession, method: string) => session.calls.filter((m) => m === method).length;

describe('start-up', () => {
  test('reads the launch, settings, history and selection from the host, then loads the model', async () => {
    const session = await panelOnFakeFigma({
      setup: async (figma) => {
        await figma.clientStorage.setAsync(STORAGE_KEYS.settings, {
          prompt: 'owl',
          steps: 9999,
          seed: 7,
          seedLocked: false,
          fillMode: 'sideways',
        });
        figma.__userSelect([frame(figma, 'Hero')]);
      },
    });
    const state = session.state();
    expect(state.launch).toEqual({ host: 'figma', command: 'open', source: 'open' });
    expect(state.settings).toMatchObject({ prompt: 'owl', steps: 100, fillMode: 'replace' });
    expect(state.settings.seed).not.toBe(7); // an unlocked seed is not reused
    expect(state.selection.map((l) => l.name)).toEqual(['Hero']);
    expect(state.model).toMatchObject({ status: 'ready', info: { name: FAKE_MODEL.name }, capabilities: { backend: 'wasm' } });
    expect(session.logs).toEqual([]);
  });

  test('a model that fails to load is shown in plain language, blocks generation, and loads on "Try again"', async () => {
    const engine = new FakeEngine();
    engine.loadError = new Error('[model-missing-file] transformer/model.onnx is not in the package');
    const session = await panelOnFakeFigma({ engine });
    expect(session.state().model).toMatchObject({
      status: 'failed',
      error: 'The model could not be loaded. The model package is missing a file: transformer/model.onnx is not in the package',
    });
    session.panel.updateSettings({ prompt: 'owl' });
    expect(await session.panel.generateAsync('generate')).toBe(false);
    expect(session.state().notices.at(-1)?.text).toMatch(/failed to load/);
    expect(count(session, 'readTargets')).toBe(0);
    engine.loadError = undefined;
    await session.panel.retryModelLoadAsync();
    expect(session.state().model).toMatchObject({ status: 'ready', info: { id: FAKE_MODEL.id } });
  });
});

describe('compute (backend) choice', () => {
  test('the stored choice reaches the engine before the model loads; a change is saved and loads the model again', async () => {
    const engine = new FakeEngine();
    const session = await panelOnFakeFigma({
      engine,
      setup: async (figma) => figma.clientStorage.setAsync(STORAGE_KEYS.settings, { compute: 'webgpu' }),
    });
    expect(engine.events).toEqual(['prefer webgpu', 'load']);
    await session.panel.setComputeAsync('wasm');
    expect(engine.events).toEqual(['prefer webgpu', 'load', 'prefer wasm', 'load']);
    expect(session.state().settings.compute).toBe('wasm');
    const storedCompute = async () =>
      ((await session.figma.clientStorage.getAsync(STORAGE_KEYS.settings)) as { compute?: string } | undefined)?.compute;
    for (let i = 0; i < 100 && (await storedCompute()) !== 'wasm'; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await storedCompute()).toBe('wasm');
    // Choosing what is already in use does nothing.
    await session.panel.setComputeAsync('wasm');
    expect(engine.events).toHaveLength(4);
  });

  test('steps and guidance follow each loaded model’s recommendation until the designer sets them', async () => {
    const engine = new FakeEngine();
    engine.model = { ...FAKE_MODEL, hash: 'a1'.repeat(32), recommended: { steps: 12, guidance: 1, shift: 6 } };
    const session = await panelOnFakeFigma({ engine });
    const { figma, panel } = session;
    expect(session.state().settings).toMatchObject({ steps: 12, guidance: 1, samplingFromModel: true });
    await selectAsync(session, [frame(figma, 'A')]);
    panel.updateSettings({ prompt: 'rocket' });
    await panel.generateAsync('generate');
    await session.settle();
    expect(engine.requests.at(-1)).toMatchObject({ steps: 12, guidance: 1 });

    // Another model brings its own, while the designer has not set them.
    engine.model = { ...FAKE_MODEL, hash: 'b2'.repeat(32), recommended: { steps: 28, guidance: 7 } };
    await panel.setComputeAsync('webgpu');
    expect(session.state().settings).toMatchObject({ steps: 28, guidance: 7 });

    // What the designer sets stays, through the next model's load.
    panel.updateSettings({ guidance: 3, samplingFromModel: false });
    engine.model = { ...FAKE_MODEL, hash: 'c3'.repeat(32), recommended: { steps: 20, guidance: 1 } };
    await panel.setComputeAsync('wasm');
    expect(session.state().settings).toMatchObject({ steps: 28, guidance: 3, samplingFromModel: false });
    expect(session.state().notices.map((n) => n.text)).toContain(
      `${FAKE_MODEL.name} recommends 20 steps, guidance 1; the steps and guidance you set are kept (Settings › Use recommended takes the model's).`,
    );

    // One click takes the model's values, and the next model's are followed again.
    panel.useModelRecommendation();
    expect(session.state().settings).toMatchObject({ steps: 20, guidance: 1, samplingFromModel: true });
    engine.model = { ...FAKE_MODEL, hash: 'd4'.repeat(32), recommended: { steps: 16, guidance: 2 } };
    await panel.setComputeAsync('webgpu');
    expect(session.state().settings).toMatchObject({ steps: 16, guidance: 2, samplingFromModel: true });
  });

  test('an unknown stored choice falls back to automatic', async () => {
    const engine = new FakeEngine();
    await panelOnFakeFigma({ engine, setup: async (figma) => figma.clientStorage.setAsync(STORAGE_KEYS.settings, { compute: 'tpu' }) });
    expect(engine.events[0]).toBe('prefer auto');
  });
});

describe('fill', () => {
  test('one Fill on two frames: targets read once, one image placed per frame at its own aspect ratio, one undo step, history', async () => {
    const session = await panelOnFakeFigma();
    const { figma, panel, engine } = session;
    const hero = frame(figma, 'Hero', 400, 300);
    const banner = frame(figma, 'Banner', 1000, 100);
    figma.commitUndo();
    const steps = figma.__undoSteps;
    await selectAsync(session, [hero, banner]);
    panel.updateSettings({ prompt: 'rocket, flat style', steps: 2, guidance: 5, fillMode: 'keep' });
    const seed = session.state().settings.seed;
    const callsBefore = session.calls.length;
    expect(await panel.generateAsync('generate')).toBe(true);
    expect(session.state().settings.seed).not.toBe(seed); // the shown seed was used; the next click gets a new one
    await session.settle();

    // The hops of one batch: targets cross once, each image once, one undo commit.
    expect(session.calls.slice(callsBefore).filter((m) => m !== 'saveValue')).toEqual([
      'readTargets',
      'placeImage',
      'placeImage',
      'commitUndo',
    ]);
    expect(engine.requests.map((r) => r.seed)).toEqual([seed, seed + 1]);
    for (const [node, ratio] of [
      [hero, 4 / 3],
      [banner, 10],
    ] as const) {
      const png = await imageOf(figma, node);
      expect(Math.abs(png.width / png.height / ratio - 1)).toBeLessThan(0.01);
      expect(paints(node).map((p) => p.type)).toEqual(['SOLID', 'IMAGE']);
      expect(recordOf(node)).toMatchObject({
        prompt: 'rocket, flat style',
        steps: 2,
        guidance: 5,
        width: png.width,
        height: png.height,
        model: { id: FAKE_MODEL.id },
        createdAt: '2026-02-01T10:00:00.000Z',
      });
    }
    expect(Array.from((await imageOf(figma, banner)).data.slice(0, 3))).toEqual(colourForSeed(seed + 1));
    expect(figma.__undoSteps).toBe(steps + 1);
    expect(session.state().jobs.map((j) => j.status)).toEqual(['done', 'done']);
    expect(session.state().history.map((h) => h.nodeName)).toEqual(['Banner', 'Hero']);
    expect(((await figma.clientStorage.getAsync(STORAGE_KEYS.history)) as Array<{ nodeId: string }>).map((h) => h.nodeId)).toEqual([
      banner.id,
      hero.id,
    ]);
    expect(await figma.clientStorage.getAsync(STORAGE_KEYS.settings)).toMatchObject({ prompt: 'rocket, flat style', steps: 2 });
    figma.__undo();
    expect(paints(hero).map((p) => p.type)).toEqual(['SOLID']);
    expect(session.logs).toEqual([]);
  });

  test('nothing selected with 2 variations inserts a row of two named frames at the viewport centre, with different seeds', async () => {
    const session = await panelOnFakeFigma({ viewport: { x: 5000, y: -300 } });
    const { figma, panel } = session;
    panel.updateSettings({ prompt: 'owl', steps: 1, variations: 2, insertSize: 'wide-16-9', seed: 50, seedLocked: true });
    await panel.generateAsync('generate');
    await session.settle();
    const created = figma.currentPage.children as unknown as FakeShapeNode[];
    expect(created.map((n) => [n.name, n.width, n.height, n.y])).toEqual([
      ['owl 1', 1024, 576, -588],
      ['owl 2', 1024, 576, -588],
    ]);
    expect(created[1].x - created[0].x).toBe(1024 + 40);
    expect(created.map((n) => recordOf(n).seed)).toEqual([50, 51]);
    expect(figma.__scrolledInto.at(-1)).toEqual(created);
  });

  test('a locked seed is reused by every Generate; an unlocked one changes', async () => {
    const session = await panelOnFakeFigma();
    const { figma, panel, engine } = session;
    await selectAsync(session, [frame(figma, 'A')]);
    panel.updateSettings({ prompt: 'cat', steps: 1 });
    for (const locked of [false, false, true, true]) {
      panel.updateSettings({ seedLocked: locked });
      await panel.generateAsync('generate');
      await session.settle();
    }
    const seeds = engine.requests.map((r) => r.seed);
    expect(seeds[0]).not.toBe(seeds[1]);
    expect(seeds[2]).toBe(seeds[3]);
  });

  test('an empty prompt is refused in plain words and nothing crosses to the host', async () => {
    const session = await panelOnFakeFigma();
    const before = session.calls.length;
    expect(await session.panel.generateAsync('generate')).toBe(false);
    expect(session.state().notices.at(-1)).toMatchObject({ level: 'error', text: 'Describe the image first: the prompt is empty.' });
    expect(session.calls.slice(before)).toEqual([]);
  });
});

describe('skips and notices', () => {
  test('a mixed selection of 10 layers: every skip reason is kept in one grouped notice, none lost', async () => {
    const session = await panelOnFakeFigma();
    const { figma, panel } = session;
    const layers = [frame(figma, 'F1', 64, 64), frame(figma, 'F2', 64, 64), frame(figma, 'F3', 64, 64)];
    const locked = frame(figma, 'Locked frame', 64, 64);
    locked.locked = true;
    const text = figma.createText();
    text.name = 'Caption';
    const group = figma.group([figma.createRectangle()], figma.currentPage);
    const ellipse = figma.createEllipse();
    const rect = figma.createRectangle();
    const component = figma.createComponent();
    const lockedRect = figma.createRectangle();
    lockedRect.name = 'Locked rect';
    lockedRect.locked = true;
    await selectAsync(session, [...layers, locked, text, group, ellipse, rect, component, lockedRect]);
    panel.updateSettings({ prompt: 'owl', steps: 1 });
    await panel.generateAsync('generate');
    await session.settle();
    const skipNotice = session.state().notices.find((n) => n.text.includes('skipped'));
    expect(skipNotice).toMatchObject({ level: 'info', text: '4 skipped: 2 locked, 1 text, 1 group' });
    expect(skipNotice?.details).toEqual([
      '“Locked frame”: The layer is locked. Unlock it to fill it.',
      '“Caption”: Text layers are skipped: an image fill would paint the letters. Select a frame or shape instead.',
      '“Group”: Groups have no fill of their own. Select a frame or shape inside it.',
      '“Locked rect”: The layer is locked. Unlock it to fill it.',
    ]);
    expect(session.state().jobs.map((j) => j.status)).toEqual(Array(6).fill('done'));
  });

  test('a selection with nothing fillable plans no jobs and says why in the panel and on the canvas', async () => {
    const session = await panelOnFakeFigma();
    const text = session.figma.createText();
    text.name = 'Title';
    await selectAsync(session, [text]);
    session.panel.updateSettings({ prompt: 'owl' });
    expect(await session.panel.generateAsync('generate')).toBe(false);
    const message = '“Title”: Text layers are skipped: an image fill would paint the letters. Select a frame or shape instead.';
    expect(session.state().notices.at(-1)).toMatchObject({ level: 'error', text: message });
    expect(session.figma.__notifications.at(-1)).toMatchObject({ message, options: { error: true } });
    expect(count(session, 'commitUndo')).toBe(1); // the batch still ends, with no undo step of its own
  });

  test('a layer deleted mid-job is skipped in its row, in the batch line and on the canvas; the others still get images', async () => {
    const engine = new FakeEngine();
    const session = await panelOnFakeFigma({ engine });
    const { figma, panel } = session;
    const a = frame(figma, 'A', 64, 64);
    const b = frame(figma, 'B', 64, 64);
    const c = frame(figma, 'C', 64, 64);
    await selectAsync(session, [a, b, c]);
    panel.updateSettings({ prompt: 'owl', steps: 3 });
    engine.hold();
    await panel.generateAsync('generate');
    await waitUntil(() => session.state().jobs[0]?.status === 'running', 'job A runs');
    a.remove(); // the running job's layer
    figma.__userSelect([c]);
    await waitUntil(() => engine.cancelCalls.length === 1, 'job A is stopped in the engine');
    b.remove(); // no selection change: caught when its image is placed
    engine.release();
    await session.settle();
    expect(session.state().jobs.map((j) => [j.label, j.status, j.skipCode])).toEqual([
      ['A', 'skipped', 'deleted'],
      ['B', 'skipped', 'deleted'],
      ['C', 'done', undefined],
    ]);
    expect(engine.cancelCalls).toEqual([session.state().jobs[0].jobId]);
    expect(engine.requests).toHaveLength(3); // A stopped mid-way; B ran (its deletion showed only when placing); C ran
    const line = session.state().notices.at(-1)!;
    expect(line).toMatchObject({ text: '1 of 3 placed · 2 skipped: 2 deleted' });
    expect(line.details).toEqual([
      'The layer “A” was deleted, so its image was not made.',
      'The layer “B” was deleted, so its image was not added.',
    ]);
    const toasts = figma.__notifications.map((n) => n.message);
    expect(toasts).toEqual(
      expect.arrayContaining([
        'The layer “A” was deleted, so its image was not made.',
        'The layer “B” was deleted, so its image was not added.',
        'Flowfill: 1 image added; 2 skipped because the layer was deleted or locked.',
      ]),
    );
    expect(paints(c).map((p) => p.type)).toEqual(['IMAGE']);
  });

  test('a layer locked while its image was made is left alone and the job says so', async () => {
    const session = await panelOnFakeFigma();
    const { figma, panel, engine } = session;
    const hero = frame(figma, 'Hero');
    await selectAsync(session, [hero]);
    panel.updateSettings({ prompt: 'owl', steps: 2 });
    engine.hold();
    await panel.generateAsync('generate');
    await waitUntil(() => session.state().jobs[0]?.status === 'running', 'job runs');
    hero.locked = true;
    engine.release();
    await session.settle();
    expect(session.state().jobs[0]).toMatchObject({
      status: 'skipped',
      skipCode: 'locked',
      reason: 'The layer “Hero” was locked, so its image was not added.',
    });
    expect(paints(hero).map((p) => p.type)).toEqual(['SOLID']);
  });

  test('engine failures: the job fails with the engine’s words, one canvas toast per kind of error per batch, the next job runs', async () => {
    const session = await panelOnFakeFigma();
    const { figma, panel } = session;
    await selectAsync(session, [frame(figma, 'A'), frame(figma, 'B')]);
    panel.updateSettings({ prompt: 'FAIL please', steps: 1 });
    const before = figma.__notifications.length;
    await panel.generateAsync('generate');
    await session.settle();
    expect(session.state().jobs.map((j) => [j.status, j.errorCode])).toEqual([
      ['failed', 'invalid-request'],
      ['failed', 'invalid-request'],
    ]);
    expect(session.state().notices.some((n) => /^A: The settings were not accepted: prompt "FAIL please"/.test(n.text))).toBe(true);
    expect(figma.__notifications.slice(before).map((n) => n.message)).toEqual([
      'Flowfill could not start this image: a setting is out of range. Check the panel and try again.',
    ]);
    expect(figma.currentPage.children.every((n) => paints(n as FakeShapeNode).every((p) => p.type !== 'IMAGE'))).toBe(true);
  });

  test('when the engine falls back to another backend mid-session, the header follows it', async () => {
    const engine = new FakeEngine();
    engine.model = { ...FAKE_MODEL, backend: 'webgpu' };
    const session = await panelOnFakeFigma({ engine });
    expect(session.state().model.info?.backend).toBe('webgpu');
    session.panel.updateSettings({ prompt: 'owl', steps: 1 });
    await session.panel.generateAsync('generate');
    await session.settle();
    expect(session.state().model.info?.backend).toBe('wasm');
    expect(session.state().notices.some((n) => n.text === 'The engine now runs on WASM (CPU).')).toBe(true);
  });
});

describe('cancel', () => {
  test('cancel one queued job and the running one: neither reaches the canvas, the rest run, the batch is one undo step', async () => {
    const session = await panelOnFakeFigma();
    const { figma, panel, engine } = session;
    const nodes = [frame(figma, 'A', 64, 64), frame(figma, 'B', 64, 64), frame(figma, 'C', 64, 64)];
    await selectAsync(session, nodes);
    panel.updateSettings({ prompt: 'owl', steps: 5 });
    engine.hold();
    await panel.generateAsync('generate');
    await waitUntil(() => session.state().jobs[0]?.status === 'running', 'job A runs');
    const [a, b] = session.state().jobs;
    await panel.cancelJob(b.jobId);
    await panel.cancelJob(a.jobId);
    engine.release();
    await session.settle();
    expect(session.state().jobs.map((j) => j.status)).toEqual(['cancelled', 'cancelled', 'done']);
    expect(engine.requests.map((r) => r.jobId)).toEqual([a.jobId, session.state().jobs[2].jobId]);
    expect(
      nodes.map((n) =>
        paints(n)
          .map((p) => p.type)
          .join(),
      ),
    ).toEqual(['SOLID', 'SOLID', 'IMAGE']);
    expect(figma.__notifications.at(-1)!.message).toBe('Flowfill: 1 image added; 2 cancelled.');
  });

  test('cancel all stops the running job and every queued one; jobs started afterwards run', async () => {
    const session = await panelOnFakeFigma();
    const { figma, panel, engine } = session;
    await selectAsync(session, [frame(figma, 'A'), frame(figma, 'B')]);
    panel.updateSettings({ prompt: 'owl', steps: 4 });
    engine.hold();
    await panel.generateAsync('generate');
    await waitUntil(() => session.state().jobs[0]?.status === 'running', 'job A runs');
    await panel.cancelAll();
    engine.release();
    await session.settle();
    expect(session.state().jobs.map((j) => j.status)).toEqual(['cancelled', 'cancelled']);
    expect(count(session, 'placeImage')).toBe(0);
    await panel.generateAsync('generate');
    await session.settle();
    expect(
      session
        .state()
        .jobs.slice(2)
        .map((j) => j.status),
    ).toEqual(['done', 'done']);
  });
});

describe('variations and regenerate', () => {
  async function generatedFrame() {
    const session = await panelOnFakeFigma();
    const hero = frame(session.figma, 'Hero', 400, 300, 100, 200);
    hero.fills = [{ type: 'SOLID', color: { r: 1, g: 0, b: 0 } }];
    await selectAsync(session, [hero]);
    session.panel.updateSettings({ prompt: 'rocket, flat style', negativePrompt: 'blurry', steps: 2, seed: 1000, seedLocked: true });
    await session.panel.generateAsync('generate');
    await session.settle();
    // Reselect so the panel sees the record now on the frame.
    session.figma.__userSelect([]);
    await waitUntil(() => session.state().selection.length === 0, 'deselect');
    await selectAsync(session, [hero]);
    return { ...session, hero, first: recordOf(hero) };
  }

  test('seed variations: N frames in a row beside the source, the record’s prompt, new seeds (never the parent’s), the parent recorded', async () => {
    const session = await generatedFrame();
    const { figma, panel, engine, hero, first } = session;
    panel.updateSettings({ prompt: 'something else', variations: 3, seed: 999 });
    await panel.generateAsync('seed-variations');
    await session.settle();
    const created = (figma.currentPage.children as unknown as FakeShapeNode[]).filter((n) => n !== hero);
    expect(created.map((n) => [n.name, n.x, n.y, n.width, n.height])).toEqual([
      ['Hero — variation 1', 540, 200, 400, 300],
      ['Hero — variation 2', 980, 200, 400, 300],
      ['Hero — variation 3', 1420, 200, 400, 300],
    ]);
    expect(engine.requests.slice(1).map((r) => [r.seed, r.prompt, r.negativePrompt, r.width, r.height])).toEqual(
      [999, 1001, 1002].map((seed) => [seed, first.prompt, 'blurry', first.width, first.height]),
    );
    expect(created.map((n) => recordOf(n).parent)).toEqual(created.map(() => ({ nodeId: hero.id, seed: 1000 })));
    expect(figma.__scrolledInto.at(-1)).toEqual(created);
  });

  test('image variation: the source’s real pixels (exported once) start the image; the record has strength and parent', async () => {
    const session = await generatedFrame();
    const { figma, panel, engine, hero } = session;
    const plain = frame(figma, 'Plain', 256, 256, 0, 900);
    plain.fills = [{ type: 'SOLID', color: { r: 0, g: 0, b: 1 } }];
    await selectAsync(session, [plain]);
    panel.updateSettings({ prompt: 'owl', strength: 0.45, variations: 1 });
    const before = session.calls.length;
    await panel.generateAsync('image-variations');
    await session.settle();
    expect(session.calls.slice(before).filter((m) => m !== 'saveValue')).toEqual([
      'readTargets',
      'exportPng',
      'placeImage',
      'commitUndo',
      'reveal',
    ]);
    const request = engine.requests.at(-1)!;
    expect([request.init?.width, request.init?.height]).toEqual([request.width, request.height]);
    expect(Array.from(request.init!.rgba.slice(0, 4))).toEqual([0, 0, 255, 255]);
    const variation = (figma.currentPage.children as unknown as FakeShapeNode[]).find((n) => n.name === 'Plain — variation 1')!;
    expect(recordOf(variation)).toMatchObject({ strength: 0.45, parent: { nodeId: plain.id } });
    expect(hero).toBeDefined();
  });

  test('an image variation whose source is gone fails that job with the host’s reason; the next job still runs', async () => {
    const session = await panelOnFakeFigma();
    const { figma, panel, engine } = session;
    const a = frame(figma, 'A', 64, 64);
    const b = frame(figma, 'B', 64, 64);
    await selectAsync(session, [a, b]);
    panel.updateSettings({ prompt: 'owl', steps: 1 });
    engine.hold();
    await panel.generateAsync('image-variations');
    await waitUntil(() => session.state().jobs.length === 2, 'planned');
    b.remove();
    engine.release();
    await session.settle();
    expect(session.state().jobs.map((j) => j.status)).toEqual(['done', 'failed']);
    expect(session.state().jobs[1].reason).toMatch(
      /^Could not read the pixels of the source layer: exportPng: The layer .* no longer exists/,
    );
  });

  test('Variations (the relaunch button) picks seed variations for a Flowfill image and image variations otherwise', async () => {
    const session = await generatedFrame();
    const { panel, engine } = session;
    await panel.generateAsync('variations');
    await session.settle();
    expect(engine.requests.at(-1)!.init).toBeUndefined();
    const plain = frame(session.figma, 'Plain', 64, 64, 0, 900);
    await selectAsync(session, [plain]);
    await panel.generateAsync('variations');
    await session.settle();
    expect(engine.requests.at(-1)!.init).toBeDefined();
  });

  test('regenerate reproduces the record exactly (prompt, seed, size), whatever the panel settings are now', async () => {
    const session = await generatedFrame();
    const { figma, panel, engine, hero, first } = session;
    const bytes = await imageOf(figma, hero);
    const plain = frame(figma, 'Plain');
    await selectAsync(session, [hero, plain]);
    panel.updateSettings({ prompt: 'cat', steps: 9, seed: 7 });
    await panel.generateAsync('regenerate');
    await session.settle();
    expect(engine.requests.at(-1)).toMatchObject({
      prompt: first.prompt,
      seed: first.seed,
      steps: first.steps,
      width: first.width,
      height: first.height,
    });
    expect(Buffer.from((await imageOf(figma, hero)).data).equals(Buffer.from(bytes.data))).toBe(true);
    expect(session.state().notices.find((n) => n.text === '1 skipped: 1 no Flowfill image')).toBeDefined();
  });
});

describe('launch commands', () => {
  test('the quick action: hidden panel, generates with its prompt once the model is ready, progress toasts, then closes', async () => {
    const session = await panelOnFakeFigma({
      command: 'generate',
      parameters: { prompt: 'a red kite' },
      setup: (figma) => figma.__userSelect([frame(figma, 'A', 64, 64), frame(figma, 'B', 64, 64)]),
    });
    await session.settle();
    const { figma, engine } = session;
    expect(figma.ui.current).toBeNull();
    expect(figma.__closed).not.toBeNull();
    expect(engine.requests.map((r) => r.prompt)).toEqual(['a red kite', 'a red kite']);
    const messages = figma.__notifications.map((n) => n.message);
    expect(messages).toEqual(['Flowfill: generating “a red kite”…', 'Flowfill: 1 of 2 images placed…', 'Flowfill: 2 of 2 images placed…']);
    expect(figma.__notifications.every((n) => n.cancelled)).toBe(true);
    expect(figma.__undoSteps).toBe(1);
  });

  test('a launch command waits for the model, then runs once', async () => {
    const engine = new FakeEngine();
    engine.hold();
    const session = await panelOnFakeFigma({
      command: 'fill-selection',
      engine,
      start: false,
      setup: (figma) => figma.__userSelect([frame(figma, 'A', 64, 64)]),
    });
    session.panel.updateSettings({ prompt: 'owl', steps: 1 });
    const starting = session.panel.startAsync();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(count(session, 'readTargets')).toBe(0);
    engine.release();
    await starting;
    await session.settle();
    expect(count(session, 'readTargets')).toBe(1);
    expect(session.state().jobs.map((j) => j.status)).toEqual(['done']);
  });
});

/** 40 images through every hop: generous for a shared 2-core machine (a stuck run fails instead of hanging). */
const FORTY_IMAGES_BUDGET_MS = 30_000;

test(
  'history stays bounded to the last 30 records',
  async () => {
    const session = await panelOnFakeFigma();
    session.panel.updateSettings({ prompt: 'p', steps: 1, variations: 8, insertSize: 'custom', customWidth: 16, customHeight: 16 });
    for (let i = 0; i < 5; i++) {
      await session.panel.generateAsync('generate');
      await session.settle();
    }
    expect(session.state().history).toHaveLength(HISTORY_LIMIT);
    expect(((await session.figma.clientStorage.getAsync(STORAGE_KEYS.history)) as unknown[]).length).toBe(HISTORY_LIMIT);
    expect(session.state().jobs.length).toBeLessThanOrEqual(20);
  },
  FORTY_IMAGES_BUDGET_MS,
);
