/**
 * The Figma implementation of the Host seam. Figma facts it relies on (see
 * shared reference figma-plugins.md §3): fills are frozen and replaced whole; createImage takes
 * PNG/JPEG/GIF up to 4096 px and throws otherwise; plugin data is ≤ 100 kB per entry; under
 * documentAccess "dynamic-page" nodes are looked up with getNodeByIdAsync; plugin changes are
 * not undoable until commitUndo.
 */
import { PROVENANCE_KEY, parseProvenance, serializeProvenance } from '../../common/provenance.js';
import type { MainToUi } from '../../common/protocol.js';
import { composeFills, imagePaint } from '../fills.js';
import type { Host, HostNodeFacts, PlaceImageOutcome, PlaceImageRequest, UiChannel } from './host.js';

/** The relaunch buttons every Flowfill image gets (manifest relaunchButtons). */
export const RELAUNCH_DATA = { regenerate: '', variations: '' };

type Fillable = SceneNode & MinimalFillsMixin;

function hasFills(node: BaseNode): node is Fillable {
  return 'fills' in node;
}

export function nodeFacts(api: PluginAPI, node: SceneNode): HostNodeFacts {
  const fills = hasFills(node) ? node.fills : undefined;
  const fillsMixed = fills === api.mixed;
  const paints = Array.isArray(fills) ? (fills as ReadonlyArray<Paint>) : [];
  const box = node.absoluteBoundingBox ?? { x: node.x, y: node.y };
  return {
    id: node.id,
    name: node.name,
    type: node.type,
    width: node.width,
    height: node.height,
    x: box.x,
    y: box.y,
    locked: node.locked,
    supportsFills: fills !== undefined,
    fillsMixed,
    hasImageFill: paints.some((p) => p.type === 'IMAGE'),
    recordText: node.getPluginData(PROVENANCE_KEY),
  };
}

async function findSceneNode(api: PluginAPI, id: string): Promise<SceneNode | null> {
  const node = await api.getNodeByIdAsync(id);
  if (!node || node.removed || node.type === 'DOCUMENT' || node.type === 'PAGE') return null;
  return node as SceneNode;
}

export function createFigmaHost(api: PluginAPI): Host {
  return {
    name: 'figma',
    readSelection: () => api.currentPage.selection.map((node) => nodeFacts(api, node)),
    async getNode(id) {
      const node = await findSceneNode(api, id);
      return node ? nodeFacts(api, node) : null;
    },
    placeImage: (request) => placeImage(api, request),
    async exportPng(id, size) {
      const node = await findSceneNode(api, id);
      if (!node) throw new Error(`The layer ${id} no longer exists`);
      return node.exportAsync({ format: 'PNG', constraint: { type: 'WIDTH', value: size.width } });
    },
    notify(message, options) {
      const figmaOptions: NotificationOptions = {};
      if (options?.error) figmaOptions.error = true;
      if (options?.persistent) figmaOptions.timeout = Infinity;
      if (options?.action) {
        // An action that returns nothing dismisses the toast when clicked.
        figmaOptions.button = { text: options.action.text, action: options.action.run };
      }
      return api.notify(message, figmaOptions);
    },
    checkpoint: () => api.commitUndo(),
    viewportCenter: () => ({ x: api.viewport.center.x, y: api.viewport.center.y }),
    async reveal(ids) {
      const nodes = (await Promise.all(ids.map((id) => findSceneNode(api, id)))).filter((n): n is SceneNode => n !== null);
      if (nodes.length > 0) api.viewport.scrollAndZoomIntoView(nodes);
    },
    loadValue: (key) => api.clientStorage.getAsync(key),
    saveValue: (key, value) => api.clientStorage.setAsync(key, value),
    onSelectionChange: (callback) => api.on('selectionchange', callback),
    resizeUi: (width, height) => api.ui.resize(width, height),
    close: () => api.closePlugin(),
  };
}

/**
 * Writes the image: looks the node up (the one await), has Figma accept the bytes, and only then
 * changes the document, synchronously, so closing the plugin mid-way cannot leave an empty frame
 * or an image without its record.
 */
async function placeImage(api: PluginAPI, request: PlaceImageRequest): Promise<PlaceImageOutcome> {
  const { destination } = request;
  let target: Fillable | null = null;
  if (destination.kind === 'existing') {
    const node = await findSceneNode(api, destination.nodeId);
    if (!node || !hasFills(node)) return { ok: false, reason: 'node-missing', message: `The layer ${destination.nodeId} no longer exists` };
    if (node.locked) return { ok: false, reason: 'node-locked', message: `The layer ${node.name} is locked` };
    target = node;
  }
  let image: Image;
  try {
    image = api.createImage(request.png);
  } catch (e) {
    return { ok: false, reason: 'image-rejected', message: e instanceof Error ? e.message : String(e) };
  }
  const record = { ...request.record, imageHash: image.hash };
  const recordText = serializeProvenance(record);

  if (target === null && destination.kind === 'create') {
    const frame = api.createFrame();
    frame.name = destination.name;
    frame.resize(destination.width, destination.height);
    frame.x = destination.x;
    frame.y = destination.y;
    frame.fills = [imagePaint(image.hash)];
    target = frame;
  } else if (target !== null) {
    const current = target.fills === api.mixed ? [] : (target.fills as ReadonlyArray<Paint>);
    const previous = parseProvenance(target.getPluginData(PROVENANCE_KEY));
    target.fills = composeFills(current, image.hash, request.fillMode, previous.ok ? previous.value.imageHash : undefined);
  }
  const node = target!;
  node.setPluginData(PROVENANCE_KEY, recordText);
  node.setRelaunchData(RELAUNCH_DATA);
  return { ok: true, nodeId: node.id, nodeName: node.name, imageHash: image.hash };
}

/** The Figma side of the panel link: figma.ui.postMessage / figma.ui.onmessage. */
export function createFigmaUiChannel(api: PluginAPI): UiChannel {
  return {
    post: (message: MainToUi) => api.ui.postMessage(message),
    onMessage(handler) {
      api.ui.onmessage = (raw: unknown) => handler(raw);
    },
  };
}
