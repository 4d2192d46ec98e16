/**
 * The model store (ModelStoreApi), in the engine worker. Where the origin has a private file
 * system (OPFS: the hosted app, the playground's hosted mode), models are kept there:
 *
 *   flowfill-models/index.json        the published models (store-index.ts), replaced atomically
 *   flowfill-models/packages/<id>/    Flowfill packages written by the store (converted or copied)
 *   flowfill-models/downloads/<key>/  files downloaded from a URL; kept to resume until installed
 *
 * Adding a model: check the space it needs against the browser's quota (before any byte is
 * written), write it into a fresh folder (a diffusers checkpoint is converted once into a Flowfill
 * package, with the sha256 of every file; an ONNX package is copied and hashed), read it back
 * through the engine's package checks, and only then add it to the index. Anything that stops
 * earlier leaves a folder the index does not name, removed at the next start.
 *
 * Loading a stored model reads no weight byte twice: sha256 was checked as the package was
 * written, so loads check each file's size against flowfill.json and hand weights to onnxruntime
 * as file-backed Blobs (VerifyingReader's digestsCheckedOnWrite).
 *
 * Where the origin has no OPFS (Figma's null-origin plugin frame: the embedded build), added
 * models are kept in memory for the session: picked files stay readable while the panel is open.
 */
import type {
  InstallProgress,
  InstallResult,
  InstallSource,
  ModelInfo,
  ModelSource,
  ModelStoreApi,
  PartialDownload,
  PrecisionChoice,
  StoreStatus,
  StoredModel,
} from '../../common/engine-types.js';
import { EngineError } from '../engine/engine-error.js';
import { checkManifest } from '../engine/flowfill-manifest.js';
import { readModelPackageAsync } from '../engine/load-model-package.js';
import type { LoadTarget } from '../engine/model-family.js';
import { openPackageAsync, type PackageFiles } from '../engine/package-source.js';
import { writePackageAsync, type PackageFile } from '../engine/package-writer.js';
import { convertDiffusersCheckpointAsync } from '../engine/sd3/convert-diffusers.js';
import { isDiffusersLayoutAsync, resolvePrecision } from '../engine/sd3/diffusers-package.js';
import { createSha256 } from '../engine/sha256-stream.js';
import { parseJsonObject } from '../engine/verifying-reader.js';
import {
  fileAsync,
  folderAsync,
  listAsync,
  opfsUnavailableReasonAsync,
  removeAsync,
  replaceFileAtomicallyAsync,
  storageRootAsync,
  walkFilesAsync,
} from './opfs.js';
import { opfsDownloadTargetAsync, opfsPackageFiles, opfsPackageSink } from './opfs-package.js';
import { onnxPackagePaths, packagePathsOf, pickedPackageFiles } from './picked-folder.js';
import { planRemotePackageAsync, type FetchFn, type RemotePlan } from './remote-package.js';
import { downloadFileAsync } from './resumable-download.js';
import { emptyIndex, parseStoreIndex, serializeStoreIndex, type IndexEntry, type StoreIndex } from './store-index.js';

const ROOT = 'flowfill-models';
const INDEX = 'index.json';
const DOWNLOAD_STATE = '.flowfill-download.json';
/** Kept free beyond a model's own size: the index, flowfill.json, the file system's own records. */
const SPACE_MARGIN_BYTES = 1 << 20;

export interface ModelStoreDeps {
  /** Loads a source into the engine (session models are loaded as they are added). */
  loadModelAsync(
    source: ModelSource,
    onProgress?: (p: { file: string; loadedBytes: number; totalBytes?: number }) => void,
  ): Promise<ModelInfo>;
  /** Where graphs will run: decides the precision 'auto' converts to. */
  loadTargetAsync(): Promise<LoadTarget>;
  /** Bytes of the model built into this build, if any. */
  builtInBytesAsync?(): Promise<number | undefined>;
  fetchFn?: FetchFn;
  /**
   * A smaller quota than the browser's, for the space check only (tests and demonstrations: the
   * hosted app's `?simulate-quota=<bytes>`). The browser's own quota still applies to writes.
   */
  simulatedQuotaBytes?: number;
  now?: () => Date;
  /** Hub host and API root (tests point them at a local server). */
  hub?: { host: string; apiBase: string };
  /** Delay before download retry n, ms (tests shorten it). */
  backoffMs?: (attempt: number) => number;
}

