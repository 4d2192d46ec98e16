/**
 * The plugin main thread end to end on the Figma fake, with the test playing the panel.
 */
import { PROTOCOL_VERSION } from '../../common/protocol.js';
import { PROVENANCE_KEY, parseProvenance } from '../../common/provenance.js';
import { decodePngToRgba, type FakeShapeNode, type FigmaFake } from '../figma-fake/index.js';
import { makePng } from '../figma-fake/test-images.js';
import { planRequest, readyUi, resultFor, startOnFake } from './harness.js';

const v = PROTOCOL_VERSION;
const blue: SolidPaint = { type: 'SOLID', color: { r: 0, g: 0, b: 1 } };

function shapes(figma: FigmaFake) {
  const frame = figma.createFrame();
  frame.name = 'Hero';
  frame.resize(400, 300);
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
  return { frame, rect, text, group, locked };
}

const paintsOf = (n: FakeShapeNode) => n.fills as ReadonlyArray<Paint>;

describe('session start', () => {
  test('opens the panel with theme colours and answers ui-ready with init, settings, history and selection', async () => {
    const { figma, ui } = await startOnFake({ command: 'open' });
    expect(figma.ui.current).toMatchObject({ width: 340, height: 600, options: { themeColors: true } });
    await ui.send({ type: 'ui-ready', v });
    expect((await ui.next('init')).command).toBe('open');
    expect((await ui.next('settings-loaded')).settings).toBeNull();
    expect((await ui.next('history-loaded')).entries).toEqual([]);
    expect((await ui.next('selection-changed')).targets).toEqual([]);
    expect(ui.all('run-command')).toEqual([]);
    ui.assertAllValid();
  });

  test('settings and history persist through clientStorage across launches', async () => {
    const first = await readyUi();
    await first.ui.send({ type: 'settings-save', v, settings: { prompt: 'fox', steps: 12 } });
    const stored = await first.figma.clientStorage.getAsync('flowfill.settings');
    expect(stored).toEqual({ prompt: 'fox', steps: 12 });
    await first.ui.send({ type: 'settings-load', v });
    const loaded = first.ui.all('settings-loaded');
    expect(loaded[loaded.length - 1].settings).toEqual({ prompt: 'fox', steps: 12 });
  });

  test('a full clientStorage answers storage-failed instead of crashing', async () => {
    const { ui } = await readyUi({ clientStorageQuotaBytes: 50 });
    await ui.send({ type: 'settings-save', v, settings: { prompt: 'x'.repeat(100) } });
    expect(await ui.next('error')).toMatchObject({ code: 'storage-failed', inReplyTo: 'settings-save' });
  });

  test('stored settings that no longer validate load as null', async () => {
    const session = await startOnFake();
    await session.figma.clientStorage.setAsync('flowfill.settings', 'not an object');
    await session.ui.send({ type: 'ui-ready', v });
    expect((await session.ui.next('settings-loaded')).settings).toBeNull();
  });
});

describe('selection', () => {
  test('reports every selected node with canFill and a reason for those skipped', async () => {
    const { figma, ui } = await readyUi();
    const s = shapes(figma);
    figma.__userSelect([s.frame, s.rect, s.text, s.group, s.locked]);
    await figma.__flush();
    const msgs = ui.all('selection-changed');
    const targets = msgs[msgs.length - 1].targets;
    expect(targets.map((t) => [t.name, t.type, t.canFill])).toEqual([
      ['Hero', 'FRAME', true],
      ['Banner', 'RECTANGLE', true],
      ['Title', 'TEXT', false],
      ['Group', 'GROUP', false],
      ['Locked', 'RECTANGLE', false],
    ]);
    expect(targets[0]).toMatchObject({ width: 400, height: 300, hasImageFill: false });
    expect(targets[2].skipReason).toMatch(/Text layers/);
    expect(targets[3].skipReason).toMatch(/Groups have no fill/);
    expect(targets[4].skipReason).toMatch(/locked/);
    ui.assertAllValid();
  });
});

