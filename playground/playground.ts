/**
 * The playground page (npm start → http://127.0.0.1:5173/): Flowfill without Figma. A canvas of
 * frames on the fake Figma API, the plugin's panel in a Figma-like sandboxed iframe, menu commands,
 * undo, and an inspector for fills and plugin data. `window.flowfill` is the automation API the
 * browser tests drive (documented in playground/README.md).
 */
import { FakeTextNode, type FakeNode, type FakeNotification } from '../test/figma-fake/index.js';
import { PluginHost } from './plugin-host.js';
import type { WireEntry } from './wire-watch.js';

interface FrameSpec {
  name?: string;
  width?: number;
  height?: number;
  x?: number;
  y?: number;
}

/** Layer types the playground can make, to build mixed (and hostile) selections. */
export type LayerType = 'FRAME' | 'RECTANGLE' | 'ELLIPSE' | 'TEXT' | 'COMPONENT' | 'GROUP';
export const LAYER_TYPES: readonly LayerType[] = ['FRAME', 'RECTANGLE', 'ELLIPSE', 'TEXT', 'COMPONENT', 'GROUP'];

export interface LayerSpec extends FrameSpec {
  type: LayerType;
  /** Locked layers cannot be moved here, and Flowfill refuses to fill them, as in Figma. */
  locked?: boolean;
  /** TEXT: the characters (default: the name). */
  characters?: string;
}

export interface PlaygroundApi {
  /** Resolves once dist/code.js and dist/ui.html are loaded (the plugin is not running yet). */
  ready: Promise<void>;
  /** Creates a frame on the page (white fill, like figma.createFrame) as its own undo step; returns its id. */
  createFrame(spec?: FrameSpec): string;
  /**
   * Creates a layer of any LAYER_TYPES type (a GROUP wraps a new rectangle of the given size), as
   * its own undo step; returns its id.
   */
  createLayer(spec: LayerSpec): string;
  /** Locks or unlocks layers, as a person would (its own undo step). */
  setLocked(ids: string[], locked: boolean): void;
  /** Selects these nodes as a person would (fires selectionchange). */
  select(ids: string[]): void;
  /** Launches the plugin: 'open' | 'generate' | 'fill' (= 'fill-selection') | 'variations' | 'regenerate'. */
  runCommand(command: string, parameters?: Record<string, string>): Promise<void>;
  /** The node's own fills rendered by the fake's exportAsync at 1×, as PNG bytes in base64. */
  nodeFillsAsPng(id: string): Promise<string>;
  /** The node's fills as the plugin API returns them (paints, image hashes included), as plain JSON. */
  nodeFills(id: string): Paint[];
  /** The bytes of an image the document holds (figma.getImageByHash), as base64; throws for an unknown hash. */
  imageBytes(hash: string): Promise<string>;
  /** Every plugin-data entry of the node (key → string). */
  pluginData(id: string): Record<string, string>;
  /** Writes one plugin-data entry as an earlier run would have (e.g. a provenance record); Figma's limits apply. */
  setPluginData(id: string, key: string, value: string): void;
  /** Deletes the node as a person would (Delete key): its own undo step. */
  deleteNode(id: string): void;
  /** Cmd-Z: undoes the last committed step (or uncommitted changes). */
  undo(): void;
  /** Resolves when nothing is in flight between main and panel; rejects after timeoutMs naming what is pending. */
  waitForIdle(options?: { timeoutMs?: number; quietMs?: number }): Promise<void>;
  /** Top-level nodes of the page: id, name, type, geometry, fill types. */
  nodes(): NodeSummary[];
  /** Ids of the selected nodes. */
  selection(): string[];
  /** The host RPC traffic between main and panel: calls, replies (with ok), events. */
  wire(): WireEntry[];
  /** figma.notify calls so far. */
  notifications(): { message: string; error: boolean }[];
  /** True while the plugin's panel is open. */
  uiOpen(): boolean;
  /** Writes figma.clientStorage as an earlier run would have (e.g. the panel's saved settings). */
  setClientStorage(key: string, value: unknown): Promise<void>;
  /** Reads figma.clientStorage (what the panel saved). */
  clientStorage(key: string): Promise<unknown>;
}

