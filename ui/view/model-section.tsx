/**
 * The model and engine part of the panel: what runs (model name, backend and why), loading
 * progress, notes, "Try again", and the Models section (the model store: add, remove, use).
 */
import { useState } from 'preact/hooks';
import type { StoreStatus } from '../../common/engine-types.js';
import { formatBytes, remainingTime, type LibraryState } from '../engine/model-library.js';
import type { ModelState } from '../engine/model-state.js';
import type { Panel } from '../panel.js';

export function ModelHeader({ model }: { model: ModelState }) {
  const backend = model.info?.backend ?? model.capabilities?.backend;
  const adapter = model.capabilities?.adapter;
  const backendTitle = model.capabilities?.fallbackReason
    ? `Running on the CPU (WebAssembly): ${model.capabilities.fallbackReason}`
    : adapter
      ? `GPU: ${adapter.vendor} ${adapter.description || adapter.architecture}`.trim()
      : '';
  const name = model.info ? model.info.name : model.status === 'failed' ? 'Model not loaded' : 'Loading model…';
  const title = model.info
    ? `${model.info.id} · ${model.info.nativeSize}px native${model.info.licence ? ` · ${model.info.licence}` : ''}`
    : undefined;
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

function StorageLine({ status }: { status: StoreStatus | undefined }) {
  if (!status) return null;
  if (!status.persistent) {
    return (
      <div class="ff-hint" id="ff-storage">
        Added models stay for this session only. {status.sessionOnlyReason ? `Why: ${status.sessionOnlyReason}.` : ''}
      </div>
    );
  }
  const persisted =
    status.persisted === true
      ? 'the browser keeps them until you remove them'
      : 'the browser may clear them when the disk runs low (it did not grant persistent storage)';
  return (
    <div class="ff-hint" id="ff-storage">
      {`Kept in this site’s private storage: ${formatBytes(status.usageBytes)} used of ${formatBytes(status.quotaBytes)}; ${persisted}.`}
    </div>
  );
}

function InstallLine({ install, onCancel }: { install: NonNullable<LibraryState['install']>; onCancel: () => void }) {
  const p = install.progress;
  const stage = p
    ? { checking: 'Checking', downloading: 'Downloading', converting: 'Converting', copying: 'Copying', verifying: 'Verifying' }[p.stage]
    : 'Starting';
  const amount = p && p.doneBytes > 0 ? `${formatBytes(p.doneBytes)}${p.totalBytes ? ` of ${formatBytes(p.totalBytes)}` : ''}` : '';
  const rate = p?.bytesPerSecond ? `${formatBytes(p.bytesPerSecond)}/s` : '';
  const parts = [`${stage} ${install.what}`, p?.file, amount, rate, remainingTime(p)].filter(Boolean);
  const fraction = p?.totalBytes ? Math.min(1, p.doneBytes / p.totalBytes) : 0;
  return (
    <div class="ff-install" id="ff-install" data-stage={p?.stage ?? 'starting'}>
      <div class="ff-inline">
        <span class="ff-install-text">{parts.join(' · ')}</span>
        <button class="ff-button is-small" type="button" id="ff-install-cancel" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <div class="ff-progress">
        <div style={{ width: `${(fraction * 100).toFixed(1)}%` }} />
      </div>
    </div>
  );
}

function filesFromInput(input: HTMLInputElement): { files: Record<string, Blob>; folder: string } | undefined {
  const list = Array.from(input.files ?? []);
  if (list.length === 0) return undefined;
  const files: Record<string, Blob> = {};
  for (const file of list) files[file.webkitRelativePath || file.name] = file;
  const first = list[0].webkitRelativePath || list[0].name;
  return { files, folder: first.includes('/') ? first.split('/')[0] : 'the picked files' };
}

/** Models: the one in use, the ones installed, adding (folder, URL), removing, using. */
export function ModelsSection({ model, library, panel, busy }: { model: ModelState; library: LibraryState; panel: Panel; busy: boolean }) {
  const [url, setUrl] = useState('');
  const status = library.status;
  const info = model.info;
  const current = status?.models.find((m) => m.id === info?.id);
  const builtInInUse = info !== undefined && library.builtIn?.id === info.id;
  const size = current ? current.bytes : builtInInUse ? status?.builtInBytes : info?.weightBytes;
  const precision = current?.precision ?? info?.precision;
  const adding = library.install !== undefined;
  const hasStore = status !== undefined;
  return (
    <details class="ff-details ff-section" id="ff-models">
      <summary>
        Models
        <span class="ff-hint" id="ff-models-summary">
          {info ? `${info.name}${size !== undefined ? ` · ${formatBytes(size)}` : ''}` : ''}
        </span>
      </summary>
      <div class="ff-details-body">
        {info && (
          <div class="ff-card" id="ff-current-model">
            <div class="ff-card-prompt">{info.name}</div>
            <div class="ff-meta">
              {size !== undefined && <span>{formatBytes(size)}</span>}
              <span>{precision ?? 'precision not recorded'}</span>
              <span>{info.licence ?? 'licence not stated'}</span>
              <span>{info.backend === 'webgpu' ? 'WebGPU' : 'WASM'}</span>
              <span title={info.hash}>{info.id}</span>
            </div>
          </div>
        )}
        {hasStore && (
          <ul class="ff-model-list" id="ff-model-list">
            {status.builtInBytes !== undefined && (
              <li class="ff-model-item" data-model-id="built-in">
                <span class="ff-model-text">{`${library.builtIn?.name ?? 'Built-in model'} · built in · ${formatBytes(status.builtInBytes)}`}</span>
                {builtInInUse ? (
                  <span class="ff-hint">in use</span>
                ) : (
                  <button
                    class="ff-button is-small"
                    type="button"
                    disabled={busy || adding}
                    onClick={() => void panel.library.useAsync(undefined)}
                  >
                    Use
                  </button>
                )}
              </li>
            )}
            {status.models.map((m) => (
              <li class="ff-model-item" data-model-id={m.id} key={m.id} title={`${m.source}; hash ${m.hash}`}>
                <span class="ff-model-text">{`${m.name} · ${formatBytes(m.bytes)}${m.precision ? ` · ${m.precision}` : ''}${m.kept === 'session' ? ' · this session' : ''}${m.converted ? ' · converted' : ''}`}</span>
                {info?.id === m.id ? (
                  <span class="ff-hint">in use</span>
                ) : (
                  <button
                    class="ff-button is-small"
                    type="button"
                    data-action="use"
                    disabled={busy || adding}
                    onClick={() => void panel.library.useAsync(m.id)}
                  >
                    Use
                  </button>
                )}
                <button
                  class="ff-button is-small"
                  type="button"
                  data-action="remove"
                  disabled={adding}
                  onClick={() => void panel.library.removeAsync(m.id)}
                >
                  Remove
                </button>
              </li>
            ))}
            {status.partialDownloads.map((d) => (
              <li class="ff-model-item" data-partial-url={d.url} key={d.url}>
                <span class="ff-model-text">{`Partial download of ${d.url} · ${formatBytes(d.bytes)}${d.totalBytes ? ` of ${formatBytes(d.totalBytes)}` : ''}`}</span>
                <button
                  class="ff-button is-small"
                  type="button"
                  data-action="resume"
                  disabled={adding}
                  onClick={() => void panel.library.addFromUrlAsync(d.url)}
                >
                  Resume
                </button>
                <button
                  class="ff-button is-small"
                  type="button"
                  data-action="discard"
                  disabled={adding}
                  onClick={() => void panel.library.removeAsync(d.url)}
                >
                  Discard
                </button>
              </li>
            ))}
          </ul>
        )}
        {hasStore && (
          <>
            <div class="ff-inline">
              <label
                class="ff-button"
                id="ff-add-folder"
                title="A diffusers SD3 checkpoint folder (converted once) or a Flowfill/Optimum ONNX package folder"
              >
                Add from folder…
                <input
                  type="file"
                  id="ff-add-folder-input"
                  hidden
                  multiple
                  disabled={adding}
                  // webkitdirectory: the browser's folder picker; each File's webkitRelativePath starts with the folder's name.
                  {...{ webkitdirectory: true }}
                  onChange={(event) => {
                    const input = event.currentTarget;
                    const picked = filesFromInput(input);
                    input.value = '';
                    if (picked) void panel.library.addFromFilesAsync(picked.files, picked.folder);
                  }}
                />
              </label>
            </div>
            <div class="ff-inline">
              <input
                class="ff-input"
                id="ff-add-url"
                type="url"
                placeholder="https://huggingface.co/<org>/<repo>/resolve/main/"
                aria-label="Base URL of a model folder"
                value={url}
                onInput={(event) => setUrl(event.currentTarget.value)}
              />
              <button
                class="ff-button"
                type="button"
                id="ff-add-url-button"
                disabled={adding}
                onClick={() => void panel.library.addFromUrlAsync(url)}
              >
                Add from URL
              </button>
            </div>
          </>
        )}
        {library.install && <InstallLine install={library.install} onCancel={() => void panel.library.cancelAddAsync()} />}
        {library.message && (
          <div
            class={`ff-library-message${library.message.level === 'error' ? ' is-error' : ''}`}
            id="ff-library-message"
            role={library.message.level === 'error' ? 'alert' : 'status'}
          >
            {library.message.text}
          </div>
        )}
        <StorageLine status={status} />
      </div>
    </details>
  );
}
