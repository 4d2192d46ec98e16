/**
 * The model and engine part of the panel: what runs (model name, backend and why), loading
 * progress, notes, "Try again". Its own section so a model store can grow here.
 */
import type { ModelState } from '../engine/model-state.js';

function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MB`;
  if (bytes >= 1 << 10) return `${Math.round(bytes / (1 << 10))} kB`;
  return `${bytes} B`;
}

export function ModelHeader({ model }: { model: ModelState }) {
  const backend = model.info?.backend ?? model.capabilities?.backend;
  const adapter = model.capabilities?.adapter;
  const backendTitle = model.capabilities?.fallbackReason
    ? `Running on the CPU (WebAssembly): ${model.capabilities.fallbackReason}`
    : adapter
      ? `GPU: ${adapter.vendor} ${adapter.description || adapter.architecture}`.trim()
      : '';
  const name = model.info ? model.info.name : model.status === 'failed' ? 'Model not loaded' : 'Loading model…';
  const title = model.info ? `${model.info.id} · ${model.info.nativeSize}px native${model.info.licence ? ` · ${model.info.licence}` : ''}` : undefined;
  return (
    <header class="ff-header">
      <span class="ff-title">Flowfill</span>
      <span class="ff-model" id="ff-model-name" title={title}>
        {name}
      </span>
      <span class={`ff-badge${backend === 'webgpu' ? ' is-webgpu' : ''}`} id="ff-backend" title={backendTitle}>
        {backend === 'webgpu' ? 'WebGPU' : backend === 'wasm' ? 'WASM' : '…'}
      </span>
    </header>
  );
}

export function ModelStatusLine({ model, onRetry }: { model: ModelState; onRetry: () => void }) {
  if (model.status === 'ready') return null;
  const p = model.progress;
  const text =
    model.status === 'failed'
      ? (model.error ?? 'The model could not be loaded.')
      : p
        ? `Loading ${p.file} · ${formatBytes(p.loadedBytes)}${p.totalBytes ? ` of ${formatBytes(p.totalBytes)}` : ''}`
        : 'Starting the engine…';
  return (
    <div class={`ff-load${model.status === 'failed' ? ' is-error' : ''}`} id="ff-model-load">
      <span>{text}</span>{' '}
      {model.status === 'failed' && (
        <button class="ff-link" type="button" id="ff-retry-load" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function ModelNotes({ model }: { model: ModelState }) {
  const lines = [...(model.info?.notes ?? [])];
  // The engine usually repeats the fallback reason in the model notes already.
  const fallback = model.capabilities?.fallbackReason;
  if (fallback && !lines.some((note) => note.includes(fallback))) lines.push(`WebGPU unavailable: ${fallback}`);
  if (lines.length === 0) return null;
  return (
    <details class="ff-notes" id="ff-model-notes">
      <summary>Model notes ({lines.length})</summary>
      <ul>
        {lines.map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
    </details>
  );
}