describe('fill selection', () => {
  test('plans each fillable node at its own aspect ratio, skips the rest with reasons, applies images as FILL on top of kept fills, one undo step', async () => {
    const { figma, ui } = await readyUi();
    const s = shapes(figma);
    figma.commitUndo();
    const undoStepsBefore = figma.__undoSteps;
    figma.__userSelect([s.frame, s.rect, s.text, s.group, s.locked]);
    await ui.send(planRequest());
    const plan = await ui.next('plan');
    expect(plan.requestId).toBe('r1');
    expect(plan.jobs.map((j) => [j.kind, j.nodeId])).toEqual([
      ['fill', s.frame.id],
      ['fill', s.rect.id],
    ]);
    for (const job of plan.jobs) {
      expect(job.gen.width % 16).toBe(0);
      expect(job.gen.height % 16).toBe(0);
    }
    expect(Math.abs(plan.jobs[0].gen.width / plan.jobs[0].gen.height / (400 / 300) - 1)).toBeLessThan(0.01);
    expect(Math.abs(plan.jobs[1].gen.width / plan.jobs[1].gen.height / 10 - 1)).toBeLessThan(0.01);
    expect(plan.skipped.map((x) => x.name)).toEqual(['Title', 'Group', 'Locked']);

    const rectFillsBefore = paintsOf(s.rect);
    await ui.send(resultFor(plan.jobs[0]));
    expect(figma.__undoSteps).toBe(undoStepsBefore); // no commit until the batch ends
    await ui.send(resultFor(plan.jobs[1]));
    expect(await ui.next('job-applied')).toMatchObject({ jobId: plan.jobs[0].jobId, nodeId: s.frame.id, nodeName: 'Hero' });
    expect(await ui.next('batch-done')).toMatchObject({ batchId: plan.batchId, applied: 2, dropped: 0, failed: 0, cancelled: 0 });
    expect(figma.__undoSteps).toBe(undoStepsBefore + 1);

    // Existing fills stay underneath; the image is on top, FILL.
    const fills = paintsOf(s.frame);
    expect(fills).toHaveLength(2);
    expect(fills[0]).toMatchObject({ type: 'SOLID', color: { r: 0, g: 0, b: 1 } });
    expect(fills[1]).toMatchObject({ type: 'IMAGE', scaleMode: 'FILL' });
    const image = figma.getImageByHash((fills[1] as ImagePaint).imageHash!);
    expect(await image!.getSizeAsync()).toEqual(plan.jobs[0].gen);
    expect(paintsOf(s.rect)).toHaveLength(rectFillsBefore.length + 1);

    // Provenance: one JSON record under one key, plus relaunch buttons.
    const record = parseProvenance(s.frame.getPluginData(PROVENANCE_KEY));
    expect(record.ok && record.value).toMatchObject({ prompt: 'rocket, flat style', seed: 7, width: plan.jobs[0].gen.width, imageHash: (fills[1] as ImagePaint).imageHash });
    expect(s.frame.getPluginDataKeys()).toEqual([PROVENANCE_KEY]);
    expect(s.frame.getRelaunchData()).toEqual({ regenerate: '', variations: '' });
    // Skipped nodes are untouched.
    expect(s.locked.getPluginData(PROVENANCE_KEY)).toBe('');

    // One Cmd-Z undoes the whole batch.
    figma.__undo();
    expect(paintsOf(s.frame)).toEqual([expect.objectContaining({ type: 'SOLID' })]);
    expect(s.frame.getPluginData(PROVENANCE_KEY)).toBe('');
    expect(paintsOf(s.rect)).toEqual(rectFillsBefore);
    ui.assertAllValid();
  });

  test("fillMode 'replace' leaves only the image", async () => {
    const { figma, ui } = await readyUi();
    const { frame } = shapes(figma);
    figma.__userSelect([frame]);
    await ui.send(planRequest({ fillMode: 'replace' }));
    const plan = await ui.next('plan');
    await ui.send(resultFor(plan.jobs[0]));
    expect(paintsOf(frame).map((p) => p.type)).toEqual(['IMAGE']);
  });

  test("regenerating in 'keep' mode replaces Flowfill's previous image instead of stacking, and keeps the user's fills", async () => {
    const { figma, ui } = await readyUi();
    const { frame } = shapes(figma);
    figma.__userSelect([frame]);
    await ui.send(planRequest());
    const first = await ui.next('plan');
    await ui.send(resultFor(first.jobs[0], [255, 0, 0, 255]));
    await ui.send(planRequest({ requestId: 'r2' }));
    const second = await ui.next('plan');
    await ui.send(resultFor(second.jobs[0], [0, 255, 0, 255]));
    const fills = paintsOf(frame);
    expect(fills.map((p) => p.type)).toEqual(['SOLID', 'IMAGE']);
    const exported = decodePngToRgba(await frame.exportAsync());
    expect(Array.from(exported.data.subarray(0, 4))).toEqual([0, 255, 0, 255]);
  });

  test('a selection change after planning does not retarget the running batch', async () => {
    const { figma, ui } = await readyUi();
    const { frame, rect } = shapes(figma);
    figma.__userSelect([frame]);
    await ui.send(planRequest());
    const plan = await ui.next('plan');
    figma.__userSelect([rect]);
    await figma.__flush();
    await ui.send(resultFor(plan.jobs[0]));
    expect(paintsOf(frame).some((p) => p.type === 'IMAGE')).toBe(true);
    expect(paintsOf(rect).some((p) => p.type === 'IMAGE')).toBe(false);
  });

  test('a selection with nothing fillable plans no jobs and says why on the canvas', async () => {
    const { figma, ui } = await readyUi();
    const { text } = shapes(figma);
    figma.__userSelect([text]);
    await ui.send(planRequest());
    const plan = await ui.next('plan');
    expect(plan.jobs).toEqual([]);
    expect(figma.__notifications.at(-1)).toMatchObject({ message: expect.stringMatching(/“Title”: Text layers/), options: { error: true } });
  });
});

