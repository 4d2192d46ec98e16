/**
 * The panel's controller against the real main thread (src/plugin.ts on the Figma fake): both
 * sides of the protocol are real, only the engine is the test double. Proves the panel's messages
 * are the ones main acts on: fills land, provenance is stored, variations are placed, history
 * persists in clientStorage.
 */
import { decode } from 'fast-png';
import type { UiToMain } from '../../common/protocol.js';
import { PROVENANCE_KEY, parseProvenance } from '../../common/provenance.js';
import { PanelController } from '../../ui/panel-controller.js';
import { startOnFake } from '../plugin/harness.js';
import { FakeEngine, colourForSeed, waitUntil } from './fake-engine.js';

async function panelOnFakeFigma() {
  const { figma } = await startOnFake({ command: 'open' });
  const engine = new FakeEngine();
  const deliveries: Promise<void>[] = [];
  const panel = new PanelController({
    engine,
    // UI → main exactly as parent.postMessage would deliver it (structured clone, async).
    post: (message: UiToMain) => {
      deliveries.push(figma.ui.send(message));
    },
    settingsSaveDelayMs: 0,
    log: (m) => {
      throw new Error(`panel logged: ${m}`);
    },
  });
  const stop = figma.ui.listen((message) => panel.receive(message));
  await panel.startAsync();
  await Promise.all(deliveries);
  /** Waits until the queue is idle and main has handled everything the panel sent. */
  const settle = async () => {
    await panel.whenIdle();
    for (let i = 0; i < deliveries.length; i++) await deliveries[i];
    await figma.__flush();
  };
  return { figma, engine, panel, settle, stop };
}

const paints = (node: { fills: unknown }) => node.fills as ReadonlyArray<Paint>;