interface SessionModel extends StoredModel {
  source: string;
  open: ModelSource & ({ kind: 'files' } | { kind: 'url' });
}

interface DownloadState {
  url: string;
  kind: RemotePlan['kind'];
  name: string;
  files: { path: string; size?: number; sha256?: string }[];
  startedAt: string;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(0, Math.round(bytes / 1e3))} kB`;
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function sha256Hex(text: string): Promise<string> {
  const hash = createSha256();
  hash.update(new TextEncoder().encode(text));
  return hash.hex();
}

/** Upper bound of a converted package's size per byte of checkpoint: fp32 from a half-precision checkpoint doubles it. */
const CONVERTED_SIZE_FACTOR: Record<string, number> = { fp32: 2, fp16: 1, int8: 1, int4: 1 };

export class ModelStore implements ModelStoreApi {
  private conversions = 0;
  private readonly installs = new Map<string, AbortController>();
  private busy = false;
  private readonly session = new Map<string, SessionModel>();
  private sessionCurrent?: string;
  private indexLock: Promise<unknown> = Promise.resolve();
  /** Why the index could not be read at start (its folders are then left alone). */
  private damagedIndex?: string;

  private constructor(
    private readonly deps: ModelStoreDeps,
    private readonly root: FileSystemDirectoryHandle | undefined,
    private readonly sessionOnlyReason: string | undefined,
    private index: StoreIndex,
  ) {}

  /** Opens the store: OPFS when the origin has it (removing what an interrupted write left), else session-only. */
  static async openAsync(deps: ModelStoreDeps): Promise<ModelStore> {
    const unavailable = await opfsUnavailableReasonAsync();
    if (unavailable) {
      const origin = (globalThis as { origin?: string }).origin;
      const why =
        origin === 'null'
          ? `this panel runs with no origin of its own (Figma's plugin frame, origin "null"), so the browser gives it no storage: ${unavailable}. Models you add stay for this session; the hosted plugin keeps them`
          : `${unavailable}. Models you add stay for this session`;
      return new ModelStore(deps, undefined, why, emptyIndex());
    }
    const root = await folderAsync(await storageRootAsync(), ROOT, true);
    const store = new ModelStore(deps, root, undefined, emptyIndex());
    await store.readIndexAsync();
    await store.collectGarbageAsync();
    return store;
  }

  /** Conversions of diffusers checkpoints this worker ran (a stored model never needs one). */
  get conversionsThisSession(): number {
    return this.conversions;
  }

  // ---- ModelStoreApi ---------------------------------------------------------------------------

  async storeStatus(): Promise<StoreStatus> {
    const builtInBytes = await this.deps.builtInBytesAsync?.();
    const common = { conversionsThisSession: this.conversions, ...(builtInBytes !== undefined ? { builtInBytes } : {}) };
    if (!this.root) {
      return {
        persistent: false,
        sessionOnlyReason: this.sessionOnlyReason,
        models: [...this.session.values()].map(({ open: _open, ...model }) => model),
        ...(this.sessionCurrent ? { currentId: this.sessionCurrent } : {}),
        partialDownloads: [],
        ...common,
      };
    }
    const estimate = await navigator.storage.estimate();
    const persisted = await navigator.storage.persisted().catch(() => undefined);
    return {
      persistent: true,
      ...(persisted !== undefined ? { persisted } : {}),
      usageBytes: estimate.usage,
      quotaBytes: this.deps.simulatedQuotaBytes ?? estimate.quota,
      models: this.index.models.map(({ dir: _dir, ...model }) => ({ ...model, kept: 'stored' as const })),
      ...(this.index.currentId ? { currentId: this.index.currentId } : {}),
      partialDownloads: await this.partialDownloadsAsync(),
      ...common,
    };
  }

  async installModel(
    installId: string,
    source: InstallSource,
    options: { precision?: PrecisionChoice } = {},
    onProgress?: (p: InstallProgress) => void,
  ): Promise<InstallResult> {
    if (this.busy) throw new EngineError('invalid-request', 'another model is being added; wait for it or cancel it first');
    this.busy = true;
    const controller = new AbortController();
    this.installs.set(installId, controller);
    try {
      if (source?.kind === 'files')
        return await this.installFromFilesAsync(source.files, source.description, options.precision, controller.signal, onProgress);
      if (source?.kind === 'url') return await this.installFromUrlAsync(source.baseUrl, options.precision, controller.signal, onProgress);
      throw new EngineError(
        'invalid-request',
        `install source kind ${JSON.stringify((source as { kind?: unknown })?.kind)} is unknown; use "files" or "url"`,
      );
    } finally {
      this.installs.delete(installId);
      this.busy = false;
    }
  }

  async cancelInstall(installId: string): Promise<void> {
    this.installs.get(installId)?.abort();
  }

  async removeModel(idOrUrl: string): Promise<StoreStatus> {
    if (!this.root) {
      this.session.delete(idOrUrl);
      if (this.sessionCurrent === idOrUrl) this.sessionCurrent = undefined;
      return this.storeStatus();
    }
    const entry = this.index.models.find((m) => m.id === idOrUrl);
    if (entry) {
      // Unlist first: if removing the files stops part way, what is left is garbage for the next start.
      await this.updateIndexAsync((index) => ({
        ...index,
        models: index.models.filter((m) => m.id !== entry.id),
        ...(index.currentId === entry.id ? { currentId: undefined } : {}),
      }));
      await removeAsync(this.root, entry.dir);
    } else {
      const key = await this.downloadKeyAsync(idOrUrl);
      const dir = `downloads/${key}`;
      if (this.index.models.some((m) => m.dir === dir))
        throw new EngineError('invalid-request', `${idOrUrl} belongs to an installed model; remove the model by its id`);
      if (!(await folderAsync(this.root, dir)))
        throw new EngineError(
          'invalid-request',
          `no stored model or partial download "${idOrUrl}"; the store has ${this.index.models.map((m) => m.id).join(', ') || 'no models'}`,
        );
      await removeAsync(this.root, dir);
    }
    return this.storeStatus();
  }

  async setCurrentModel(id: string | undefined): Promise<void> {
    if (!this.root) {
      this.sessionCurrent = id !== undefined && this.session.has(id) ? id : undefined;
      return;
    }
    if (id !== undefined && !this.index.models.some((m) => m.id === id))
      throw new EngineError('invalid-request', `no stored model "${id}"`);
    await this.updateIndexAsync((index) => ({ ...index, currentId: id }));
  }

  /** The package of a stored (or session) model, for the engine's 'stored' sources. */
  async openPackageAsync(id: string): Promise<PackageFiles> {
    const sessionModel = this.session.get(id);
    if (sessionModel) return openPackageAsync(sessionModel.open);
    const entry = this.index.models.find((m) => m.id === id);
    if (!entry || !this.root) {
      throw new EngineError(
        'model-missing-file',
        `the model "${id}" is not in the store${this.root ? '' : ' (models added in this panel last only for its session)'}; add it again`,
      );
    }
    const dir = await folderAsync(this.root, entry.dir);
    if (!dir)
      throw new EngineError(
        'model-missing-file',
        `the stored files of “${entry.name}” are gone (the browser may have cleared this site's storage); remove it and add it again`,
      );
    return opfsPackageFiles(dir, `the stored model “${entry.name}”`, true);
  }

  // ---- adding ----------------------------------------------------------------------------------

  private async installFromFilesAsync(
    files: Record<string, Blob>,
    description: string,
    precision: PrecisionChoice | undefined,
    signal: AbortSignal,
    onProgress?: (p: InstallProgress) => void,
  ): Promise<InstallResult> {
    const paths = packagePathsOf(files, description);
    if (!this.root) {
      onProgress?.({ stage: 'checking', doneBytes: 0 });
      const info = await this.deps.loadModelAsync(
        { kind: 'files', files: Object.fromEntries(paths), description, ...(precision ? { precision } : {}) },
        (p) => onProgress?.({ stage: 'converting', file: p.file, doneBytes: p.loadedBytes, totalBytes: p.totalBytes }),
      );
      let bytes = 0;
      for (const blob of paths.values()) bytes += blob.size;
      return this.addSessionModel(info, bytes, description, { kind: 'files', files: Object.fromEntries(paths), description });
    }
    const pkg = pickedPackageFiles(paths, description);
    return {
      model: await this.writePackageAsync(
        pkg,
        [...paths].map(([path, blob]) => ({ path, blob })),
        { source: description, precision, signal, onProgress },
      ),
    };
  }

  private async installFromUrlAsync(
    baseUrl: string,
    precision: PrecisionChoice | undefined,
    signal: AbortSignal,
    onProgress?: (p: InstallProgress) => void,
  ): Promise<InstallResult> {
    onProgress?.({ stage: 'checking', doneBytes: 0 });
    const fetchFn = this.deps.fetchFn;
    const plan = await planRemotePackageAsync(baseUrl, { fetchFn, signal, hub: this.deps.hub });
    if (!this.root) {
      const info = await this.deps.loadModelAsync({ kind: 'url', baseUrl: plan.baseUrl, ...(precision ? { precision } : {}) }, (p) =>
        onProgress?.({ stage: 'downloading', file: p.file, doneBytes: p.loadedBytes, totalBytes: p.totalBytes }),
      );
      const bytes = plan.files.reduce((sum, f) => sum + (f.size ?? 0), 0);
      return this.addSessionModel(info, bytes, plan.baseUrl, { kind: 'url', baseUrl: plan.baseUrl });
    }
    const root = this.root;
    const key = await this.downloadKeyAsync(plan.baseUrl);
    const dirPath = `downloads/${key}`;
    const existing = this.index.models.find((m) => m.dir === dirPath || m.source === plan.baseUrl);
    if (existing) return { model: { ...existing, kept: 'stored' } };
    const dir = await folderAsync(root, dirPath, true);
    const state: DownloadState = {
      url: plan.baseUrl,
      kind: plan.kind,
      name: plan.name,
      files: plan.files.map(({ path, size, sha256 }) => ({ path, size, sha256 })),
      startedAt: this.now(),
    };
    await replaceFileAtomicallyAsync(dir, DOWNLOAD_STATE, new TextEncoder().encode(JSON.stringify(state, null, 2)));

    // 1. Space: what is left to download, plus (for a checkpoint) an upper bound of its conversion.
    const have = new Map((await walkFilesAsync(dir)).map((f) => [f.path, f.size]));
    let remaining = 0;
    let unknownSizes = 0;
    let total = 0;
    for (const file of plan.files) {
      if (file.size === undefined) unknownSizes += 1;
      else {
        total += file.size;
        remaining += Math.max(0, file.size - (have.get(file.path) ?? 0));
      }
    }
    const weights = plan.files.filter((f) => f.path.endsWith('.safetensors')).reduce((sum, f) => sum + (f.size ?? 0), 0);
    const target = await this.deps.loadTargetAsync();
    const resolved = resolvePrecision({ ...target, precision: precision ?? 'auto' });
    const conversion = plan.kind === 'diffusers' ? weights * CONVERTED_SIZE_FACTOR[resolved] : 0;
    await this.checkSpaceAsync(
      remaining + conversion,
      `downloading ${plan.name} (${formatBytes(remaining)} to download${conversion ? `, up to ${formatBytes(conversion)} for its conversion` : ''})`,
    );

    // 2. Download every file, resuming what an earlier attempt left.
    const meter = rateMeter();
    let done = Math.min(
      total,
      plan.files.reduce((sum, f) => sum + Math.min(have.get(f.path) ?? 0, f.size ?? Infinity), 0),
    );
    for (const file of plan.files) {
      const targetFile = await opfsDownloadTargetAsync(dir, file.path);
      try {
        await downloadFileAsync(file, targetFile, {
          fetchFn,
          signal,
          backoffMs: this.deps.backoffMs,
          onBytes: (bytes) => {
            done += bytes;
            meter.add(bytes);
            onProgress?.({
              stage: 'downloading',
              file: file.path,
              doneBytes: done,
              ...(unknownSizes === 0 ? { totalBytes: total } : {}),
              bytesPerSecond: meter.rate(),
            });
          },
        });
      } finally {
        targetFile.close();
      }
    }

    // 3. A Flowfill package is complete as downloaded (every file checked against flowfill.json);
    //    a checkpoint is converted into one, and its download then removed.
    if (plan.kind === 'flowfill-package') {
      onProgress?.({ stage: 'verifying', doneBytes: 0 });
      const verified = plan.files.every((f) => f.path === 'flowfill.json' || (f.sha256 !== undefined && f.size !== undefined));
      const model = await this.publishAsync(dirPath, opfsPackageFiles(dir, `the download of ${plan.baseUrl}`, verified), {
        source: plan.baseUrl,
        converted: false,
        bytes: (await walkFilesAsync(dir)).filter((f) => f.path !== DOWNLOAD_STATE).reduce((sum, f) => sum + f.size, 0),
        beforePublish: () => removeAsync(dir, DOWNLOAD_STATE),
      });
      return { model };
    }
    const downloaded = opfsPackageFiles(dir, `the download of ${plan.baseUrl}`, false);
    const listing = await walkFilesAsync(dir);
    const model = await this.writePackageAsync(
      downloaded,
      await Promise.all(
        listing.filter((f) => f.path !== DOWNLOAD_STATE).map(async (f) => ({ path: f.path, blob: (await fileAsync(dir, f.path))! })),
      ),
      { source: plan.baseUrl, name: plan.name, precision, signal, onProgress },
    );
    await removeAsync(root, dirPath);
    return { model };
  }

  /**
   * Writes `pkg` into a fresh packages/ folder: a diffusers checkpoint converted, an ONNX package
   * copied (checked against its own flowfill.json when it has one); then verifies and publishes it.
   */
  private async writePackageAsync(
    pkg: PackageFiles,
    files: { path: string; blob: Blob }[],
    options: { source: string; name?: string; precision?: PrecisionChoice; signal: AbortSignal; onProgress?: (p: InstallProgress) => void },
  ): Promise<StoredModel> {
    const root = this.root!;
    const packages = await folderAsync(root, 'packages', true);
    const dirName = randomName();
    const dirPath = `packages/${dirName}`;
    const description = options.source;
    const converting = await isDiffusersLayoutAsync(pkg);
    const stage = converting ? 'converting' : 'copying';
    options.onProgress?.({ stage: 'checking', doneBytes: 0 });
    const sink = opfsPackageSink(packages, dirName, description, {
      signal: options.signal,
      reserveAsync: (bytes) => this.checkSpaceAsync(bytes, `${converting ? 'converting' : 'copying'} ${description}`),
      onWritten: (written, total) =>
        options.onProgress?.({ stage, doneBytes: written, ...(total !== undefined ? { totalBytes: total } : {}) }),
    });
    try {
      if (converting) {
        const target = await this.deps.loadTargetAsync();
        const precision = resolvePrecision({ ...target, precision: options.precision ?? 'auto' });
        const folderName = description
          .replace(/[\\/]+$/, '')
          .split(/[\\/]/)
          .pop();
        await convertDiffusersCheckpointAsync(pkg, sink, {
          precision,
          ...((options.name ?? folderName) ? { name: options.name ?? folderName } : {}),
        });
        this.conversions += 1;
      } else {
        await this.copyOnnxPackageAsync(pkg, files, sink);
      }
    } catch (error) {
      await sink.abortAsync().catch(() => undefined);
      throw error;
    }
    const dir = (await folderAsync(packages, dirName))!;
    const bytes = (await walkFilesAsync(dir)).reduce((sum, f) => sum + f.size, 0);
    return this.publishAsync(dirPath, opfsPackageFiles(dir, `the added model (${description})`, true), {
      source: description,
      converted: converting,
      bytes,
    });
  }

  /** Copies an ONNX package's files, hashing them; refuses a file whose sha256 differs from the package's own flowfill.json. */
  private async copyOnnxPackageAsync(
    pkg: PackageFiles,
    files: { path: string; blob: Blob }[],
    sink: ReturnType<typeof opfsPackageSink>,
  ): Promise<void> {
    const manifestBytes = await pkg.readOptionalAsync('flowfill.json');
    const { files: listed = {}, ...manifestFields } = manifestBytes
      ? checkManifest(parseJsonObject('flowfill.json', manifestBytes))
      : ({} as Record<string, unknown> & { files?: Record<string, { sha256?: string; bytes?: number }> });
    const byPath = new Map(files.map((f) => [f.path, f.blob]));
    const out: PackageFile[] = onnxPackagePaths(byPath.keys()).map((path) => {
      const blob = byPath.get(path)!;
      return {
        path,
        bytes: blob.size,
        produce: async (write) => {
          const reader = blob.stream().getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            await write(value);
          }
        },
      };
    });
    const written = await writePackageAsync(sink, out, manifestFields);
    for (const [path, expected] of Object.entries(listed)) {
      const got = written.files[path];
      if (!got) throw new EngineError('model-missing-file', `${path} is missing from ${sink.description} (its flowfill.json lists it)`);
      if (expected.sha256 && expected.sha256.toLowerCase() !== got.sha256) {
        throw new EngineError(
          'model-corrupt',
          `${path} in ${sink.description} has sha256 ${got.sha256}; its flowfill.json says ${expected.sha256}`,
        );
      }
    }
  }

  /**
   * Reads a written package through the engine's checks (configs, graphs against configs, every
   * file's size), then lists it. A package that does not load is removed, with the reason.
   */
  private async publishAsync(
    dirPath: string,
    files: PackageFiles,
    meta: { source: string; converted: boolean; bytes: number; beforePublish?: () => Promise<void> },
  ): Promise<StoredModel> {
    const root = this.root!;
    let summary;
    try {
      const pkg = await readModelPackageAsync(files, undefined, await this.deps.loadTargetAsync());
      summary = pkg.summary;
    } catch (error) {
      await removeAsync(root, dirPath).catch(() => undefined);
      throw error;
    }
    const duplicate = this.index.models.find((m) => m.hash === summary.hash);
    if (duplicate) {
      if (duplicate.dir !== dirPath) await removeAsync(root, dirPath);
      return { ...duplicate, kept: 'stored' };
    }
    const manifestBytes = await files.readOptionalAsync('flowfill.json');
    const manifest = manifestBytes ? parseJsonObject('flowfill.json', manifestBytes) : {};
    const precision =
      typeof manifest.precision === 'string' && ['fp32', 'fp16', 'int8', 'int4'].includes(manifest.precision)
        ? (manifest.precision as IndexEntry['precision'])
        : summary.precision;
    const entry: IndexEntry = {
      id: summary.id,
      name: summary.name,
      hash: summary.hash,
      ...(summary.supersedes ? { supersedes: summary.supersedes } : {}),
      bytes: meta.bytes,
      ...(precision ? { precision } : {}),
      ...(summary.licence ? { licence: summary.licence } : {}),
      source: meta.source,
      converted: meta.converted,
      addedAt: this.now(),
      dir: dirPath,
    };
    await meta.beforePublish?.();
    await this.updateIndexAsync((index) => ({ ...index, models: [...index.models.filter((m) => m.id !== entry.id), entry] }));
    const { dir: _dir, ...model } = entry;
    return { ...model, kept: 'stored' };
  }

  private addSessionModel(info: ModelInfo, bytes: number, source: string, open: SessionModel['open']): InstallResult {
    const model: StoredModel = {
      id: info.id,
      name: info.name,
      hash: info.hash,
      ...(info.supersedes ? { supersedes: info.supersedes } : {}),
      bytes,
      ...(info.precision ? { precision: info.precision } : {}),
      ...(info.licence ? { licence: info.licence } : {}),
      source,
      converted: info.format === 'diffusers',
      addedAt: this.now(),
      kept: 'session',
    };
    this.session.set(model.id, { ...model, open });
    this.sessionCurrent = model.id;
    return { model, loaded: info };
  }

  // ---- space -----------------------------------------------------------------------------------

  /** Throws 'storage-full' when `bytes` more do not fit in the origin's quota (checked before writing). */
  private async checkSpaceAsync(bytes: number, what: string): Promise<void> {
    const estimate = await navigator.storage.estimate();
    const quota = this.deps.simulatedQuotaBytes ?? estimate.quota;
    if (quota === undefined || estimate.usage === undefined) return;
    const free = Math.max(0, quota - estimate.usage);
    if (bytes + SPACE_MARGIN_BYTES > free) {
      throw new EngineError(
        'storage-full',
        `${what} needs ${formatBytes(bytes)}, but only ${formatBytes(free)} of this site's storage is free (${formatBytes(estimate.usage)} used of ${formatBytes(quota)}${this.deps.simulatedQuotaBytes !== undefined ? ', a simulated quota' : ''}). Nothing was written. Remove models you no longer use, or free disk space: the browser sizes the quota from the free disk space`,
      );
    }
  }

  // ---- the index and what it does not name ----------------------------------------------------

  private now(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  private async readIndexAsync(): Promise<void> {
    const file = await fileAsync(this.root!, INDEX);
    if (!file) return;
    try {
      const { index, dropped } = parseStoreIndex(await file.text());
      this.index = index;
      for (const reason of dropped) console.warn(`[flowfill store] ${reason}`);
    } catch (error) {
      this.damagedIndex = `index.json could not be read (${error instanceof Error ? error.message : String(error)}); stored folders are left as they are`;
      console.warn(`[flowfill store] ${this.damagedIndex}`);
    }
  }

  /** Serialises index changes; each replaces index.json in one step. */
  private updateIndexAsync(change: (index: StoreIndex) => StoreIndex): Promise<void> {
    const run = this.indexLock.then(async () => {
      const next = change(this.index);
      if (next.currentId === undefined) delete next.currentId;
      await replaceFileAtomicallyAsync(this.root!, INDEX, serializeStoreIndex(next));
      this.index = next;
    });
    this.indexLock = run.catch(() => undefined);
    return run;
  }

  /**
   * Removes package folders the index does not name (writes that stopped part way) and download
   * folders without a download record. Partial downloads (with their record) are kept to resume.
   */
  private async collectGarbageAsync(): Promise<void> {
    if (this.damagedIndex) return;
    const root = this.root!;
    const named = new Set(this.index.models.map((m) => m.dir));
    for (const folder of ['packages', 'downloads'] as const) {
      const dir = await folderAsync(root, folder);
      if (!dir) continue;
      for (const entry of await listAsync(dir)) {
        const path = `${folder}/${entry.name}`;
        if (named.has(path)) continue;
        if (folder === 'downloads' && entry.kind === 'directory' && (await fileAsync(dir, `${entry.name}/${DOWNLOAD_STATE}`))) continue;
        await removeAsync(root, path);
      }
    }
  }

  private async partialDownloadsAsync(): Promise<PartialDownload[]> {
    const downloads = await folderAsync(this.root!, 'downloads');
    if (!downloads) return [];
    const named = new Set(this.index.models.map((m) => m.dir));
    const out: PartialDownload[] = [];
    for (const entry of await listAsync(downloads)) {
      if (entry.kind !== 'directory' || named.has(`downloads/${entry.name}`)) continue;
      const stateFile = await fileAsync(downloads, `${entry.name}/${DOWNLOAD_STATE}`);
      if (!stateFile) continue;
      try {
        const state = JSON.parse(await stateFile.text()) as DownloadState;
        const files = await walkFilesAsync(await downloads.getDirectoryHandle(entry.name));
        const bytes = files.filter((f) => f.path !== DOWNLOAD_STATE).reduce((sum, f) => sum + f.size, 0);
        const sizes = state.files.map((f) => f.size);
        out.push({
          url: state.url,
          bytes,
          ...(sizes.every((s) => s !== undefined) ? { totalBytes: sizes.reduce((a, b) => a! + b!, 0) } : {}),
        });
      } catch {
        // A record that does not parse: the folder is removed at the next start.
      }
    }
    return out;
  }

  private async downloadKeyAsync(url: string): Promise<string> {
    return (await sha256Hex(url)).slice(0, 24);
  }
}

/** Bytes per second over the last five seconds. */
function rateMeter(): { add(bytes: number): void; rate(): number | undefined } {
  const samples: { at: number; bytes: number }[] = [];
  return {
    add(bytes) {
      const at = performance.now();
      samples.push({ at, bytes });
      while (samples.length > 1 && at - samples[0].at > 5000) samples.shift();
    },
    rate() {
      if (samples.length < 2) return undefined;
      const span = (samples[samples.length - 1].at - samples[0].at) / 1000;
      if (span <= 0.05) return undefined;
      return samples.slice(1).reduce((sum, s) => sum + s.bytes, 0) / span;
    },
  };
}
