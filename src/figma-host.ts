/**
 * The Figma implementation of the host RPC (common/host-rpc.ts): each method is a thin call into
 * the Plugin API. No job logic lives here; the only state is what Figma itself needs tracked:
 * whether images were placed since the last undo commit, and the quick action's progress toast.
 *
 * Figma facts this relies on: under documentAccess "dynamic-page" nodes are looked up with
 * getNodeByIdAsync; plugin changes are not undoable until commitUndo; clientStorage holds 5 MB per
 * plugin; a notification with timeout Infinity stays until cancelled.
 */
import type { Host, Launch, StorageKey } from '../common/host-rpc.js';
import { RpcError } from '../common/rpc-link.js';
import { describeLayer, describeTarget, findSceneNode, selectedNodes } from './describe-layers.js';
import { placeImage } from './place-image.js';

/** clientStorage keys of the values the panel stores. */
export const STORAGE_KEYS: Record<StorageKey, string> = { settings: 'flowfill.settings', history: 'flowfill.history' };

export interface FigmaHost {
  handlers: Host;
  /** Shows the quick action's progress toast: its Cancel closes the plugin. */
  showProgress(message: string): void;
  /** The plugin is closing (Figma's 'close' event): what was placed becomes one undo step. */
  closing(): void;
}

export function createFigmaHost(api: PluginAPI, launch: Launch): FigmaHost {
  /** Images placed and not yet closed into an undo step. */
  let uncommitted = false;
  let progress: NotificationHandler | null = null;

  const commit = () => {
    if (uncommitted) api.commitUndo();
    uncommitted = false;
  };
  const close = () => {
    progress?.cancel();
    progress = null;
    commit();
    api.closePlugin();
  };
  const showProgress = (message: string) => {
    progress?.cancel();
    // Cancel closes the plugin: the engine lives in the panel, so closing stops it, and every
    // image already placed stays as one undo step. An action returning nothing dismisses the toast.
    progress = api.notify(message, { timeout: Infinity, button: { text: 'Cancel', action: () => close() } });
  };
  const storageFailed = (key: string, error: unknown) =>
    new RpcError('storage-failed', `Could not use clientStorage "${key}": ${error instanceof Error ? error.message : String(error)}`);

  const handlers: Host = {
    readLaunch: () => launch,
    readSelection: () => ({ layers: selectedNodes(api).map((node) => describeLayer(api, node)) }),
    readTargets: () => ({
      targets: selectedNodes(api).map((node) => describeTarget(api, node)),
      viewportCenter: { x: api.viewport.center.x, y: api.viewport.center.y },
    }),
    async checkNodes({ nodeIds }) {
      const found = await Promise.all(nodeIds.map((id) => findSceneNode(api, id)));
      return { missing: nodeIds.filter((_, i) => found[i] === null) };
    },
    async exportPng({ nodeId, width }) {
      const node = await findSceneNode(api, nodeId);
      if (!node) throw new RpcError('node-missing', `The layer ${nodeId} no longer exists, so its pixels cannot be read.`);
      try {
        return await node.exportAsync({ format: 'PNG', constraint: { type: 'WIDTH', value: width } });
      } catch (error) {
        throw new RpcError('export-failed', `Could not export layer ${nodeId}: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
    async placeImage(args) {
      const outcome = await placeImage(api, args);
      if (outcome.placed) uncommitted = true;
      return outcome;
    },
    commitUndo: () => {
      commit();
      return null;
    },
    async reveal({ nodeIds }) {
      const nodes = (await Promise.all(nodeIds.map((id) => findSceneNode(api, id)))).filter((n): n is SceneNode => n !== null);
      if (nodes.length > 0) api.viewport.scrollAndZoomIntoView(nodes);
      return null;
    },
    notify: ({ message, error }) => {
      api.notify(message, error ? { error: true } : undefined);
      return null;
    },
    showProgress: ({ message }) => {
      showProgress(message);
      return null;
    },
    async loadValue({ key }) {
      try {
        const value = await api.clientStorage.getAsync(STORAGE_KEYS[key]);
        return value === undefined ? null : value;
      } catch (error) {
        throw storageFailed(STORAGE_KEYS[key], error);
      }
    },
    async saveValue({ key, value }) {
      try {
        await api.clientStorage.setAsync(STORAGE_KEYS[key], value);
      } catch (error) {
        throw storageFailed(STORAGE_KEYS[key], error);
      }
      return null;
    },
    close: () => {
      close();
      return null;
    },
  };

  return {
    handlers,
    showProgress,
    closing() {
      progress = null;
      commit();
    },
  };
}
