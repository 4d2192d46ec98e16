/**
 * Runs the real plugin main thread (src/plugin.ts) on the Figma fake and plays the panel's side
 * of the host RPC: typed calls through the same link the panel uses, or raw messages.
 */
import { readFileSync } from 'node:fs';
import { HOST_RPC_VERSION } from '../../common/host-rpc.js';
import type { RpcEndpoint } from '../../common/rpc-link.js';
import { startPlugin } from '../../src/plugin.js';
import { connectHost } from '../../ui/host-client.js';
import { asPluginApi, createFigmaFake, type FigmaFake, type FigmaFakeOptions } from '../figma-fake/index.js';

export const manifest = JSON.parse(readFileSync(new URL('../../manifest.json', import.meta.url), 'utf8'));
export const relaunchCommands: string[] = manifest.relaunchButtons.map((b: { command: string }) => b.command);

/** The panel's end of figma.ui on the fake: what main posts arrives here, what is posted reaches main. */
export function fakePanelEndpoint(figma: FigmaFake): RpcEndpoint {
  return {
    post: (message) => void figma.ui.send(message).catch(() => undefined),
    listen: (handler) => figma.ui.listen(handler),
  };
}

export async function startOnFake(options: FigmaFakeOptions = {}) {
  const figma = createFigmaFake({ relaunchCommands, ...options });
  startPlugin(asPluginApi(figma), '<div id="flowfill"></div>');
  await figma.__launch();
  /** What the panel's side of the link logged (replies to raw messages land here too). */
  const logs: string[] = [];
  const connection = connectHost(fakePanelEndpoint(figma), (message) => logs.push(message));
  let nextRaw = 1_000_000;
  return {
    figma,
    host: connection.call,
    connection,
    logs,
    /** Sends one raw message as the panel would and resolves with main's reply to it. */
    async raw(message: unknown): Promise<any> {
      const id = nextRaw++;
      const withId = typeof message === 'object' && message !== null && !Array.isArray(message) ? { id, ...message } : message;
      const before = figma.ui.outbox.length;
      await figma.ui.send(withId);
      for (let i = 0; i < 50 && figma.ui.outbox.length === before; i++) await new Promise((resolve) => setTimeout(resolve, 0));
      return figma.ui.outbox[before];
    },
  };
}

export const rpcHead = { rpc: 'flowfill-host', v: HOST_RPC_VERSION };
