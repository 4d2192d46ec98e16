/**
 * The panel against the real main thread: src/plugin.ts on the Figma fake serves the host RPC, the
 * panel calls it through the same link it uses in Figma (messages cross as structured clones). Only
 * the engine is the test double (FakeEngine: real PNG bytes, seeded colours). Every call that
 * crosses is recorded, so tests can count what crossed the host boundary.
 */
import type { HostMethodName } from '../../common/host-rpc.js';
import type { RpcEndpoint } from '../../common/rpc-link.js';
import { startPlugin } from '../../src/plugin.js';
import { connectHost } from '../../ui/host-client.js';
import { createPanel, type Panel } from '../../ui/panel.js';
import { asPluginApi, createFigmaFake, type FigmaFake, type FigmaFakeOptions } from '../figma-fake/index.js';
import { fakePanelEndpoint, relaunchCommands } from '../plugin/harness.js';
import { FakeEngine, waitUntil } from './fake-engine.js';

export interface PanelSession {
  figma: FigmaFake;
  engine: FakeEngine;
  panel: Panel;
  /** Host methods the panel called, in order. */
  calls: HostMethodName[];
  /** What the panel logged (malformed messages, failed background calls). */
  logs: string[];
  /** Waits until the queue is idle and everything sent has been handled. */
  settle(): Promise<void>;
  state(): ReturnType<Panel['store']['get']>;
}

export interface PanelSessionOptions extends FigmaFakeOptions {
  /** Runs on the fake before the plugin starts (frames, a selection, stored settings). */
  setup?: (figma: FigmaFake) => void | Promise<void>;
  engine?: FakeEngine;
  /** Stops before panel.startAsync (to test the start itself). */
  start?: boolean;
  drawSeed?: () => number;
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

export async function panelOnFakeFigma(options: PanelSessionOptions = {}): Promise<PanelSession> {
  const figma = createFigmaFake({ relaunchCommands, command: 'open', ...options });
  await options.setup?.(figma);
  startPlugin(asPluginApi(figma), '<div id="flowfill"></div>');
  await figma.__launch();
  const calls: HostMethodName[] = [];
  const inner = fakePanelEndpoint(figma);
  const recording: RpcEndpoint = {
    post(message) {
      const method = (message as { method?: HostMethodName }).method;
      if (method) calls.push(method);
      inner.post(message);
    },
    listen: (handler) => inner.listen(handler),
  };
  const logs: string[] = [];
  const engine = options.engine ?? new FakeEngine();
  let seed = 500;
  const panel = createPanel({
    host: connectHost(recording, (m) => logs.push(m)),
    engine,
    drawSeed: options.drawSeed ?? (() => seed++),
    now: () => new Date('2026-02-01T10:00:00.000Z'),
    settingsSaveDelayMs: 0,
    log: (m) => logs.push(m),
  });
  if (options.start !== false) await panel.startAsync();
  return {
    figma,
    engine,
    panel,
    calls,
    logs,
    async settle() {
      await panel.whenIdle();
      for (let i = 0; i < 5; i++) {
        await figma.__flush();
        await tick();
      }
    },
    state: () => panel.store.get(),
  };
}

/** Selects layers as a person would and waits for the panel to hear of it. */
export async function selectAsync(session: PanelSession, nodes: Parameters<FigmaFake['__userSelect']>[0]): Promise<void> {
  session.figma.__userSelect(nodes);
  const ids = nodes.map((n) => n.id).join(',');
  await waitUntil(
    () =>
      session
        .state()
        .selection.map((l) => l.id)
        .join(',') === ids,
    'the selection reaches the panel',
  );
}
