/**
 * Figma layers as the panel sees them: which can hold an image fill (and why not), what record
 * they carry, and — for a job only — their size and page position.
 */
import type { SelectedLayer, Target, UnfillableReason } from '../common/host-rpc.js';
import { LIMITS } from '../common/host-rpc.js';
import { PROVENANCE_KEY, parseProvenance } from '../common/provenance.js';

/** Types whose fills hold an image the way a designer expects (the image covers the shape). */
const FILLABLE = ['FRAME', 'RECTANGLE', 'ELLIPSE', 'POLYGON', 'STAR', 'COMPONENT', 'INSTANCE'];

export type Fillable = SceneNode & MinimalFillsMixin;

export function hasFills(node: BaseNode): node is Fillable {
  return 'fills' in node;
}

function unfillableReason(api: PluginAPI, node: SceneNode): UnfillableReason | undefined {
  if (node.type === 'TEXT') return 'text';
  if (node.type === 'GROUP') return 'group';
  if (FILLABLE.indexOf(node.type) < 0 || !hasFills(node)) return 'unsupported';
  if (node.locked) return 'locked';
  if (node.fills === api.mixed) return 'mixed-fills';
  if (!(node.width >= 1 && node.height >= 1)) return 'too-small';
  return undefined;
}

export function describeLayer(api: PluginAPI, node: SceneNode): SelectedLayer {
  const fills = hasFills(node) && Array.isArray(node.fills) ? (node.fills as ReadonlyArray<Paint>) : [];
  const layer: SelectedLayer = {
    id: node.id,
    name: node.name.slice(0, LIMITS.nameChars),
    type: node.type,
    hasImageFill: fills.some((p) => p.type === 'IMAGE'),
  };
  const unfillable = unfillableReason(api, node);
  if (unfillable) layer.unfillable = unfillable;
  const record = parseProvenance(node.getPluginData(PROVENANCE_KEY));
  if (record.ok) layer.provenance = record.value;
  return layer;
}

export function describeTarget(api: PluginAPI, node: SceneNode): Target {
  const box = node.absoluteBoundingBox ?? { x: node.x, y: node.y };
  return { ...describeLayer(api, node), width: node.width, height: node.height, x: box.x, y: box.y };
}

/** The current selection, cut at the protocol's limit. */
export function selectedNodes(api: PluginAPI): readonly SceneNode[] {
  return api.currentPage.selection.slice(0, LIMITS.maxLayers);
}

/** The node with this id, or null when it is gone (or is not a layer). */
export async function findSceneNode(api: PluginAPI, id: string): Promise<SceneNode | null> {
  const node = await api.getNodeByIdAsync(id);
  if (!node || node.removed || node.type === 'DOCUMENT' || node.type === 'PAGE') return null;
  return node as SceneNode;
}
