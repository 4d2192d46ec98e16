/**
 * The Figma host end to end on the Figma fake: src/plugin.ts started as Figma starts it, called
 * through the same typed link the panel uses.
 */
import { PROVENANCE_KEY, parseProvenance, type ProvenanceRecord } from '../../common/provenance.js';
import { RpcError } from '../../common/rpc-link.js';
import { STORAGE_KEYS } from '../../src/figma-host.js';
import { decodePngToRgba, type FakeShapeNode, type FigmaFake } from '../figma-fake/index.js';
import { makePng } from '../figma-fake/test-images.js';
import { rpcHead, startOnFake } from './harness.js';

const blue: SolidPaint = { type: 'SOLID', color: { r: 0, g: 0, b: 1 } };

function shapes(figma: FigmaFake) {
  const frame = figma.createFrame();
  frame.name = 'Hero';
  frame.resize(400, 300);
  frame.x = 100;
  frame.y = 200;
  frame.fills = [blue];
  const rect = figma.createRectangle();
  rect.name = 'Banner';
  rect.resize(1000, 100);
  const text = figma.createText();
  text.name = 'Title';
  const group = figma.group([figma.createEllipse()], figma.currentPage);
  const locked = figma.createRectangle();
  locked.name = 'Locked';
  locked.locked = true;
  const vector = figma.createStar();
  return { frame, rect, text, group, locked, vector };
}

const paintsOf = (n: FakeShapeNode) => n.fills as ReadonlyArray<Paint>;

function record(width: number, height: number, extra: Partial<ProvenanceRecord> = {}): ProvenanceRecord {
  return {
    format: 'flowfill-provenance',
    version: 1,
    prompt: 'rocket, flat style',
    negativePrompt: '',
    seed: 7,
    steps: 4,
    guidance: 4.5,
    width,
    height,
    model: { id: 'tiny', hash: 'abc123' },
    backend: 'wasm',
    createdAt: '2026-01-31T12:00:00.000Z',
    ...extra,
  };
}

/** Arguments to place a solid PNG of w×h on an existing node. */
function placeOn(nodeId: string, colour: [number, number, number, number] = [10, 200, 30, 255], w = 64, h = 48) {
  return {
    destination: { kind: 'existing' as const, nodeId },
    png: makePng(w, h, colour),
    fillMode: 'keep' as const,
    record: record(w, h),
  };
}

describe('launch', () => {
  test('opens the panel with theme colours at 340×600 and tells it what started the run', async () => {
    const { figma, host } = await startOnFake({ command: 'open' });
    expect(figma.ui.current).toMatchObject({ width: 340, height: 600, visible: true, options: { themeColors: true, title: 'Flowfill' } });
    expect(await host.readLaunch()).toEqual({ host: 'figma', command: 'open', source: 'open' });
  });

  test.each([
    ['fill-selection', 'menu'],
    ['variations', 'relaunch'],
    ['regenerate', 'relaunch'],
    ['generate', 'menu'],
  ])('command %s reaches the panel from %s', async (command, source) => {
    const { host } = await startOnFake({ command });
    expect(await host.readLaunch()).toEqual({ host: 'figma', command, source });
  });

  test('the quick action passes its prompt, keeps the panel hidden and shows a persistent toast with Cancel', async () => {
    const { figma, host } = await startOnFake({ command: 'generate', parameters: { prompt: 'a red fox' } });
    expect(await host.readLaunch()).toEqual({ host: 'figma', command: 'generate', source: 'quick-action', prompt: 'a red fox' });
    expect(figma.ui.current?.visible).toBe(false);
    expect(figma.__notifications.at(-1)).toMatchObject({
      message: 'Flowfill: generating “a red fox”…',
      options: { timeout: Infinity, button: { text: 'Cancel' } },
    });
    expect(figma.__parameterInput('prompt', 'fox').suggestions).toEqual(expect.arrayContaining(['fox', 'fox, flat style']));
    // The default model draws icons too, captioned "<name> icon, <style>, <colour> on <background>".
    expect(figma.__parameterInput('prompt', 'heart').suggestions).toContain('heart icon, line style, black on white');
    expect(figma.__parameterInput('prompt', 'heart icon').suggestions).toEqual([
      'heart icon',
      'heart icon, line style, black on white',
      'heart icon, filled style, dark blue on white',
      'heart icon, bold style, white on dark teal',
    ]);
    // A named style is not followed by another; only the colours are offered, until they are named too.
    expect(figma.__parameterInput('prompt', 'heart icon, line style,').suggestions).toEqual([
      'heart icon, line style',
      'heart icon, line style, black on white',
    ]);
    expect(figma.__parameterInput('prompt', 'fox, flat style').suggestions).toEqual([
      'fox, flat style',
      'fox, flat style, on a white background',
    ]);
    expect(figma.__parameterInput('prompt', 'fox, flat style, on a red background').suggestions).toEqual([
      'fox, flat style, on a red background',
    ]);
  });

  test('the quick action with an empty prompt says what to type and opens nothing', async () => {
    const { figma } = await startOnFake({ command: 'generate', parameters: { prompt: '  ' } });
    expect(figma.ui.current).toBeNull();
    expect(figma.__notifications.at(-1)).toMatchObject({ message: expect.stringMatching(/type a prompt/), options: { error: true } });
    expect(figma.__closed).not.toBeNull();
  });
});