describe('nothing selected', () => {
  test('inserts a new frame at the viewport centre, named after the prompt, and scrolls it into view', async () => {
    const { figma, ui } = await readyUi({ viewport: { x: 5000, y: -300 } });
    const pageBefore = figma.currentPage.children.length;
    await ui.send(planRequest({ prompt: '  rocket,   flat style\nsecond line', newFrame: { width: 320, height: 180 } }));
    const plan = await ui.next('plan');
    expect(plan.jobs).toHaveLength(1);
    expect(plan.jobs[0]).toMatchObject({ kind: 'new-frame', nodeId: null, nodeName: 'rocket, flat style', target: { width: 320, height: 180 } });
    // Nothing is created before the image exists: cancelling leaves the page as it was.
    expect(figma.currentPage.children.length).toBe(pageBefore);
    await ui.send(resultFor(plan.jobs[0]));
    const applied = await ui.next('job-applied');
    const frame = (await figma.getNodeByIdAsync(applied.nodeId)) as FakeShapeNode;
    expect(frame.type).toBe('FRAME');
    expect(frame.name).toBe('rocket, flat style');
    expect([frame.x + frame.width / 2, frame.y + frame.height / 2]).toEqual([5000, -300]);
    expect([frame.width, frame.height]).toEqual([320, 180]);
    expect(paintsOf(frame).map((p) => p.type)).toEqual(['IMAGE']);
    expect(figma.__scrolledInto.at(-1)).toEqual([frame]);
    expect(parseProvenance(frame.getPluginData(PROVENANCE_KEY)).ok).toBe(true);
  });

  test('count > 1 inserts a tidy row of frames', async () => {
    const { figma, ui } = await readyUi();
    await ui.send(planRequest({ count: 3, newFrame: { width: 100, height: 100 } }));
    const plan = await ui.next('plan');
    for (const job of plan.jobs) await ui.send(resultFor(job));
    const frames = await Promise.all(ui.all('job-applied').map((a) => figma.getNodeByIdAsync(a.nodeId)));
    const xs = frames.map((f) => f!.x);
    expect(new Set(frames.map((f) => f!.y)).size).toBe(1);
    expect(xs[1] - xs[0]).toBe(xs[2] - xs[1]);
    expect(xs[1] - xs[0]).toBeGreaterThan(100);
    expect(frames.map((f) => f!.name)).toEqual(['rocket, flat style 1', 'rocket, flat style 2', 'rocket, flat style 3']);
  });
});

