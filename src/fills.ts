/**
 * How a new image joins a node's fills. Figma paints the list bottom to top, so the image goes
 * last. Fills are frozen in Figma: always build a new array.
 */
import type { FillMode } from '../common/host-rpc.js';

export function imagePaint(imageHash: string): ImagePaint {
  return { type: 'IMAGE', imageHash, scaleMode: 'FILL' };
}

/**
 * 'replace': only the new image. 'keep': the existing fills stay underneath; the image Flowfill
 * itself put there last time (previousImageHash) is the one paint replaced, so regenerating
 * does not stack images.
 */
export function composeFills(current: ReadonlyArray<Paint>, newImageHash: string, mode: FillMode, previousImageHash?: string): Paint[] {
  if (mode === 'replace') return [imagePaint(newImageHash)];
  const kept = current.filter((p) => !(previousImageHash !== undefined && p.type === 'IMAGE' && p.imageHash === previousImageHash));
  return [...kept, imagePaint(newImageHash)];
}
