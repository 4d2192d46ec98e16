/**
 * The models the panel can run and what it does with them: load the one to start with (the last
 * model used from the store, else the built-in one), add a model from a picked folder or a URL
 * (with progress, bytes per second and cancel), remove one, use one. The store itself lives in the
 * engine worker (ModelStoreApi); this module keeps the panel's view of it in PanelState.library.
 */
import type { EngineApi, InstallProgress, ModelSource, ModelStoreApi, StoreStatus, StoredModel } from '../../common/engine-types.js';
import type { PanelStore } from '../panel-state.js';
import { describeEngineError } from './engine-errors.js';
import { loadModelIntoPanelAsync } from './model-state.js';
import type { ModelIdentity } from '../jobs/skip-reasons.js';

export interface LibraryState {
  /** What the store reported last; undefined until read, or when the panel has no store. */
  status?: StoreStatus;
  /** The add in progress. */
  install?: { installId: string; what: string; progress?: InstallProgress; startedAt: number };
  /** The outcome of the last add, remove or use, in words. */
  message?: { level: 'info' | 'error'; text: string };
  /** The built-in model, once it has been loaded (so regenerating its images can name it). */
  builtIn?: ModelIdentity;
}

export interface ModelLibrary {
  /** Reads the store's status again (after the panel starts, and after each change). */
  refreshAsync(): Promise<void>;
  /** Loads the model to start with; resolves true once one is ready. */
  loadStartModelAsync(): Promise<boolean>;
  /** Adds the picked folder's files (keyed by their path, starting with the folder's name). */
  addFromFilesAsync(files: Record<string, Blob>, folderName: string): Promise<void>;
  addFromUrlAsync(url: string): Promise<void>;
  cancelAddAsync(): Promise<void>;
  /** Removes a stored model, or discards a partial download (by its URL). */
  removeAsync(idOrUrl: string): Promise<void>;
  /** Loads a stored model (undefined: the built-in one) and makes it the one to start with. */
  useAsync(id: string | undefined): Promise<void>;
  /** Loads the last model asked for again (the panel's "Try again"). */
  retryAsync(): Promise<void>;
}

export interface ModelLibraryDeps {
  store: PanelStore;
  engine: Pick<EngineApi, 'capabilities' | 'loadModel'>;
  /** The worker's store; absent in hosts without one (unit tests of other parts). */
  models?: ModelStoreApi;
  /** True while any job is queued or running: the model must not change under it. */
  jobsActive(): boolean;
  /** navigator.storage.persist() (asked from the page before the first model is kept). */
  requestPersistence?(): Promise<boolean | undefined>;
}