describe('robustness', () => {
  test('a node deleted mid-job: the job is dropped with a notice, a late result changes nothing', async () => {
    const { figma, ui } = await readyUi();
    const { frame, rect } = shapes(figma);
    figma.__userSelect([frame, rect]);
    await ui.send(planRequest());
    const plan = await ui.next('plan');
    figma.__userDelete(frame);
    await figma.__flush();
    const dropped = await ui.next('job-dropped');
    expect(dropped).toMatchObject({ jobId: plan.jobs[0].jobId, reason: expect.stringContaining('“Hero” was deleted') });
    expect(figma.__notifications.at(-1)).toMatchObject({ message: dropped.reason, options: { error: true } });

    await ui.send(resultFor(plan.jobs[0]));
    expect(await ui.next('error')).toMatchObject({ code: 'unknown-job', ref: plan.jobs[0].jobId });
    await ui.send(resultFor(plan.jobs[1]));
    expect(await ui.next('batch-done')).toMatchObject({ applied: 1, dropped: 1 });
    ui.assertAllValid();
  });

  test('a node deleted without a selection change is caught when its image arrives', async () => {
    const { figma, ui } = await readyUi();
    const { frame, rect } = shapes(figma);
    figma.__userSelect([frame]);
    await ui.send(planRequest());
    const plan = await ui.next('plan');
    figma.__userSelect([rect]);
    await figma.__flush();
    frame.remove(); // not selected any more: no selectionchange
    await ui.send(resultFor(plan.jobs[0]));
    expect((await ui.next('job-dropped')).reason).toMatch(/deleted/);
    expect(await ui.next('batch-done')).toMatchObject({ applied: 0, dropped: 1 });
  });

  test('a node locked while its image was generated is left alone', async () => {
    const { figma, ui } = await readyUi();
    const { frame } = shapes(figma);
    figma.__userSelect([frame]);
    await ui.send(planRequest());
    const plan = await ui.next('plan');
    frame.locked = true;
    await ui.send(resultFor(plan.jobs[0]));
    expect((await ui.next('job-dropped')).reason).toMatch(/“Hero” was locked/);
    expect(paintsOf(frame).map((p) => p.type)).toEqual(['SOLID']);
    expect(frame.getPluginData(PROVENANCE_KEY)).toBe('');
  });

  test('engine errors become one plain-language notice per kind per batch', async () => {
    const { figma, ui } = await readyUi();
    await ui.send(planRequest({ count: 3 }));
    const plan = await ui.next('plan');
    const before = figma.__notifications.length;
    for (const job of plan.jobs) await ui.send({ type: 'job-failed', v, jobId: job.jobId, code: 'gpu-device-lost', message: 'GPUDevice lost: reason unknown' });
    const notices = figma.__notifications.slice(before);
    expect(notices.map((n) => n.message)).toEqual(['The graphics card stopped responding. Try again; closing other heavy tabs or apps can help.']);
    expect(notices[0].options).toEqual({ error: true });
    expect(await ui.next('batch-done')).toMatchObject({ failed: 3, applied: 0 });
    expect(figma.currentPage.children).toHaveLength(0);
  });

  test('cancelled jobs end the batch quietly', async () => {
    const { figma, ui } = await readyUi();
    await ui.send(planRequest({ count: 2 }));
    const plan = await ui.next('plan');
    await ui.send(resultFor(plan.jobs[0]));
    await ui.send({ type: 'job-cancelled', v, jobId: plan.jobs[1].jobId });
    expect(await ui.next('batch-done')).toMatchObject({ applied: 1, cancelled: 1 });
    expect(figma.__notifications.at(-1)!.message).toBe('Flowfill: 1 image added; 1 cancelled.');
  });

  test('malformed messages get an error reply and change nothing', async () => {
    const { figma, ui } = await readyUi();
    const { frame } = shapes(figma);
    figma.__userSelect([frame]);
    await ui.send({ type: 'plan-request', v, requestId: 'r9', kind: 'paint' });
    expect(await ui.next('error')).toMatchObject({ code: 'malformed-message', inReplyTo: 'plan-request', ref: 'r9' });
    await ui.send({ type: 'ui-ready', v: 99 });
    expect(await ui.next('error')).toMatchObject({ code: 'version-mismatch' });
    await ui.send('garbage');
    expect((await ui.next('error')).message).toMatch(/expected an object/);
    await ui.send({ ...resultFor({ jobId: 'nope', kind: 'fill', nodeId: frame.id, nodeName: 'x', target: { width: 16, height: 16 }, gen: { width: 16, height: 16 }, notes: [] }) });
    expect(await ui.next('error')).toMatchObject({ code: 'unknown-job', ref: 'nope' });
    // An invalid error message is not answered (no error ping-pong).
    const count = figma.ui.outbox.length;
    await ui.send({ type: 'error', v, code: 'bogus' });
    expect(figma.ui.outbox.length).toBe(count);
    expect(paintsOf(frame).map((p) => p.type)).toEqual(['SOLID']);
    ui.assertAllValid();
  });

  test('an image whose bytes disagree with its stated size or record is not used', async () => {
    const { figma, ui } = await readyUi();
    const { frame } = shapes(figma);
    figma.__userSelect([frame]);
    await ui.send(planRequest());
    const plan = await ui.next('plan');
    const result = resultFor(plan.jobs[0]);
    await ui.send({ ...result, png: makePng(16, 16) });
    expect((await ui.next('job-dropped')).reason).toMatch(/its bytes are 16×16/);
    expect(paintsOf(frame).map((p) => p.type)).toEqual(['SOLID']);
  });

  test('closing mid-batch leaves each node either fully written (fill + record) or untouched, and closes the undo step', async () => {
    const { figma, ui } = await readyUi();
    const { frame, rect } = shapes(figma);
    figma.commitUndo();
    const steps = figma.__undoSteps;
    figma.__userSelect([frame, rect]);
    await ui.send(planRequest());
    const plan = await ui.next('plan');
    await ui.send(resultFor(plan.jobs[0]));
    await ui.send({ type: 'close', v });
    expect(figma.__closed).not.toBeNull();
    expect(figma.__undoSteps).toBe(steps + 1);
    expect(paintsOf(frame).some((p) => p.type === 'IMAGE')).toBe(true);
    expect(parseProvenance(frame.getPluginData(PROVENANCE_KEY)).ok).toBe(true);
    expect(paintsOf(rect).some((p) => p.type === 'IMAGE')).toBe(false);
    expect(rect.getPluginData(PROVENANCE_KEY)).toBe('');
  });
});