export interface NodeSummary {
  id: string;
  name: string;
  type: string;
  x: number;
  y: number;
  width: number;
  height: number;
  fills: string[];
  pluginDataKeys: string[];
  locked: boolean;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let host: PluginHost;
let zoom = 0.5;
const imageUrls = new Map<string, string>();
const notifications: FakeNotification[] = [];
let renderQueued = false;

function requestRender(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function topNodes(): FakeNode[] {
  return [...host.figma.currentPage.children] as FakeNode[];
}

function findNode(id: string): FakeNode {
  const node = topNodes().find((n) => n.id === id) ?? host.figma.currentPage.findAll((n) => n.id === id)[0];
  if (!node)
    throw new Error(
      `no node with id ${JSON.stringify(id)}; ids on the page: ${
        topNodes()
          .map((n) => n.id)
          .join(', ') || '(none)'
      }`,
    );
  return node;
}

function fillsOf(node: FakeNode): ReadonlyArray<Paint> {
  const fills = (node as { fills?: unknown }).fills;
  return Array.isArray(fills) ? (fills as Paint[]) : [];
}

function imageUrl(hash: string): string | null {
  const cached = imageUrls.get(hash);
  if (cached) return cached;
  const image = host.figma.getImageByHash(hash);
  if (!image) return null;
  void image.getBytesAsync().then((bytes) => {
    imageUrls.set(hash, URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'image/png' })));
    requestRender();
  });
  return null;
}

function cssColor({ r, g, b }: RGB, opacity = 1): string {
  return `rgba(${Math.round(r * 255)}, ${Math.round(g * 255)}, ${Math.round(b * 255)}, ${opacity})`;
}

/** CSS backgrounds for Figma fills: Figma lists fills bottom to top, CSS top to bottom. */
function backgroundFor(node: FakeNode): { image: string; size: string } {
  const layers: { image: string; size: string }[] = [];
  for (const paint of fillsOf(node)) {
    if (paint.visible === false) continue;
    if (paint.type === 'SOLID') {
      const c = cssColor(paint.color, paint.opacity ?? 1);
      layers.push({ image: `linear-gradient(${c}, ${c})`, size: 'cover' });
    } else if (paint.type === 'IMAGE' && paint.imageHash) {
      const url = imageUrl(paint.imageHash);
      if (url) layers.push({ image: `url("${url}")`, size: paint.scaleMode === 'FIT' ? 'contain' : 'cover' });
    }
  }
  layers.reverse();
  return { image: layers.map((l) => l.image).join(', ') || 'none', size: layers.map((l) => l.size).join(', ') || 'auto' };
}

function selectedIds(): string[] {
  return host.figma.currentPage.selection.map((n) => (n as FakeNode).id);
}

function render(): void {
  host.syncUiFrame();
  const canvas = $('canvas');
  const selected = new Set(selectedIds());
  const nodes = topNodes();
  const seen = new Set<string>();
  for (const node of nodes) {
    seen.add(node.id);
    let el = canvas.querySelector<HTMLElement>(`[data-node-id="${node.id}"]`);
    if (!el) {
      el = document.createElement('div');
      el.className = 'node';
      el.dataset.nodeId = node.id;
      el.innerHTML = '<span class="node-label"></span><span class="resize-handle" title="Drag to resize"></span>';
      canvas.appendChild(el);
    }
    const isText = node instanceof FakeTextNode;
    const bg = isText ? { image: 'none', size: 'auto' } : backgroundFor(node);
    el.classList.toggle('text', isText);
    el.classList.toggle('group', node.type === 'GROUP');
    el.classList.toggle('locked', node.locked);
    let content = el.querySelector<HTMLElement>('.node-text');
    if (isText && !content) {
      content = document.createElement('span');
      content.className = 'node-text';
      el.prepend(content);
    }
    if (content) content.textContent = isText ? node.characters : '';
    Object.assign(el.style, {
      left: `${node.x * zoom}px`,
      top: `${node.y * zoom}px`,
      width: `${node.width * zoom}px`,
      height: `${node.height * zoom}px`,
      backgroundImage: bg.image,
      backgroundSize: bg.size,
      borderRadius: node.type === 'ELLIPSE' ? '50%' : '0',
    });
    el.classList.toggle('selected', selected.has(node.id));
    const label = el.querySelector('.node-label') as HTMLElement;
    label.textContent = `${node.locked ? '🔒 ' : ''}${node.name}  ${Math.round(node.width)}×${Math.round(node.height)}`;
  }
  for (const el of Array.from(canvas.querySelectorAll<HTMLElement>('[data-node-id]'))) if (!seen.has(el.dataset.nodeId!)) el.remove();
  renderInspector();
  $('ui-status').textContent = host.uiFrame ? `running: ${host.figma.command || 'open'}` : 'not running';
}

