/** The selected Flowfill image's record: how it was made, "Use these settings" and "Regenerate". */
import type { SelectedLayer } from '../../common/host-rpc.js';
import type { ProvenanceRecord } from '../../common/provenance.js';

function recordMeta(record: ProvenanceRecord): string[] {
  const meta = [`Seed ${record.seed}`, `${record.steps} steps`, `Guidance ${record.guidance}`, `${record.width}×${record.height}`];
  if (record.strength !== undefined) meta.push(`Strength ${record.strength}`);
  meta.push(`${record.model.id} · ${record.backend === 'webgpu' ? 'WebGPU' : 'WASM'}`);
  return meta;
}

export function ProvenanceCard({
  layer,
  record,
  onUse,
  onRegenerate,
}: {
  layer: SelectedLayer;
  record: ProvenanceRecord;
  onUse: () => void;
  onRegenerate: () => void;
}) {
  return (
    <section class="ff-section" id="ff-provenance">
      <div class="ff-section-head">
        <span>{`“${layer.name}” was made with`}</span>
      </div>
      <div class="ff-card">
        <div class="ff-card-prompt">{record.prompt || '(no prompt)'}</div>
        {record.negativePrompt && <div class="ff-meta">Avoid: {record.negativePrompt}</div>}
        <div class="ff-meta">
          {recordMeta(record).map((m) => (
            <span key={m}>{m}</span>
          ))}
        </div>
        <div class="ff-inline">
          <button class="ff-button is-small" type="button" id="ff-use-settings" onClick={onUse}>
            Use these settings
          </button>
          <button class="ff-button is-small" type="button" id="ff-regenerate" title="Make this exact image again" onClick={onRegenerate}>
            Regenerate
          </button>
        </div>
      </div>
    </section>
  );
}