describe('variations and regenerate', () => {
  async function generatedFrame() {
    const session = await readyUi();
    const { frame } = shapes(session.figma);
    frame.x = 100;
    frame.y = 200;
    session.figma.__userSelect([frame]);
    await session.ui.send(planRequest({ requestId: 'first' }));
    const plan = await session.ui.next('plan');
    await session.ui.send(resultFor(plan.jobs[0], undefined, 1234));
    await session.ui.next('batch-done');
    return { ...session, frame, firstJob: plan.jobs[0] };
  }

  test('seed variations: N named frames in a row beside the source, same size, with the parent recorded', async () => {
    const { figma, ui, frame, firstJob } = await generatedFrame();
    await ui.send(planRequest({ requestId: 'var', kind: 'seed-variations', count: 3 }));
    const plan = await ui.next('plan');
    expect(plan.jobs.map((j) => [j.kind, j.variationIndex, j.parentNodeId, j.nodeName])).toEqual([
      ['seed-variation', 0, frame.id, 'Hero — variation 1'],
      ['seed-variation', 1, frame.id, 'Hero — variation 2'],
      ['seed-variation', 2, frame.id, 'Hero — variation 3'],
    ]);
    expect(plan.jobs[0].sourceRecord).toMatchObject({ seed: 1234 });
    expect(plan.jobs[0].gen).toEqual(firstJob.gen);
    for (const [i, job] of plan.jobs.entries()) await ui.send(resultFor(job, undefined, 1235 + i));
    const nodes = await Promise.all(ui.all('job-applied').slice(1).map((a) => figma.getNodeByIdAsync(a.nodeId)));
    expect(nodes.map((n) => [n!.x, n!.y, n!.width, n!.height])).toEqual([
      [540, 200, 400, 300],
      [980, 200, 400, 300],
      [1420, 200, 400, 300],
    ]);
    const record = parseProvenance(nodes[0]!.getPluginData(PROVENANCE_KEY));
    expect(record.ok && record.value.parent).toEqual({ nodeId: frame.id, seed: 1234 });
    expect(figma.__scrolledInto.at(-1)).toEqual(nodes);
  });

  test('image variations: export-request returns the node’s real pixels as PNG at the requested width', async () => {
    const { ui, frame } = await generatedFrame();
    await ui.send(planRequest({ requestId: 'iv', kind: 'image-variations', count: 1 }));
    const plan = await ui.next('plan');
    expect(plan.jobs[0]).toMatchObject({ kind: 'image-variation', parentNodeId: frame.id });
    await ui.send({ type: 'export-request', v, requestId: 'x1', nodeId: frame.id, size: plan.jobs[0].gen });
    const exported = await ui.next('export-result');
    expect(exported).toMatchObject({ requestId: 'x1', nodeId: frame.id, width: plan.jobs[0].gen.width });
    const rgba = decodePngToRgba(exported.png);
    expect([rgba.width, rgba.height]).toEqual([exported.width, exported.height]);
    // The generated image (green, on top, FILL) is what the export shows.
    expect(Array.from(rgba.data.subarray(0, 4))).toEqual([10, 200, 30, 255]);
  });

  test('export of a deleted node answers node-missing', async () => {
    const { ui, frame } = await generatedFrame();
    frame.remove();
    await ui.send({ type: 'export-request', v, requestId: 'x2', nodeId: frame.id, size: { width: 64, height: 48 } });
    expect(await ui.next('error')).toMatchObject({ code: 'node-missing', ref: 'x2' });
  });

  test('regenerate: one job per node with a record, at the record’s size, carrying the record; others skipped', async () => {
    const { figma, ui, frame, firstJob } = await generatedFrame();
    const plain = figma.createRectangle();
    figma.__userSelect([frame, plain]);
    await ui.send(planRequest({ requestId: 'regen', kind: 'regenerate' }));
    const plan = await ui.next('plan');
    expect(plan.jobs).toHaveLength(1);
    expect(plan.jobs[0]).toMatchObject({ kind: 'regenerate', nodeId: frame.id, gen: firstJob.gen, sourceRecord: { seed: 1234 } });
    expect(plan.skipped[0].reason).toMatch(/no Flowfill image/);
  });
});