let nextInstall = 1;

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) return '?';
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} kB`;
  return `${bytes} B`;
}

/** "about 16 s left" from the bytes still to come and the current speed; undefined when unknown. */
export function remainingTime(progress: InstallProgress | undefined): string | undefined {
  if (!progress?.totalBytes || !progress.bytesPerSecond) return undefined;
  const seconds = Math.max(0, (progress.totalBytes - progress.doneBytes) / progress.bytesPerSecond);
  if (seconds < 60) return `about ${Math.ceil(seconds)} s left`;
  if (seconds < 3600) return `about ${Math.ceil(seconds / 60)} min left`;
  return `about ${(seconds / 3600).toFixed(1)} h left`;
}

export function createModelLibrary(deps: ModelLibraryDeps): ModelLibrary {
  const { store, engine, models } = deps;
  const setLibrary = (patch: Partial<LibraryState>) => store.set((s) => ({ library: { ...s.library, ...patch } }));
  let lastSource: ModelSource = { kind: 'embedded' };

  async function refreshAsync(): Promise<void> {
    if (!models) return;
    try {
      setLibrary({ status: await models.storeStatus() });
    } catch (error) {
      setLibrary({ message: { level: 'error', text: `The model store could not be read. ${describeEngineError(error).message}` } });
    }
  }

  async function loadAsync(source: ModelSource): Promise<boolean> {
    lastSource = source;
    const loaded = await loadModelIntoPanelAsync(engine, store, source);
    const info = store.get().model.info;
    if (loaded && source.kind === 'embedded' && info)
      setLibrary({
        builtIn: { id: info.id, name: info.name, hash: info.hash, ...(info.supersedes ? { supersedes: info.supersedes } : {}) },
      });
    return loaded;
  }

  function modelName(id: string | undefined): string {
    if (id === undefined) return 'the built-in model';
    const found = store.get().library.status?.models.find((m) => m.id === id);
    return found ? `“${found.name}”` : `“${id}”`;
  }

  /** Loads a stored model (undefined: the built-in one) and remembers it as the one to start with; no message. */
  async function switchAsync(id: string | undefined): Promise<boolean> {
    const loaded = await loadAsync(id === undefined ? { kind: 'embedded' } : { kind: 'stored', id });
    if (loaded && models) {
      await models.setCurrentModel(id).catch(() => undefined);
      await refreshAsync();
    }
    return loaded;
  }

  async function useAsync(id: string | undefined): Promise<void> {
    if (deps.jobsActive()) {
      setLibrary({
        message: {
          level: 'error',
          text: `Images are still being made; ${modelName(id)} can be used once the queue is empty (or cancel it).`,
        },
      });
      return;
    }
    if (await switchAsync(id)) setLibrary({ message: { level: 'info', text: `Now using ${modelName(id)}.` } });
  }

  async function installAsync(
    what: string,
    run: (installId: string, onProgress: (p: InstallProgress) => void) => ReturnType<ModelStoreApi['installModel']>,
  ): Promise<void> {
    if (!models) return;
    if (store.get().library.install) {
      setLibrary({
        message: { level: 'error', text: `${store.get().library.install!.what} is still being added; wait for it or cancel it first.` },
      });
      return;
    }
    const installId = `install-${nextInstall++}`;
    setLibrary({ install: { installId, what, startedAt: Date.now() }, message: undefined });
    const status = store.get().library.status;
    if (status?.persistent && status.persisted === false) await deps.requestPersistence?.().catch(() => undefined);
    // The install line stays until the model is in use (or could not be), so what the section
    // shows next is the outcome, in one step.
    let message: NonNullable<LibraryState['message']>;
    try {
      const result = await run(installId, (progress) =>
        store.set((s) =>
          s.library.install?.installId === installId ? { library: { ...s.library, install: { ...s.library.install, progress } } } : {},
        ),
      );
      await refreshAsync();
      const added = `Added “${result.model.name}” (${result.model.kept === 'stored' ? 'kept in this site’s storage' : 'for this session'})`;
      if (result.loaded) {
        lastSource = { kind: 'stored', id: result.model.id };
        store.set((s) => ({ model: { status: 'ready', capabilities: s.model.capabilities, info: result.loaded } }));
        message = { level: 'info', text: `${added}; it is in use now.` };
      } else if (deps.jobsActive()) {
        message = { level: 'info', text: `${added}. Choose Use once the queue is empty.` };
      } else if (await switchAsync(result.model.id)) {
        message = { level: 'info', text: `${added}; it is in use now.` };
      } else {
        message = { level: 'error', text: `${added}, but it could not be loaded. ${store.get().model.error ?? ''}`.trim() };
      }
    } catch (error) {
      const described = describeEngineError(error);
      message =
        described.code === 'cancelled'
          ? { level: 'info', text: `Adding ${what} was cancelled.` }
          : { level: 'error', text: `${what} could not be added. ${described.message}` };
      await refreshAsync();
    }
    setLibrary({ install: undefined, message });
  }

  return {
    refreshAsync,
    async loadStartModelAsync() {
      await refreshAsync();
      const currentId = store.get().library.status?.currentId;
      if (currentId !== undefined) {
        if (await loadAsync({ kind: 'stored', id: currentId })) return true;
        const why = store.get().model.error ?? '';
        setLibrary({
          message: { level: 'error', text: `${modelName(currentId)} could not be loaded, so the built-in model is used. ${why}`.trim() },
        });
      }
      return loadAsync({ kind: 'embedded' });
    },
    addFromFilesAsync(files, folderName) {
      // The browser tells the folder's name, not its path; "…/" says so, and the engine names a
      // checkpoint without a name of its own after the description's last path segment.
      const description = `the folder …/${folderName}`;
      return installAsync(`The folder “${folderName}”`, (installId, onProgress) =>
        models!.installModel(installId, { kind: 'files', files, description }, {}, onProgress),
      );
    },
    addFromUrlAsync(url) {
      const trimmed = url.trim();
      if (trimmed === '') {
        setLibrary({
          message: {
            level: 'error',
            text: 'Paste the base URL of a model folder first, e.g. https://huggingface.co/<org>/<repo>/resolve/main/',
          },
        });
        return Promise.resolve();
      }
      return installAsync(trimmed, (installId, onProgress) =>
        models!.installModel(installId, { kind: 'url', baseUrl: trimmed }, {}, onProgress),
      );
    },
    async cancelAddAsync() {
      const install = store.get().library.install;
      if (install && models) await models.cancelInstall(install.installId);
    },
    async removeAsync(idOrUrl) {
      if (!models) return;
      const current = store.get().model.info;
      const entry: StoredModel | undefined = store.get().library.status?.models.find((m) => m.id === idOrUrl);
      if (entry && current?.id === entry.id && deps.jobsActive()) {
        setLibrary({ message: { level: 'error', text: `“${entry.name}” is making images; remove it once the queue is empty.` } });
        return;
      }
      let status: StoreStatus;
      try {
        status = await models.removeModel(idOrUrl);
      } catch (error) {
        setLibrary({ message: { level: 'error', text: `Could not remove it. ${describeEngineError(error).message}` } });
        return;
      }
      // The model in use was removed: the built-in one takes its place (and is the one to start with).
      const wasCurrent = entry !== undefined && current?.id === entry.id;
      if (wasCurrent) await switchAsync(undefined);
      const text = entry
        ? `Removed “${entry.name}” and freed ${formatBytes(entry.bytes)}${wasCurrent ? '; the built-in model is in use now' : ''}.`
        : `Discarded the partial download of ${idOrUrl}.`;
      setLibrary({ status: wasCurrent ? store.get().library.status : status, message: { level: 'info', text } });
    },
    useAsync,
    async retryAsync() {
      await loadAsync(lastSource);
    },
  };
}