describe('selection and targets', () => {
  test('readSelection says which layers can hold an image, and why not the others, without sizes', async () => {
    const { figma, host } = await startOnFake();
    const s = shapes(figma);
    figma.__userSelect([s.frame, s.rect, s.text, s.group, s.locked]);
    const { layers } = await host.readSelection();
    expect(layers.map((l) => [l.name, l.type, l.unfillable])).toEqual([
      ['Hero', 'FRAME', undefined],
      ['Banner', 'RECTANGLE', undefined],
      ['Title', 'TEXT', 'text'],
      ['Group', 'GROUP', 'group'],
      ['Locked', 'RECTANGLE', 'locked'],
    ]);
    expect(layers[0]).not.toHaveProperty('width');
  });

  test('readTargets adds each layer’s size and page position, and the viewport centre', async () => {
    const { figma, host } = await startOnFake({ viewport: { x: 5000, y: -300 } });
    const { frame, rect } = shapes(figma);
    figma.__userSelect([frame, rect]);
    const { targets, viewportCenter } = await host.readTargets();
    expect(targets.map((t) => [t.id, t.width, t.height, t.x, t.y])).toEqual([
      [frame.id, 400, 300, 100, 200],
      [rect.id, 1000, 100, 0, 0],
    ]);
    expect(viewportCenter).toEqual({ x: 5000, y: -300 });
  });

  test('a selection change pushes the new selection to the panel', async () => {
    const { figma, connection } = await startOnFake();
    const { frame, text } = shapes(figma);
    const seen: string[][] = [];
    connection.on('selection-changed', ({ layers }) => seen.push(layers.map((l) => l.name)));
    figma.__userSelect([frame, text]);
    await figma.__flush();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(seen).toEqual([['Hero', 'Title']]);
  });

  test('a stored record is read back on the layer; a broken one is ignored', async () => {
    const { figma, host } = await startOnFake();
    const { frame, rect } = shapes(figma);
    frame.setPluginData(PROVENANCE_KEY, JSON.stringify(record(64, 48)));
    rect.setPluginData(PROVENANCE_KEY, '{broken');
    figma.__userSelect([frame, rect]);
    const { layers } = await host.readSelection();
    expect(layers[0].provenance).toEqual(record(64, 48));
    expect(layers[1].provenance).toBeUndefined();
  });

  test('checkNodes names the layers that are gone', async () => {
    const { figma, host } = await startOnFake();
    const { frame, rect } = shapes(figma);
    rect.remove();
    expect(await host.checkNodes({ nodeIds: [frame.id, rect.id, '99:99'] })).toEqual({ missing: [rect.id, '99:99'] });
  });
});

