/**
 * Writes one image: looks the node up (the one await), has Figma accept the bytes, and only then
 * changes the document, synchronously, so closing the plugin mid-way cannot leave an empty frame
 * or an image without its record. Fills are frozen in Figma: a new array replaces them whole;
 * createImage takes PNG up to 4096 px a side and throws otherwise.
 */
import type { PlaceImageArgs, PlaceImageOutcome } from '../common/host-rpc.js';
import { PROVENANCE_KEY, parseProvenance, serializeProvenance } from '../common/provenance.js';
import { findSceneNode, hasFills, type Fillable } from './describe-layers.js';
import { composeFills, imagePaint } from './fills.js';

/** The relaunch buttons every Flowfill image gets (manifest.json relaunchButtons). */
export const RELAUNCH_DATA = { regenerate: '', variations: '' };

export async function placeImage(api: PluginAPI, { destination, png, fillMode, record }: PlaceImageArgs): Promise<PlaceImageOutcome> {
  let target: Fillable | null = null;
  if (destination.kind === 'existing') {
    const node = await findSceneNode(api, destination.nodeId);
    if (!node || !hasFills(node))
      return { placed: false, reason: 'node-missing', message: `The layer ${destination.nodeId} no longer exists` };
    if (node.locked) return { placed: false, reason: 'node-locked', message: `The layer ${node.name} is locked` };
    target = node;
  }
  let image: Image;
  try {
    image = api.createImage(png);
  } catch (e) {
    return { placed: false, reason: 'image-rejected', message: e instanceof Error ? e.message : String(e) };
  }
  const recordText = serializeProvenance({ ...record, imageHash: image.hash });

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
    target.fills = composeFills(current, image.hash, fillMode, previous.ok ? previous.value.imageHash : undefined);
  }
  const node = target!;
  node.setPluginData(PROVENANCE_KEY, recordText);
  node.setRelaunchData(RELAUNCH_DATA);
  return { placed: true, nodeId: node.id, nodeName: node.name };
}
