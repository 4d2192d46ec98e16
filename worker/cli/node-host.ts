/**
 * What the Node command-line tools add around the host-neutral engine:
 * - the embedded default model = the repository's `models/default/` folder;
 * - `--backend webgpu`: WebGPU through Dawn for Node (`webgpu` package) and the native WebGPU EP
 *   build of onnxruntime-web. Everything else stays the plain `onnxruntime-web` WASM build.
 */
import { openAsBlob } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../common/engine-types.js';
import { setEmbeddedModelProvider } from '../engine/embedded-model.js';
import { useOrt, type OrtModule } from '../engine/ort-backend.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_MODEL_DIR = path.join(REPO_ROOT, 'models/default');

/** Every file under `dir`, keyed by its path relative to `dir` with forward slashes. */
export async function readFolderAsync(dir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    files[path.relative(dir, full).split(path.sep).join('/')] = new Uint8Array(await readFile(full));
  }
  return files;
}

/**
 * Every file under `dir` as a file-backed Blob (fs.openAsBlob), keyed like readFolderAsync: nothing
 * is read until the engine asks, so a checkpoint of many gigabytes is read tensor by tensor.
 */
export async function openFolderAsync(dir: string): Promise<Record<string, Blob>> {
  const files: Record<string, Blob> = {};
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const full = path.join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    files[path.relative(dir, full).split(path.sep).join('/')] = await openAsBlob(full);
  }
  return files;
}

/** The Node build's embedded model: models/default/ of this repository, when it exists. */
export function registerRepoEmbeddedModel(): void {
  setEmbeddedModelProvider(async () => {
    try {
      return await readFolderAsync(DEFAULT_MODEL_DIR);
    } catch {
      // Same words as a build without a provider: there is no default model here yet.
      const { EngineError } = await import('../engine/engine-error.js');
      throw new EngineError('model-missing-file', `no embedded model in this build (${DEFAULT_MODEL_DIR} does not exist); pass --model <dir>`);
    }
  });
}

interface GpuQueueLike {
  writeBuffer(buffer: unknown, offset: number, data: ArrayBufferView | ArrayBufferLike, dataOffset?: number, size?: number): void;
}

/**
 * Makes `--backend webgpu` possible in Node: Dawn's GPU as navigator.gpu, and the WebGPU EP build.
 * onnxruntime-web passes views of SharedArrayBuffer to queue.writeBuffer, which Dawn for Node
 * rejects ("Invalid argument" / "no overload matched"), so such data is copied into a plain buffer first.
 */
export async function useNodeBackendAsync(backend: Backend): Promise<void> {
  if (backend !== 'webgpu') return;
  const dawn = (await import('webgpu')) as unknown as { create(flags: string[]): unknown; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
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