describe('panel ↔ real main thread', () => {
  test('fill a selected frame: image lands as a FILL paint with the panel’s provenance; history persists', async () => {
    const { figma, panel, settle, stop } = await panelOnFakeFigma();
    const frame = figma.createFrame();
    frame.name = 'Hero';
    frame.resize(400, 300);
    figma.__userSelect([frame]);
    await figma.__flush();
    await waitUntil(() => panel.getState().targets.length === 1, 'the selection reaches the panel');

    panel.updateSettings({ prompt: 'rocket, flat style', steps: 2, seed: 1234, seedLocked: true, fillMode: 'replace' });
    expect(panel.requestPlan('generate')).toBe(true);
    await waitUntil(() => panel.getState().jobs.length === 1, 'the plan reaches the panel');
    await settle();

    const fills = paints(frame);
    expect(fills.map((p) => [p.type, (p as ImagePaint).scaleMode])).toEqual([['IMAGE', 'FILL']]);
    const image = figma.getImageByHash((fills[0] as ImagePaint).imageHash!)!;
    const png = decode(await image.getBytesAsync());
    expect(Array.from(png.data.slice(0, 3))).toEqual(colourForSeed(1234));
    expect(Math.abs(png.width / png.height / (400 / 300) - 1)).toBeLessThan(0.01);

    const record = parseProvenance(frame.getPluginData(PROVENANCE_KEY));
    expect(record.ok && record.value).toMatchObject({ prompt: 'rocket, flat style', seed: 1234, steps: 2, width: png.width, height: png.height });

    expect(panel.getState().history.map((h) => [h.nodeName, h.record.seed])).toEqual([['Hero', 1234]]);
    const storedHistory = (await figma.clientStorage.getAsync('flowfill.history')) as Array<{ nodeId: string }>;
    expect(storedHistory.map((h) => h.nodeId)).toEqual([frame.id]);
    expect(await figma.clientStorage.getAsync('flowfill.settings')).toMatchObject({ prompt: 'rocket, flat style', seed: 1234 });

    // Selecting the generated frame shows its record to the panel.
    figma.__userSelect([]);
    await figma.__flush();
    figma.__userSelect([frame]);
    await figma.__flush();
    await waitUntil(() => panel.getState().targets[0]?.provenance !== undefined, 'the record reaches the panel');
    expect(panel.getState().targets[0].provenance?.seed).toBe(1234);
    stop();
  });

  test('nothing selected with 2 variations inserts two new frames with different seeds', async () => {
    const { figma, panel, settle, stop } = await panelOnFakeFigma();
    const before = figma.currentPage.children.length;
    panel.updateSettings({ prompt: 'owl', steps: 1, variations: 2, insertSize: 'wide-16-9', seed: 50, seedLocked: true });
    panel.requestPlan('generate');
    await waitUntil(() => panel.getState().jobs.length === 2, 'two jobs planned');
    await settle();
    const created = figma.currentPage.children.slice(before) as unknown as Array<{ width: number; height: number; getPluginData(k: string): string }>;
    expect(created.map((n) => [n.width, n.height])).toEqual([
      [1024, 576],
      [1024, 576],
    ]);
    const seeds = created.map((n) => {
      const parsed = parseProvenance(n.getPluginData(PROVENANCE_KEY));
      return parsed.ok ? parsed.value.seed : undefined;
    });
    expect(seeds).toEqual([50, 51]);
    stop();
  });

  test('image variation: the panel exports the source through main, and main places the variation beside it', async () => {
    const { figma, panel, engine, settle, stop } = await panelOnFakeFigma();
    const frame = figma.createFrame();
    frame.name = 'Source';
    frame.resize(256, 256);
    frame.fills = [{ type: 'SOLID', color: { r: 1, g: 0, b: 0 } }];
    figma.__userSelect([frame]);
    await figma.__flush();
    await waitUntil(() => panel.getState().targets.length === 1, 'selection');
    const before = figma.currentPage.children.length;

    panel.updateSettings({ prompt: 'owl', steps: 1, strength: 0.5, variations: 1 });
    panel.requestPlan('image-variations');
    await waitUntil(() => panel.getState().jobs.length === 1, 'variation planned');
    await settle();

    expect(panel.getState().jobs[0].status).toBe('done');
    const init = engine.requests[0].init!;
    expect([init.width, init.height]).toEqual([engine.requests[0].width, engine.requests[0].height]);
    // The fake renders the red frame; the panel decoded it into the init image.
    expect(Array.from(init.rgba.slice(0, 4))).toEqual([255, 0, 0, 255]);
    const variation = figma.currentPage.children[before] as unknown as { name: string; getPluginData(k: string): string };
    expect(variation.name).toBe('Source — variation 1');
    const record = parseProvenance(variation.getPluginData(PROVENANCE_KEY));
    expect(record.ok && record.value).toMatchObject({ strength: 0.5, parent: { nodeId: frame.id } });
    stop();
  });

  test('a frame deleted while its job waits is dropped by main and skipped by the panel', async () => {
    const { figma, panel, engine, settle, stop } = await panelOnFakeFigma();
    const a = figma.createFrame();
    a.name = 'A';
    const b = figma.createFrame();
    b.name = 'B';
    figma.__userSelect([a, b]);
    await figma.__flush();
    await waitUntil(() => panel.getState().targets.length === 2, 'selection');
    engine.hold();
    panel.updateSettings({ prompt: 'owl', steps: 2 });
    panel.requestPlan('generate');
    await waitUntil(() => panel.getState().jobs[0]?.status === 'running', 'job A runs');
    b.remove();
    figma.__userSelect([a]);
    await figma.__flush();
    await waitUntil(() => panel.getState().jobs[1]?.status === 'cancelled', 'job B is dropped');
    engine.release();
    await settle();
    expect(engine.requests.map((r) => r.jobId)).toHaveLength(1);
    expect(panel.getState().jobs.map((j) => j.status)).toEqual(['done', 'cancelled']);
    expect(panel.getState().notices.some((n) => n.text.includes('“B” was deleted'))).toBe(true);
    stop();
  });
});