function renderInspector(): void {
  const panel = $('inspector');
  const ids = selectedIds();
  if (ids.length === 0) {
    panel.innerHTML = '<p class="muted">Select a frame (click; shift-click adds) to inspect its fills and plugin data.</p>';
    return;
  }
  panel.replaceChildren();
  for (const id of ids) {
    const node = findNode(id);
    const section = document.createElement('section');
    const fills = fillsOf(node)
      .map((p) => {
        if (p.type === 'SOLID')
          return `<li><span class="swatch" style="background:${cssColor(p.color, p.opacity ?? 1)}"></span>SOLID ${cssColor(p.color, p.opacity ?? 1)}</li>`;
        if (p.type === 'IMAGE') {
          const url = p.imageHash ? imageUrl(p.imageHash) : null;
          return `<li>${url ? `<img class="thumb" src="${url}" alt="">` : ''}IMAGE ${p.scaleMode} <code>${p.imageHash?.slice(0, 10)}…</code></li>`;
        }
        return `<li>${p.type}</li>`;
      })
      .join('');
    const data = node
      .getPluginDataKeys()
      .map((key) => `<dt>${escapeHtml(key)}</dt><dd><pre>${escapeHtml(prettyJson(node.getPluginData(key)))}</pre></dd>`)
      .join('');
    const relaunch = Object.entries(node.getRelaunchData())
      .map(
        ([command, text]) => `<button data-relaunch="${escapeHtml(command)}" title="${escapeHtml(text)}">${escapeHtml(command)}</button>`,
      )
      .join(' ');
    section.innerHTML = `<h3>${escapeHtml(node.name)} <small>${node.id} · ${node.type} · ${Math.round(node.width)}×${Math.round(node.height)}</small></h3>
      <h4>Fills</h4><ul class="fills">${fills || '<li class="muted">none</li>'}</ul>
      <h4>Plugin data</h4>${data ? `<dl>${data}</dl>` : '<p class="muted">none</p>'}
      ${relaunch ? `<h4>Relaunch</h4><p>${relaunch}</p>` : ''}`;
    panel.appendChild(section);
  }
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function showToast(notification: FakeNotification): void {
  notifications.push(notification);
  const toast = document.createElement('div');
  toast.className = notification.options?.error ? 'toast error' : 'toast';
  toast.textContent = notification.message;
  const button = notification.options?.button;
  if (button) {
    // As in Figma: the action runs, and the toast goes unless the action returns false.
    const action = document.createElement('button');
    action.textContent = button.text;
    action.addEventListener('click', () => {
      if (button.action() !== false) toast.remove();
    });
    toast.appendChild(action);
  }
  $('toasts').appendChild(toast);
  const timeout = notification.options?.timeout;
  if (typeof timeout === 'number' && !Number.isFinite(timeout)) {
    // Persistent until the plugin cancels it (the fake records handler.cancel()) or closes.
    const poll = setInterval(() => {
      if (notification.cancelled || !host.figma.ui.current) {
        toast.remove();
        clearInterval(poll);
      }
    }, 250);
    return;
  }
  setTimeout(() => toast.remove(), typeof timeout === 'number' ? timeout : 4000);
}

function createFrame(spec: FrameSpec = {}): string {
  return createLayer({ ...spec, type: 'FRAME' });
}

/** Where a new layer goes when the spec gives no position: right of the rightmost one. */
function nextPosition(spec: FrameSpec, except: FakeNode): { x: number; y: number } {
  const others = topNodes().filter((n) => n !== except);
  const right = Math.max(0, ...others.map((n) => n.x + n.width));
  return { x: spec.x ?? (others.length > 0 ? right + 40 : 40), y: spec.y ?? 40 };
}

function createLayer(spec: LayerSpec): string {
  if (!LAYER_TYPES.includes(spec.type))
    throw new Error(`createLayer: type ${JSON.stringify(spec.type)} is not one of ${LAYER_TYPES.join(', ')}`);
  const figma = host.figma;
  const width = spec.width ?? (spec.type === 'TEXT' ? 160 : 320);
  const height = spec.height ?? (spec.type === 'TEXT' ? 24 : 200);
  let node: FakeNode;
  if (spec.type === 'GROUP') {
    // A group has no size of its own: it takes its children's box.
    const child = figma.createRectangle();
    child.resize(width, height);
    node = figma.group([child], figma.currentPage);
  } else {
    const created =
      spec.type === 'FRAME'
        ? figma.createFrame()
        : spec.type === 'RECTANGLE'
          ? figma.createRectangle()
          : spec.type === 'ELLIPSE'
            ? figma.createEllipse()
            : spec.type === 'COMPONENT'
              ? figma.createComponent()
              : figma.createText();
    created.resize(width, height);
    node = created;
  }
  node.name = spec.name ?? `${spec.type.charAt(0)}${spec.type.slice(1).toLowerCase()} ${topNodes().length}`;
  if (node instanceof FakeTextNode) node.characters = spec.characters ?? node.name;
  const at = nextPosition(spec, node);
  node.x = at.x;
  node.y = at.y;
  if (spec.locked) node.locked = true;
  // A person adding a layer is one undo step of its own, as in Figma.
  host.figma.commitUndo();
  requestRender();
  return node.id;
}

function setLocked(ids: string[], locked: boolean): void {
  for (const id of ids) findNode(id).locked = locked;
  host.figma.commitUndo();
  requestRender();
}

function select(ids: string[]): void {
  host.figma.__userSelect(ids.map(findNode));
  requestRender();
}

async function waitForIdle(options: { timeoutMs?: number; quietMs?: number } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 600_000;
  const quietMs = options.quietMs ?? 250;
  const started = performance.now();
  let idleSince: number | null = null;
  for (;;) {
    const reasons = host.wire.busyReasons();
    const now = performance.now();
    if (reasons.length === 0) {
      idleSince ??= now;
      if (now - idleSince >= quietMs) return;
    } else idleSince = null;
    if (now - started > timeoutMs) throw new Error(`waitForIdle: still busy after ${timeoutMs} ms: ${reasons.join('; ')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const COMMAND_ALIASES: Record<string, string> = { fill: 'fill-selection' };

function installCanvasInteractions(): void {
  const canvas = $('canvas');
  let drag: {
    id: string;
    mode: 'move' | 'resize';
    startX: number;
    startY: number;
    x: number;
    y: number;
    w: number;
    h: number;
    moved: boolean;
  } | null = null;
  canvas.addEventListener('pointerdown', (event) => {
    const target = event.target as HTMLElement;
    const el = target.closest<HTMLElement>('[data-node-id]');
    if (!el) {
      if (!event.shiftKey) select([]);
      return;
    }
    const id = el.dataset.nodeId!;
    const current = selectedIds();
    if (event.shiftKey) select(current.includes(id) ? current.filter((x) => x !== id) : [...current, id]);
    else if (!current.includes(id)) select([id]);
    const node = findNode(id);
    // A locked layer stays put, as in Figma.
    if (node.locked) return;
    drag = {
      id,
      mode: target.classList.contains('resize-handle') ? 'resize' : 'move',
      startX: event.clientX,
      startY: event.clientY,
      x: node.x,
      y: node.y,
      w: node.width,
      h: node.height,
      moved: false,
    };
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener('pointermove', (event) => {
    if (!drag) return;
    const dx = (event.clientX - drag.startX) / zoom;
    const dy = (event.clientY - drag.startY) / zoom;
    const node = findNode(drag.id);
    if (drag.mode === 'resize') node.resize(Math.max(1, Math.round(drag.w + dx)), Math.max(1, Math.round(drag.h + dy)));
    else {
      node.x = Math.round(drag.x + dx);
      node.y = Math.round(drag.y + dy);
    }
    drag.moved = true;
    requestRender();
  });
  canvas.addEventListener('pointerup', () => {
    // A move or resize is a user edit: it becomes its own undo step, as in Figma.
    if (drag?.moved) host.figma.commitUndo();
    drag = null;
  });
}

function installToolbar(): void {
  $('add-layer').addEventListener('click', () => {
    const width = Number(($('frame-width') as HTMLInputElement).value) || 320;
    const height = Number(($('frame-height') as HTMLInputElement).value) || 200;
    const type = ($('layer-type') as HTMLSelectElement).value as LayerType;
    select([createLayer(type === 'TEXT' ? { type } : { type, width, height })]);
  });
  $('toggle-lock').addEventListener('click', () => {
    const ids = selectedIds();
    if (ids.length > 0) setLocked(ids, !ids.every((id) => findNode(id).locked));
  });
  for (const button of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-command]'))) {
    button.addEventListener('click', () => {
      const command = button.dataset.command!;
      const prompt = ($('quick-prompt') as HTMLInputElement).value.trim();
      void api.runCommand(command, command === 'generate' && prompt ? { prompt } : undefined);
    });
  }
  $('undo').addEventListener('click', () => api.undo());
  $('zoom').addEventListener('change', (event) => {
    zoom = Number((event.target as HTMLSelectElement).value);
    requestRender();
  });
  $('inspector').addEventListener('click', (event) => {
    const command = (event.target as HTMLElement).dataset.relaunch;
    if (command) void api.runCommand(command);
  });
  document.addEventListener('keydown', (event) => {
    if (event.target instanceof HTMLInputElement) return;
    if ((event.metaKey || event.ctrlKey) && event.key === 'z') {
      event.preventDefault();
      api.undo();
    } else if (event.key === 'Delete' || event.key === 'Backspace') {
      for (const id of selectedIds()) host.figma.__userDelete(findNode(id));
      host.figma.commitUndo();
      requestRender();
    }
  });
}

async function loadTextAsync(url: string): Promise<string> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}; run npm run build first`);
  return response.text();
}

/**
 * Which plugin the page runs: the embedded one (dist/code.js + dist/ui.html, the default) or, on a
 * page marked <body data-plugin-mode="hosted" data-plugin-base="plugin/"> (dist/site/index.html),
 * the hosted one, whose ui.html sends the plugin's frame to the app.
 */
function pluginSetup(): { mode: 'embedded' | 'hosted'; base: string; manifest: string } {
  const mode = document.body.dataset.pluginMode === 'hosted' ? 'hosted' : 'embedded';
  const base = document.body.dataset.pluginBase ?? 'dist/';
  return { mode, base, manifest: mode === 'hosted' ? `${base}manifest.json` : 'manifest.json' };
}

function installModeSwitch(mode: 'embedded' | 'hosted'): void {
  const link = document.createElement('a');
  link.id = 'mode-switch';
  link.style.color = '#9cd2ff';
  if (mode === 'embedded') {
    link.href = 'hosted';
    link.textContent = 'Hosted plugin →';
    link.title = 'The same playground running the hosted plugin: the panel comes from the app’s origin and keeps added models';
  } else if (/\/hosted(\.html)?$/.test(location.pathname)) {
    link.href = './';
    link.textContent = 'Embedded plugin →';
    link.title = 'The plugin as Figma runs dist/ui.html: everything in one file, no storage';
  } else return;
  $('boot-error').before(link);
}

async function bootAsync(): Promise<void> {
  const setup = pluginSetup();
  const [mainScript, uiHtml, manifestText] = await Promise.all([
    loadTextAsync(`${setup.base}code.js`),
    loadTextAsync(`${setup.base}ui.html`),
    loadTextAsync(setup.manifest),
  ]);
  const manifest = JSON.parse(manifestText) as { relaunchButtons?: { command: string }[] };
  installModeSwitch(setup.mode);
  host = new PluginHost({
    mode: setup.mode,
    mainScript,
    uiHtml,
    relaunchCommands: (manifest.relaunchButtons ?? []).map((b) => b.command),
    uiContainer: $('plugin-window'),
    onNotify: showToast,
    onChange: requestRender,
  });
  host.figma.on('selectionchange', requestRender);
  installCanvasInteractions();
  installToolbar();
  if (!new URLSearchParams(location.search).has('blank')) {
    createFrame({ name: 'Hero', width: 640, height: 360, x: 40, y: 40 });
    createFrame({ name: 'Avatar', width: 256, height: 256, x: 720, y: 40 });
    createFrame({ name: 'Banner', width: 960, height: 200, x: 40, y: 460 });
  }
  // Keeps figma.ui.resize and plugin-made canvas edits visible without a hook in the fake.
  setInterval(requestRender, 500);
  requestRender();
}

const ready = bootAsync();
ready.catch((error: unknown) => {
  $('boot-error').textContent = String(error instanceof Error ? error.message : error);
});

const api: PlaygroundApi = {
  ready,
  createFrame,
  createLayer,
  setLocked,
  select,
  async runCommand(command, parameters) {
    await ready;
    await host.runCommandAsync(COMMAND_ALIASES[command] ?? command, parameters);
  },
  async nodeFillsAsPng(id) {
    return toBase64(await findNode(id).exportAsync({ format: 'PNG' }));
  },
  nodeFills(id) {
    return JSON.parse(JSON.stringify(fillsOf(findNode(id)))) as Paint[];
  },
  async imageBytes(hash) {
    const image = host.figma.getImageByHash(hash);
    if (!image) throw new Error(`no image with hash ${JSON.stringify(hash)} in the document`);
    return toBase64(await image.getBytesAsync());
  },
  pluginData(id) {
    const node = findNode(id);
    return Object.fromEntries(node.getPluginDataKeys().map((key) => [key, node.getPluginData(key)]));
  },
  setPluginData(id, key, value) {
    findNode(id).setPluginData(key, value);
    host.figma.commitUndo();
    requestRender();
  },
  deleteNode(id) {
    host.figma.__userDelete(findNode(id));
    host.figma.commitUndo();
    requestRender();
  },
  undo() {
    host.figma.__undo();
    requestRender();
  },
  waitForIdle,
  nodes: () =>
    topNodes().map((n) => ({
      id: n.id,
      name: n.name,
      type: n.type,
      x: n.x,
      y: n.y,
      width: n.width,
      height: n.height,
      fills: fillsOf(n).map((p) => p.type),
      pluginDataKeys: n.getPluginDataKeys(),
      locked: n.locked,
    })),
  selection: selectedIds,
  wire: () => host.wire.log.slice(),
  notifications: () => notifications.map((n) => ({ message: n.message, error: n.options?.error === true })),
  uiOpen: () => host.uiFrame !== null,
  async setClientStorage(key, value) {
    await ready;
    await host.figma.clientStorage.setAsync(key, value);
  },
  async clientStorage(key) {
    await ready;
    return host.figma.clientStorage.getAsync(key);
  },
};

(window as unknown as { flowfill: PlaygroundApi }).flowfill = api;
