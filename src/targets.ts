/**
 * Which selected nodes Flowfill fills, and why not the others. Host-neutral: works on HostNodeFacts.
 */
import type { TargetInfo, TargetNodeType } from '../common/protocol.js';
import { parseProvenance } from '../common/provenance.js';
import type { HostNodeFacts } from './host/host.js';

/** Types whose fills hold an image the way a designer expects (the image covers the shape). */
const FILLABLE = ['FRAME', 'RECTANGLE', 'ELLIPSE', 'POLYGON', 'STAR', 'COMPONENT', 'INSTANCE'];
const KNOWN: TargetNodeType[] = ['FRAME', 'RECTANGLE', 'ELLIPSE', 'POLYGON', 'STAR', 'COMPONENT', 'INSTANCE', 'GROUP', 'TEXT'];

/** Why a node cannot be filled, in plain language; null when it can. */
export function skipReasonFor(node: HostNodeFacts): string | null {
  if (node.type === 'TEXT') return 'Text layers are skipped: an image fill would paint the letters. Select a frame or shape instead.';
  if (node.type === 'GROUP') return 'Groups have no fill of their own. Select a frame or shape inside it.';
  if (FILLABLE.indexOf(node.type) < 0 || !node.supportsFills) return `${titleCase(node.type)} layers are not supported. Select a frame or shape.`;
  if (node.locked) return 'The layer is locked. Unlock it to fill it.';
  if (node.fillsMixed) return 'The layer has mixed fills.';
  if (!(node.width >= 1 && node.height >= 1)) return 'The layer is smaller than 1 px on a side.';
  return null;
}

function titleCase(type: string): string {
  const words = type.toLowerCase().replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function describeTarget(node: HostNodeFacts): TargetInfo {
  const skip = skipReasonFor(node);
  const info: TargetInfo = {
    id: node.id,
    name: node.name.slice(0, 1000),
    type: KNOWN.indexOf(node.type as TargetNodeType) >= 0 ? (node.type as TargetNodeType) : 'OTHER',
    width: node.width,
    height: node.height,
    hasImageFill: node.hasImageFill,
    canFill: skip === null,
  };
  if (skip !== null) info.skipReason = skip;
  const record = parseProvenance(node.recordText);
  if (record.ok) info.provenance = record.value;
  return info;
}