describe('placeImage', () => {
  test('keeps existing fills underneath, puts the image on top as FILL, stores the record and relaunch buttons; one undo step per commit', async () => {
    const { figma, host } = await startOnFake();
    const { frame, rect, locked } = shapes(figma);
    figma.commitUndo();
    const steps = figma.__undoSteps;
    const rectBefore = paintsOf(rect);
    expect(await host.placeImage(placeOn(frame.id))).toEqual({ placed: true, nodeId: frame.id, nodeName: 'Hero' });
    expect(await host.placeImage(placeOn(rect.id))).toMatchObject({ placed: true });
    expect(figma.__undoSteps).toBe(steps); // nothing is committed until the batch ends
    await host.commitUndo();
    expect(figma.__undoSteps).toBe(steps + 1);
    await host.commitUndo(); // nothing new placed: no empty step
    expect(figma.__undoSteps).toBe(steps + 1);

    const fills = paintsOf(frame);
    expect(fills.map((p) => p.type)).toEqual(['SOLID', 'IMAGE']);
    expect(fills[1]).toMatchObject({ scaleMode: 'FILL' });
    const image = figma.getImageByHash((fills[1] as ImagePaint).imageHash!);
    expect(await image!.getSizeAsync()).toEqual({ width: 64, height: 48 });
    const stored = parseProvenance(frame.getPluginData(PROVENANCE_KEY));
    expect(stored.ok && stored.value).toEqual({ ...record(64, 48), imageHash: (fills[1] as ImagePaint).imageHash });
    expect(frame.getPluginDataKeys()).toEqual([PROVENANCE_KEY]);
    expect(frame.getRelaunchData()).toEqual({ regenerate: '', variations: '' });
    expect(locked.getPluginData(PROVENANCE_KEY)).toBe('');

    // One Cmd-Z undoes the whole batch.
    figma.__undo();
    expect(paintsOf(frame)).toEqual([expect.objectContaining({ type: 'SOLID' })]);
    expect(frame.getPluginData(PROVENANCE_KEY)).toBe('');
    expect(paintsOf(rect)).toEqual(rectBefore);
  });

  test("'replace' leaves only the image; 'keep' again replaces Flowfill's previous image instead of stacking", async () => {
    const { figma, host } = await startOnFake();
    const { frame, rect } = shapes(figma);
    await host.placeImage({ ...placeOn(rect.id), fillMode: 'replace' });
    expect(paintsOf(rect).map((p) => p.type)).toEqual(['IMAGE']);
    await host.placeImage(placeOn(frame.id, [255, 0, 0, 255]));
    await host.placeImage(placeOn(frame.id, [0, 255, 0, 255]));
    expect(paintsOf(frame).map((p) => p.type)).toEqual(['SOLID', 'IMAGE']);
    const exported = decodePngToRgba(await frame.exportAsync());
    expect(Array.from(exported.data.subarray(0, 4))).toEqual([0, 255, 0, 255]);
  });

  test('a create destination makes the named frame at the given place and size only once the image is accepted', async () => {
    const { figma, host } = await startOnFake();
    const before = figma.currentPage.children.length;
    const rejected = await host.placeImage({
      destination: { kind: 'create', name: 'x', x: 0, y: 0, width: 10, height: 10 },
      png: corruptPng(),
      fillMode: 'keep',
      record: record(16, 16),
    });
    expect(rejected).toMatchObject({ placed: false, reason: 'image-rejected' });
    expect(figma.currentPage.children.length).toBe(before);
    const placed = await host.placeImage({
      destination: { kind: 'create', name: 'rocket, flat style', x: 4840, y: -390, width: 320, height: 180 },
      png: makePng(64, 48),
      fillMode: 'keep',
      record: record(64, 48),
    });
    if (!placed.placed) throw new Error(placed.message);
    const frame = (await figma.getNodeByIdAsync(placed.nodeId)) as FakeShapeNode;
    expect([frame.type, frame.name, frame.x, frame.y, frame.width, frame.height]).toEqual([
      'FRAME',
      'rocket, flat style',
      4840,
      -390,
      320,
      180,
    ]);
    expect(paintsOf(frame).map((p) => p.type)).toEqual(['IMAGE']);
    await host.reveal({ nodeIds: [placed.nodeId] });
    expect(figma.__scrolledInto.at(-1)).toEqual([frame]);
  });

  test('a layer deleted or locked meanwhile is left alone and says so', async () => {
    const { figma, host } = await startOnFake();
    const { frame, rect } = shapes(figma);
    rect.remove();
    frame.locked = true;
    expect(await host.placeImage(placeOn(rect.id))).toMatchObject({ placed: false, reason: 'node-missing' });
    expect(await host.placeImage(placeOn(frame.id))).toMatchObject({
      placed: false,
      reason: 'node-locked',
      message: 'The layer Hero is locked',
    });
    expect(paintsOf(frame).map((p) => p.type)).toEqual(['SOLID']);
    expect(frame.getPluginData(PROVENANCE_KEY)).toBe('');
  });

  test('an image whose record disagrees with its bytes is refused before anything changes', async () => {
    const { figma, host } = await startOnFake();
    const { frame } = shapes(figma);
    const args = { ...placeOn(frame.id), png: makePng(16, 16) };
    await expect(host.placeImage(args)).rejects.toMatchObject({ code: 'malformed-call' });
    // The host refuses it too when a panel sends it anyway.
    const reply = await (await startOnFake()).raw({ ...rpcHead, kind: 'call', method: 'placeImage', args });
    expect(reply).toMatchObject({ ok: false, error: { code: 'malformed-call', message: expect.stringContaining('the PNG’s own size') } });
    expect(paintsOf(frame).map((p) => p.type)).toEqual(['SOLID']);
  });
});

/** A PNG whose header is fine but whose data does not decode: Figma refuses it at createImage. */
function corruptPng(): Uint8Array {
  const png = makePng(16, 16);
  png.fill(0, 40, png.length - 12);
  return png;
}

