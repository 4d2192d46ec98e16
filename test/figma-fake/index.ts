/**
 * A faithful fake of the Figma Plugin API subset Flowfill uses, for jest and for the browser
 * playground (no Node APIs). It enforces what Figma enforces, with Figma's messages where known:
 * frozen fills replaced whole, removed nodes that throw, image type/size limits, 100 kB plugin-data
 * entries, 5 MB clientStorage, relaunch commands from the manifest, getNodeById refused under
 * dynamic-page. Fake-only helpers start with `__` (undo, launching a command, the UI's side).
 *
 * Not modelled: rendering children/strokes/effects in exportAsync, fonts, multiple pages'
 * dynamic loading, variables, components' overrides.
 */
import { decodePngToRgba, encodeRgbaToPng, readImageSize, sha1Hex, sniffImageKind } from './image-bytes.js';
import {
  FakeComponentNode,
  FakeDocumentNode,
  FakeFrameNode,
  FakeGroupNode,
  FakeNode,
  FakePageNode,
  FakeShapeNode,
  FakeTextNode,
  FakeWorld,
  type FakeNodeType,
} from './nodes.js';
import { exportSize, renderFills } from './render.js';
import { FakeUi } from './ui.js';

export { FakeNode, FakeShapeNode, FakeFrameNode, FakeGroupNode, FakePageNode, FakeTextNode, FakeComponentNode, FakeUi };
export { decodePngToRgba, encodeRgbaToPng, sha1Hex } from './image-bytes.js';

export const MAX_IMAGE_SIDE = 4096;
export const CLIENT_STORAGE_QUOTA_BYTES = 5 * 1024 * 1024;

export interface FigmaFakeOptions {
  /** figma.command at launch ('' when the plugin was started without a command). */
  command?: string;
  /** Parameters the 'run' event carries (quick action values). */
  parameters?: ParameterValues;
  pluginId?: string;
  documentAccess?: 'dynamic-page' | 'full';
  /** Commands of the manifest's relaunchButtons; setRelaunchData refuses others. null: accept any. */
  relaunchCommands?: string[] | null;
  clientStorageQuotaBytes?: number;
  viewport?: { x: number; y: number; zoom?: number };
  /** Called when the plugin opens its UI (the playground renders `html` in a sandboxed iframe). */
  onShowUI?: (html: string, options: ShowUIOptions) => void;
  /** Called when the UI closes (ui.close, a second showUI, or closePlugin). */
  onCloseUI?: () => void;
  /** Called for every figma.notify, so a host page can show the toast. */
  onNotify?: (notification: FakeNotification) => void;
}

export interface FakeImage {
  readonly hash: string;
  getBytesAsync(): Promise<Uint8Array>;
  getSizeAsync(): Promise<{ width: number; height: number }>;
}

export interface FakeNotification {
  message: string;
  options: NotificationOptions | undefined;
  cancelled: boolean;
}

type EventName = 'selectionchange' | 'run' | 'close' | 'currentpagechange';
type Handler = (event?: any) => unknown;

function isBytes(x: unknown): x is Uint8Array {
  return Object.prototype.toString.call(x) === '[object Uint8Array]';
}

/** Bytes a clientStorage value counts against the quota: Uint8Array by length, the rest as JSON. */
function storageSize(key: string, value: unknown): number {
  if (isBytes(value)) return key.length + value.length;
  return key.length + (JSON.stringify(value) ?? '').length;
}