describe('commands', () => {
  test('the quick action passes its freeform prompt to the panel as run-command', async () => {
    const { figma, ui } = await startOnFake({ command: 'generate', parameters: { prompt: 'a red fox' } });
    await ui.send({ type: 'ui-ready', v });
    expect(await ui.next('run-command')).toEqual({ type: 'run-command', v, command: 'generate', source: 'quick-action', prompt: 'a red fox' });
    expect(figma.__parameterInput('prompt', 'fox').suggestions).toEqual(expect.arrayContaining(['fox', 'fox, flat style']));
  });

  test('the quick action runs with a hidden panel, reports through a toast and closes when its batch is done', async () => {
    const { figma, ui } = await startOnFake({ command: 'generate', parameters: { prompt: 'rocket, flat style' } });
    const s = shapes(figma);
    figma.__userSelect([s.frame, s.rect]);
    expect(figma.ui.current?.visible).toBe(false);
    const toast = figma.__notifications.at(-1)!;
    expect(toast.message).toMatch(/generating “rocket, flat style”/);
    expect(toast.options).toMatchObject({ timeout: Infinity, button: { text: 'Cancel' } });
    await ui.send({ type: 'ui-ready', v });
    await ui.send(planRequest({ requestId: 'q', prompt: 'rocket, flat style' }));
    const plan = await ui.next('plan');
    expect(plan.jobs).toHaveLength(2);
    await ui.send(resultFor(plan.jobs[0]));
    expect(figma.__notifications.at(-1)!.message).toMatch(/1 of 2 images placed/);
    expect(figma.__closed).toBeNull();
    await ui.send(resultFor(plan.jobs[1]));
    expect(paintsOf(s.frame).filter((p) => p.type === 'IMAGE')).toHaveLength(1);
    expect(paintsOf(s.rect).filter((p) => p.type === 'IMAGE')).toHaveLength(1);
    expect(figma.__notifications.filter((n) => n.options?.button).every((n) => n.cancelled)).toBe(true);
    expect(figma.__closed).not.toBeNull();
  });

  test("the quick action's Cancel closes the plugin: placed images stay as one undo step, later results never land", async () => {
    const { figma, ui } = await startOnFake({ command: 'generate', parameters: { prompt: 'rocket, flat style' } });
    const s = shapes(figma);
    figma.__userSelect([s.frame, s.rect]);
    figma.commitUndo(); // the user's own edits are an earlier undo step
    const frameBefore = paintsOf(s.frame);
    const rectBefore = paintsOf(s.rect);
    await ui.send({ type: 'ui-ready', v });
    await ui.send(planRequest({ requestId: 'q' }));
    const plan = await ui.next('plan');
    await ui.send(resultFor(plan.jobs[0]));
    const cancel = figma.__notifications.at(-1)!.options!.button!;
    cancel.action();
    expect(figma.__closed).not.toBeNull();
    expect(paintsOf(s.frame).filter((p) => p.type === 'IMAGE')).toHaveLength(1);
    // The panel, and the engine in it, are gone with the plugin: the second image cannot arrive.
    await expect(ui.send(resultFor(plan.jobs[1]))).rejects.toThrow(/no UI is open/);
    expect(paintsOf(s.rect)).toEqual(rectBefore);
    figma.__undo();
    expect(paintsOf(s.frame)).toEqual(frameBefore);
  });

  test('the quick action with an empty prompt says what to type and opens nothing', async () => {
    const { figma } = await startOnFake({ command: 'generate', parameters: { prompt: '  ' } });
    expect(figma.ui.current).toBeNull();
    expect(figma.__notifications.at(-1)).toMatchObject({ message: expect.stringMatching(/type a prompt/), options: { error: true } });
    expect(figma.__closed).not.toBeNull();
  });

  test.each([
    ['fill-selection', 'menu'],
    ['variations', 'relaunch'],
    ['regenerate', 'relaunch'],
  ])('command %s becomes run-command from %s, once', async (command, source) => {
    const { ui } = await startOnFake({ command });
    await ui.send({ type: 'ui-ready', v });
    await ui.send({ type: 'ui-ready', v }); // a panel reload does not re-run the command
    expect(ui.all('run-command')).toEqual([{ type: 'run-command', v, command, source }]);
  });
});
