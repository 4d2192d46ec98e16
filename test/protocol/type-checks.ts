/**
 * Compile-time checks of the host RPC's types, run by `npm run typecheck` (never executed). Each
 * @ts-expect-error line is a call or payload that must NOT compile; if the types loosen, tsc
 * reports the directive as unused and the typecheck fails.
 */
import type { HostMethods, SelectedLayer, Target } from '../../common/host-rpc.js';
import type { ProvenanceRecord } from '../../common/provenance.js';
import type { RpcHandlers } from '../../common/rpc-link.js';
import type { HostClient, HostConnection } from '../../ui/host-client.js';

declare const host: HostClient;
declare const connection: HostConnection;
declare const record: ProvenanceRecord;
declare const png: Uint8Array;

export async function wellTyped(): Promise<number> {
  const { targets, viewportCenter } = await host.readTargets();
  const placed = await host.placeImage({ destination: { kind: 'existing', nodeId: '1:2' }, png, fillMode: 'keep', record });
  const exported: Uint8Array = await host.exportPng({ nodeId: '1:2', width: 64 });
  await host.commitUndo();
  connection.on('selection-changed', ({ layers }) => layers.map((layer) => layer.id));
  return targets[0].width + viewportCenter.x + exported.length + (placed.placed ? placed.nodeId.length : placed.message.length);
}

export async function wrongCalls(): Promise<void> {
  // @ts-expect-error png must be a Uint8Array, not a base64 string
  await host.placeImage({ destination: { kind: 'existing', nodeId: '1:2' }, png: 'iVBOR', fillMode: 'keep', record });
  // @ts-expect-error an image needs its provenance record
  await host.placeImage({ destination: { kind: 'existing', nodeId: '1:2' }, png, fillMode: 'keep' });
  // @ts-expect-error fillMode is 'keep' | 'replace'
  await host.placeImage({ destination: { kind: 'existing', nodeId: '1:2' }, png, fillMode: 'under', record });
  // @ts-expect-error a created frame needs its size and position
  await host.placeImage({ destination: { kind: 'create', name: 'x' }, png, fillMode: 'keep', record });
  // @ts-expect-error exportPng takes a width in pixels, not a size object
  await host.exportPng({ nodeId: '1:2', width: { width: 64, height: 48 } });
  // @ts-expect-error storage keys are a closed set
  await host.loadValue({ key: 'secrets' });
  // @ts-expect-error unknown method
  await host.generateNow();
  // @ts-expect-error unknown event
  connection.on('party', () => {});
}

export function selectionHasNoGeometry(layer: SelectedLayer, target: Target): number {
  // @ts-expect-error sizes cross the boundary once, with readTargets; the selection for display has none
  return layer.width + target.width;
}

export const wrongHandlers: Pick<RpcHandlers<HostMethods>, 'checkNodes' | 'commitUndo'> = {
  // @ts-expect-error a handler must return its method's result shape
  checkNodes: ({ nodeIds }) => ({ missing: nodeIds.length }),
  commitUndo: () => null,
};
