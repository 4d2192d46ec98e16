/**
 * What the Node command-line tools add around the host-neutral engine:
 * - the embedded default model = the repository's `models/default/` folder;
 * - `--backend webgpu`: WebGPU through Dawn for Node (`webgpu` package) and the native WebGPU EP
 *   build of onnxruntime-web. Everything else stays the plain `onnxruntime-web` WASM build.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendPreference, ModelSource } from '../../common/engine-types.js';
import { setEmbeddedModelProvider } from '../engine/embedded-model.js';
import { useOrt, type OrtModule } from '../engine/ort-backend.js';
import { UsageError } from './cli-errors.js';
import { openFileAsBlobAsync } from './file-blob.js';
import { displayPath } from './user-paths.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_MODEL_DIR = path.join(REPO_ROOT, 'models/default');

/** Every file under `dir`, keyed by its path relative to `dir` with forward slashes. */
export async function readFolderAsync(dir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const [rel, full] of await listFolderAsync(dir)) files[rel] = new Uint8Array(await readFile(full));
  return files;
}

/**
 * Every file under `dir` as a file-backed Blob (openFileAsBlobAsync), keyed like readFolderAsync: nothing
 * is read until the engine asks, so a checkpoint of many gigabytes is read tensor by tensor.
 */
export async function openFolderAsync(dir: string): Promise<Record<string, Blob>> {
  const files: Record<string, Blob> = {};
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    files[path.relative(dir, full).split(path.sep).join('/')] = await openFileAsBlobAsync(full);
  }
  return files;
}

async function listFolderAsync(dir: string): Promise<[string, string][]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
      return [path.relative(dir, full).split(path.sep).join('/'), full];
    });
}

/**
 * A model package folder as an engine ModelSource. Files are opened lazily (openFileAsBlobAsync): only
 * those the package needs are read, when it needs them. `dir` is absolute; UsageError naming it
 * when it is not a package folder.
 */
export async function modelFolderSourceAsync(dir: string, flag = '--model'): Promise<ModelSource> {
  const shown = displayPath(dir);
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new UsageError(`${flag} ${shown}: no such folder`);
  if (!info.isDirectory())
    throw new UsageError(`${flag} ${shown}: that is a file; name the model's folder (the one with model_index.json)`);
  const listed = await listFolderAsync(dir);
  if (!listed.some(([rel]) => rel === 'model_index.json' || rel.endsWith('/model_index.json'))) {
    throw new UsageError(`${flag} ${shown}: not a model package (no model_index.json in it)`);
  }
  const files: Record<string, Blob> = {};
  for (const [rel, full] of listed) files[rel] = await openFileAsBlobAsync(full);
  return { kind: 'files', files, description: `the folder ${shown}` };
}

/** The Node build's embedded model: models/default/ of this repository, when it exists. */
export function registerRepoEmbeddedModel(): void {
  setEmbeddedModelProvider(async () => {
    try {
      return await readFolderAsync(DEFAULT_MODEL_DIR);
    } catch {
      // Same words as a build without a provider: there is no default model here yet.
      const { EngineError } = await import('../engine/engine-error.js');
      throw new EngineError(
        'model-missing-file',
        `no embedded model in this build (${DEFAULT_MODEL_DIR} does not exist); pass --model <dir>`,
      );
    }
  });
}

interface GpuQueueLike {
  writeBuffer(buffer: unknown, offset: number, data: ArrayBufferView | ArrayBufferLike, dataOffset?: number, size?: number): void;
}

/**
 * Makes `--backend webgpu` (and auto) possible in Node: Dawn's GPU as navigator.gpu, and the WebGPU EP build.
 * onnxruntime-web passes views of SharedArrayBuffer to queue.writeBuffer, which Dawn for Node
 * rejects ("Invalid argument" / "no overload matched"), so such data is copied into a plain buffer first.
 */
export async function useNodeBackendAsync(backend: BackendPreference): Promise<void> {
  if (backend === 'wasm') return;
  const dawn = (await import('webgpu')) as unknown as { create(flags: string[]): unknown; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  // FLOWFILL_DAWN_FLAGS: Dawn toggles, e.g. "enable-dawn-features=vulkan_enable_f16_on_nvidia"
  // (Dawn hides shader-f16 on NVIDIA + Vulkan unless asked; a web page cannot ask).
  const flags = (process.env.FLOWFILL_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const gpu = dawn.create(flags);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const queueProto = (dawn.globals.GPUQueue as { prototype: GpuQueueLike } | undefined)?.prototype;
  if (queueProto) {
    const original = queueProto.writeBuffer;
    queueProto.writeBuffer = function (this: GpuQueueLike, buffer, offset, data, dataOffset, size) {
      if (typeof SharedArrayBuffer !== 'undefined') {
        if (data instanceof SharedArrayBuffer) {
          data = new Uint8Array(data).slice().buffer;
        } else if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
          const view = data as unknown as { constructor: new (b: ArrayBufferLike) => ArrayBufferView };
          const copy = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
          data = new view.constructor(copy.buffer);
        }
      }
      return original.call(this, buffer, offset, data, dataOffset, size);
    };
  }
  const ort = (await import('onnxruntime-web/webgpu')) as unknown as OrtModule & { default?: OrtModule };
  useOrt(ort.default ?? ort);
}