describe('exportPng', () => {
  test('returns the layer’s real pixels as PNG at the requested width', async () => {
    const { figma, host } = await startOnFake();
    const { frame } = shapes(figma);
    await host.placeImage(placeOn(frame.id));
    const rgba = decodePngToRgba(await host.exportPng({ nodeId: frame.id, width: 80 }));
    expect([rgba.width, rgba.height]).toEqual([80, 60]);
    expect(Array.from(rgba.data.subarray(0, 4))).toEqual([10, 200, 30, 255]);
  });

  test('a deleted layer answers node-missing', async () => {
    const { figma, host } = await startOnFake();
    const { frame } = shapes(figma);
    frame.remove();
    const error = await host.exportPng({ nodeId: frame.id, width: 64 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcError);
    expect(error).toMatchObject({ code: 'node-missing' });
  });
});

describe('storage, toasts, close', () => {
  test('settings and history persist through clientStorage; a full one answers storage-failed', async () => {
    const { figma, host } = await startOnFake({ clientStorageQuotaBytes: 200 });
    expect(await host.loadValue({ key: 'settings' })).toBeNull();
    await host.saveValue({ key: 'settings', value: { prompt: 'fox', steps: 12 } });
    expect(await figma.clientStorage.getAsync(STORAGE_KEYS.settings)).toEqual({ prompt: 'fox', steps: 12 });
    expect(await host.loadValue({ key: 'settings' })).toEqual({ prompt: 'fox', steps: 12 });
    await expect(host.saveValue({ key: 'history', value: ['x'.repeat(300)] })).rejects.toMatchObject({
      code: 'storage-failed',
      message: expect.stringContaining('flowfill.history'),
    });
  });

  test('notify shows a toast; showProgress replaces the previous progress toast', async () => {
    const { figma, host } = await startOnFake();
    await host.notify({ message: 'Model loaded', error: false });
    expect(figma.__notifications.at(-1)).toMatchObject({ message: 'Model loaded', options: undefined });
    await host.showProgress({ message: 'Flowfill: 1 of 2 images placed…' });
    await host.showProgress({ message: 'Flowfill: 2 of 2 images placed…' });
    const progress = figma.__notifications.filter((n) => n.options?.button);
    expect(progress.map((n) => [n.message, n.cancelled])).toEqual([
      ['Flowfill: 1 of 2 images placed…', true],
      ['Flowfill: 2 of 2 images placed…', false],
    ]);
  });

  test('close mid-batch: what was placed becomes one undo step, the rest is untouched', async () => {
    const { figma, host } = await startOnFake();
    const { frame, rect } = shapes(figma);
    figma.commitUndo();
    const steps = figma.__undoSteps;
    await host.placeImage(placeOn(frame.id));
    // Closing removes the panel, so no reply comes back: nothing awaits it.
    void host.close();
    await figma.__flush();
    expect(figma.__closed).not.toBeNull();
    expect(figma.__undoSteps).toBe(steps + 1);
    expect(parseProvenance(frame.getPluginData(PROVENANCE_KEY)).ok).toBe(true);
    expect(paintsOf(rect).some((p) => p.type === 'IMAGE')).toBe(false);
  });

  test("the quick action's Cancel closes the plugin: placed images stay as one undo step, later ones never land", async () => {
    const { figma, host } = await startOnFake({ command: 'generate', parameters: { prompt: 'rocket, flat style' } });
    const { frame, rect } = shapes(figma);
    figma.commitUndo();
    const frameBefore = paintsOf(frame);
    await host.placeImage(placeOn(frame.id));
    figma.__notifications.at(-1)!.options!.button!.action();
    expect(figma.__closed).not.toBeNull();
    expect(figma.__notifications.filter((n) => n.options?.button).every((n) => n.cancelled)).toBe(true);
    // The panel, and the engine in it, are gone with the plugin: nothing more can arrive.
    await expect(figma.ui.send({ ...rpcHead, kind: 'call', id: 1, method: 'placeImage', args: placeOn(rect.id) })).rejects.toThrow(
      /no UI is open/,
    );
    figma.__undo();
    expect(paintsOf(frame)).toEqual(frameBefore);
  });

  test('Figma closing the plugin (another command, the close button) closes the undo step too', async () => {
    const { figma, host } = await startOnFake();
    const { frame } = shapes(figma);
    figma.commitUndo();
    const steps = figma.__undoSteps;
    await host.placeImage(placeOn(frame.id));
    figma.closePlugin();
    expect(figma.__undoSteps).toBe(steps + 1);
  });
});