export function createFigmaFake(options: FigmaFakeOptions = {}) {
  const mixed: unique symbol = Symbol('figma.mixed') as never;
  const handlers: { name: EventName; cb: Handler; once: boolean }[] = [];
  const emit = (name: EventName, event?: unknown): unknown[] => {
    const out: unknown[] = [];
    for (const h of handlers.slice()) {
      if (h.name !== name) continue;
      if (h.once) handlers.splice(handlers.indexOf(h), 1);
      out.push(h.cb(event));
    }
    return out;
  };

  let lastSelectionKey = '';
  let selectionEventQueued = false;
  const selectionKey = () =>
    page._selection
      .filter((n) => !n._removed)
      .map((n) => n.id)
      .join(',');
  const world = new FakeWorld(
    mixed,
    options.pluginId ?? 'flowfill-fake',
    options.relaunchCommands === undefined ? null : options.relaunchCommands,
    () => {
      // Figma fires selectionchange asynchronously, once per change, also when a selected node is deleted.
      if (selectionEventQueued) return;
      selectionEventQueued = true;
      queueMicrotask(() => {
        selectionEventQueued = false;
        const key = selectionKey();
        if (key === lastSelectionKey) return;
        lastSelectionKey = key;
        emit('selectionchange');
      });
    },
  );
  const documentNode = new FakeDocumentNode(world);
  const page = new FakePageNode(world, 'Page 1', '0:1');
  documentNode.appendChild(page);

  // Images, keyed by SHA-1 of their bytes.
  const images = new Map<string, { bytes: Uint8Array; width: number; height: number; image: FakeImage }>();
  world.exportNode = async (node, settings) => {
    const format = settings?.format ?? 'PNG';
    if (format !== 'PNG') throw new Error(`exportAsync (fake): format ${JSON.stringify(format)} is not supported by the fake; use PNG`);
    const constraint = (settings as ExportSettingsImage | undefined)?.constraint;
    const { width, height } = exportSize(node.width, node.height, constraint);
    const paints = node instanceof FakeShapeNode ? node._paints() : [];
    const rgba = renderFills(paints, width, height, node.type === 'ELLIPSE', (hash) => images.get(hash)?.bytes ?? null);
    return encodeRgbaToPng(rgba);
  };

  // Undo: each commitUndo closes a step; __undo restores the state at the last commit point.
  const checkpoints = [world.snapshot(documentNode)];
  world.dirty = false;

  const storage = new Map<string, unknown>();
  const quota = options.clientStorageQuotaBytes ?? CLIENT_STORAGE_QUOTA_BYTES;
  const notifications: FakeNotification[] = [];
  const ui = new FakeUi(() => options.onCloseUI?.());
  const viewportState = { x: options.viewport?.x ?? 0, y: options.viewport?.y ?? 0, zoom: options.viewport?.zoom ?? 1 };
  const scrolledInto: FakeNode[][] = [];
  const parameterHandlers: Handler[] = [];
  let closed: { message?: string } | null = null;

  function createNode<T extends FakeNode>(node: T, defaults: { fills?: Paint[]; width?: number; height?: number } = {}): T {
    node.resize(defaults.width ?? 100, defaults.height ?? 100);
    if (node instanceof FakeShapeNode && defaults.fills) node.fills = defaults.fills;
    page.appendChild(node);
    return node;
  }
  const white: SolidPaint = { type: 'SOLID', color: { r: 1, g: 1, b: 1 } };
  const grey: SolidPaint = { type: 'SOLID', color: { r: 0xd9 / 255, g: 0xd9 / 255, b: 0xd9 / 255 } };

  const figma = {
    apiVersion: '1.0.0',
    editorType: 'figma' as const,
    mode: 'default' as const,
    pluginId: options.pluginId ?? 'flowfill-fake',
    command: options.command ?? '',
    mixed,
    root: documentNode,
    get currentPage(): FakePageNode {
      return page;
    },

    on(name: EventName, cb: Handler): void {
      handlers.push({ name, cb, once: false });
    },
    once(name: EventName, cb: Handler): void {
      handlers.push({ name, cb, once: true });
    },
    off(name: EventName, cb: Handler): void {
      const i = handlers.findIndex((h) => h.name === name && h.cb === cb);
      if (i >= 0) handlers.splice(i, 1);
    },

    getNodeById(_id: string): never {
      if ((options.documentAccess ?? 'dynamic-page') === 'dynamic-page') {
        throw new Error('in getNodeById: Cannot call with documentAccess: dynamic-page. Use figma.getNodeByIdAsync instead.');
      }
      throw new Error('getNodeById (fake): use getNodeByIdAsync');
    },
    async getNodeByIdAsync(id: string): Promise<FakeNode | null> {
      const node = world.nodes.get(id);
      return node && !node._removed ? node : null;
    },

    createFrame(): FakeFrameNode {
      return createNode(new FakeFrameNode(world, 'FRAME', 'Frame'), { fills: [white] });
    },
    createRectangle(): FakeShapeNode {
      return createNode(new FakeShapeNode(world, 'RECTANGLE', 'Rectangle'), { fills: [grey] });
    },
    createEllipse(): FakeShapeNode {
      return createNode(new FakeShapeNode(world, 'ELLIPSE', 'Ellipse'), { fills: [grey] });
    },
    createPolygon(): FakeShapeNode {
      return createNode(new FakeShapeNode(world, 'POLYGON', 'Polygon'), { fills: [grey] });
    },
    createStar(): FakeShapeNode {
      return createNode(new FakeShapeNode(world, 'STAR', 'Star'), { fills: [grey] });
    },
    createComponent(): FakeComponentNode {
      return createNode(new FakeComponentNode(world, 'COMPONENT', 'Component'), { fills: [white] });
    },
    createText(): FakeTextNode {
      return createNode(new FakeTextNode(world, 'TEXT', 'Text'), {
        fills: [{ type: 'SOLID', color: { r: 0, g: 0, b: 0 } }],
        width: 0.01,
        height: 0.01,
      });
    },
    /** Groups `nodes` under `parent`; the group takes their bounding box. */
    group(nodes: ReadonlyArray<FakeNode>, parent: FakePageNode | FakeFrameNode | FakeGroupNode): FakeGroupNode {
      if (nodes.length === 0) throw new Error('in group: First argument must be an array of at least one node');
      const group = new FakeGroupNode(world, 'GROUP', 'Group');
      parent.appendChild(group);
      for (const n of nodes) group.appendChild(n);
      const left = Math.min(...nodes.map((n) => n.x));
      const top = Math.min(...nodes.map((n) => n.y));
      group.x = left;
      group.y = top;
      group.resize(Math.max(...nodes.map((n) => n.x + n.width)) - left, Math.max(...nodes.map((n) => n.y + n.height)) - top);
      return group;
    },

    createImage(data: Uint8Array): FakeImage {
      if (!isBytes(data)) throw new Error('in createImage: Expected a Uint8Array');
      const kind = sniffImageKind(data);
      if (!kind) throw new Error('Image type is unsupported');
      const size = readImageSize(data, kind);
      if (!size) throw new Error('Image type is unsupported');
      if (size.width < 1 || size.height < 1) throw new Error('Image is too small');
      if (size.width > MAX_IMAGE_SIDE || size.height > MAX_IMAGE_SIDE) throw new Error('Image is too large');
      if (kind === 'png') {
        try {
          decodePngToRgba(data);
        } catch {
          // A PNG whose data does not decode is refused as Figma refuses invalid images.
          throw new Error('Image type is unsupported');
        }
      }
      const hash = sha1Hex(data);
      const existing = images.get(hash);
      if (existing) return existing.image;
      const bytes = data.slice();
      const image: FakeImage = {
        hash,
        getBytesAsync: async () => bytes.slice(),
        getSizeAsync: async () => ({ width: size.width, height: size.height }),
      };
      images.set(hash, { bytes, ...size, image });
      return image;
    },
    getImageByHash(hash: string): FakeImage | null {
      return images.get(hash)?.image ?? null;
    },

    notify(message: string, opts?: NotificationOptions): NotificationHandler {
      if (typeof message !== 'string') throw new Error('in notify: Expected message to be a string');
      const record: FakeNotification = { message, options: opts, cancelled: false };
      notifications.push(record);
      options.onNotify?.(record);
      return {
        cancel() {
          record.cancelled = true;
        },
      };
    },

    commitUndo(): void {
      checkpoints.push(world.snapshot(documentNode));
      world.dirty = false;
    },
    triggerUndo(): void {
      figma.__undo();
    },

    clientStorage: {
      async getAsync(key: string): Promise<unknown> {
        if (typeof key !== 'string') throw new Error('in getAsync: Expected key to be a string');
        return storage.has(key) ? structuredClone(storage.get(key)) : undefined;
      },
      async setAsync(key: string, value: unknown): Promise<void> {
        if (typeof key !== 'string') throw new Error('in setAsync: Expected key to be a string');
        const copy = structuredClone(value);
        let used = storageSize(key, copy);
        for (const [k, v] of storage) if (k !== key) used += storageSize(k, v);
        if (used > quota) throw new Error(`in setAsync: clientStorage quota exceeded (${used} of ${quota} bytes)`);
        storage.set(key, copy);
      },
      async deleteAsync(key: string): Promise<void> {
        storage.delete(key);
      },
      async keysAsync(): Promise<string[]> {
        return [...storage.keys()];
      },
    },

    showUI(html: string, opts: ShowUIOptions = {}): void {
      if (ui.current) ui.close();
      ui._open(html, opts);
      options.onShowUI?.(html, opts);
    },
    ui,

    closePlugin(message?: string): void {
      if (message !== undefined) figma.notify(message);
      ui.close();
      closed = { message };
      emit('close');
      // Figma ends the plugin's run here: none of its handlers hear another event.
      handlers.length = 0;
    },

    parameters: {
      on(name: 'input', cb: Handler): void {
        if (name !== 'input') throw new Error(`figma.parameters.on: Unsupported event ${JSON.stringify(name)}`);
        parameterHandlers.push(cb);
      },
      off(name: 'input', cb: Handler): void {
        const i = parameterHandlers.indexOf(cb);
        if (i >= 0) parameterHandlers.splice(i, 1);
      },
    },

    viewport: {
      get center(): Vector {
        return { x: viewportState.x, y: viewportState.y };
      },
      set center(c: Vector) {
        viewportState.x = c.x;
        viewportState.y = c.y;
      },
      get zoom(): number {
        return viewportState.zoom;
      },
      set zoom(z: number) {
        viewportState.zoom = z;
      },
      get bounds(): Rect {
        const w = 1200 / viewportState.zoom;
        const h = 800 / viewportState.zoom;
        return { x: viewportState.x - w / 2, y: viewportState.y - h / 2, width: w, height: h };
      },
      scrollAndZoomIntoView(nodes: ReadonlyArray<FakeNode>): void {
        const live = nodes.filter((n) => !n._removed);
        scrolledInto.push(live.slice());
        if (live.length === 0) return;
        const boxes = live.map((n) => n.absoluteBoundingBox);
        const left = Math.min(...boxes.map((b) => b.x));
        const top = Math.min(...boxes.map((b) => b.y));
        const right = Math.max(...boxes.map((b) => b.x + b.width));
        const bottom = Math.max(...boxes.map((b) => b.y + b.height));
        viewportState.x = (left + right) / 2;
        viewportState.y = (top + bottom) / 2;
        viewportState.zoom = Math.min(1200 / (right - left || 1), 800 / (bottom - top || 1)) * 0.9;
      },
    },

    // ---- fake-only ------------------------------------------------------------------------

    /** Undo like Cmd-Z: uncommitted changes first, else the last committed step. */
    __undo(): void {
      if (!world.dirty && checkpoints.length > 1) checkpoints.pop();
      world.restore(checkpoints[checkpoints.length - 1]);
      world.dirty = false;
    },
    /** Launch: fires 'run' with the command and parameters (after parameter entry, as Figma does). */
    async __launch(): Promise<void> {
      await Promise.all(emit('run', { command: figma.command, parameters: options.parameters }));
    },
    /** Types `query` into a quick-action parameter; returns what the plugin offered. */
    __parameterInput(key: string, query: string, parameters: ParameterValues = {}) {
      const offered: { suggestions: unknown[] | null; error: string | null; loading: string | null } = {
        suggestions: null,
        error: null,
        loading: null,
      };
      const result = {
        setSuggestions(s: unknown[]) {
          offered.suggestions = s.slice();
        },
        setError(message: string) {
          offered.error = message;
        },
        setLoadingMessage(message: string) {
          offered.loading = message;
        },
      };
      for (const cb of parameterHandlers) cb({ key, query, parameters, result });
      return offered;
    },
    /** The user deletes a node (fires selectionchange when it was selected). */
    __userDelete(node: FakeNode): void {
      node.remove();
    },
    /** The user selects nodes on the canvas. */
    __userSelect(nodes: FakeNode[]): void {
      page.selection = nodes;
    },
    /** Resolves once queued selectionchange events have fired. */
    async __flush(): Promise<void> {
      for (let i = 0; i < 3; i++) await Promise.resolve();
    },
    get __notifications(): ReadonlyArray<FakeNotification> {
      return notifications;
    },
    get __closed(): { message?: string } | null {
      return closed;
    },
    get __scrolledInto(): ReadonlyArray<FakeNode[]> {
      return scrolledInto;
    },
    get __undoSteps(): number {
      return checkpoints.length - 1;
    },
    __storageUsedBytes(): number {
      let used = 0;
      for (const [k, v] of storage) used += storageSize(k, v);
      return used;
    },
    __imageCount(): number {
      return images.size;
    },
  };
  lastSelectionKey = selectionKey();
  return figma;
}

export type FigmaFake = ReturnType<typeof createFigmaFake>;
export type { FakeNodeType };

/** The fake typed as the real API, for code written against `PluginAPI` (the subset above is what it implements). */
export function asPluginApi(fake: FigmaFake): PluginAPI {
  return fake as unknown as PluginAPI;
}
