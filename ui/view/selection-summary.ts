/** What the selection means for the panel's buttons and provenance card. Pure. */
import type { SelectedLayer } from '../../common/host-rpc.js';
import type { ProvenanceRecord } from '../../common/provenance.js';

/**
 * The primary button's label: what pressing it will do to the canvas (ui/jobs/plan-batch.ts
 * decides the same way): nothing selected inserts `variations` new frames; a selection fills each
 * fillable layer.
 */
export function primaryActionLabel(layers: readonly SelectedLayer[], variations = 1): string {
  if (layers.length === 0) return variations > 1 ? `Insert ${variations} images` : 'Insert';
  const fillable = layers.filter((t) => t.unfillable === undefined).length;
  if (fillable === 0) return 'Nothing to fill';
  return fillable === 1 ? 'Fill 1 frame' : `Fill ${fillable} frames`;
}

/** The record to show for the selection: the single selected layer's, when it has one. */
export function selectedProvenance(layers: readonly SelectedLayer[]): { layer: SelectedLayer; record: ProvenanceRecord } | undefined {
  if (layers.length !== 1 || !layers[0].provenance) return undefined;
  return { layer: layers[0], record: layers[0].provenance };
}
