/**
 * The host of the hosted app when it is opened on its own (a top-level page, not inside the Figma
 * plugin or the playground): no canvas, so nothing to fill, but the panel still starts, and its
 * Models and Diagnostics sections work. Settings and history live in the page's localStorage.
 * Served through the same host RPC as every other host, over an in-page link.
 */
import { HOST_RPC, type HostMethods, type Launch } from '../common/host-rpc.js';
import { RpcError, serveRpc, type RpcEndpoint, type RpcHandlers } from '../common/rpc-link.js';

const NO_CANVAS =
  'This page has no canvas to fill. Open Flowfill from the Figma plugin, or try it in the playground (index.html on this site).';

/** The panel's end of an in-page link to the standalone host. */
export function standaloneHostEndpoint(): RpcEndpoint {
  const toHost = new Set<(message: unknown) => void>();
  const toPanel = new Set<(message: unknown) => void>();
  // Messages cross as structured clones, as they would between frames.
  const deliver = (listeners: Set<(message: unknown) => void>, message: unknown) => {
    const copy = structuredClone(message);
    queueMicrotask(() => listeners.forEach((listener) => listener(copy)));
  };
  const hostEnd: RpcEndpoint = {
    post: (message) => deliver(toPanel, message),
    listen: (handler) => (toHost.add(handler), () => toHost.delete(handler)),
  };
  const storageKey = (key: string) => `flowfill-${key}`;
  const handlers: RpcHandlers<HostMethods> = {
    readLaunch: async (): Promise<Launch> => ({ host: 'browser', command: 'open', source: 'open' }),
    readSelection: async () => ({ layers: [] }),
    readTargets: async () => {
      throw new RpcError('node-missing', NO_CANVAS);
    },
    checkNodes: async ({ nodeIds }) => ({ missing: nodeIds }),
    exportPng: async () => {
      throw new RpcError('export-failed', NO_CANVAS);
    },
    placeImage: async () => ({ placed: false, reason: 'node-missing', message: NO_CANVAS }),
    commitUndo: async () => null,
    reveal: async () => null,
    notify: async ({ message }) => {
      console.info(`[flowfill] ${message}`);
      return null;
    },
    showProgress: async () => null,
    loadValue: async ({ key }) => {
      try {
        const text = localStorage.getItem(storageKey(key));
        return text === null ? null : JSON.parse(text);
      } catch (error) {
        throw new RpcError('storage-failed', `localStorage refused "${key}": ${error instanceof Error ? error.message : String(error)}`);
      }
    },
    saveValue: async ({ key, value }) => {
      try {
        localStorage.setItem(storageKey(key), JSON.stringify(value));
        return null;
      } catch (error) {
        throw new RpcError('storage-failed', `localStorage refused "${key}": ${error instanceof Error ? error.message : String(error)}`);
      }
    },
    close: async () => null,
  };
  serveRpc(HOST_RPC, handlers, hostEnd);
  return {
    post: (message) => deliver(toHost, message),
    listen: (handler) => (toPanel.add(handler), () => toPanel.delete(handler)),
  };
}
