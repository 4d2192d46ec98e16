/**
 * A model package in an OPFS folder, three ways: as PackageFiles the engine reads (files are
 * file-backed Blobs, read only when needed), as a PackageSink that writes one (its space checked
 * before the first byte), and as DownloadTargets that keep what a download brought.
 */
import { blobSource } from '../engine/byte-source.js';
import { EngineError } from '../engine/engine-error.js';
import type { PackageSink } from '../engine/package-writer.js';
import type { PackageFiles } from '../engine/package-source.js';
import { createFileWriterAsync, fileAsync, folderAsync, removeAsync, writeAllSync, asStorageFull } from './opfs.js';
import type { DownloadTarget } from './resumable-download.js';

/**
 * The package in `dir`. `digestsCheckedOnWrite`: the store wrote it and checked every file against
 * flowfill.json on the way, so loads check sizes only (see VerifyingReader).
 */
export function opfsPackageFiles(dir: FileSystemDirectoryHandle, description: string, digestsCheckedOnWrite: boolean): PackageFiles {
  return {
    description,
    digestsCheckedOnWrite,
    async readOptionalAsync(path) {
      const file = await fileAsync(dir, path);
      return file && new Uint8Array(await file.arrayBuffer());
    },
    async openOptionalAsync(path) {
      const file = await fileAsync(dir, path);
      return file && blobSource(path, file);
    },
  };
}

export interface OpfsSinkOptions {
  /** Throws 'storage-full' when `bytes` do not fit (called before the first byte is written). */
  reserveAsync(bytes: number): Promise<void>;
  /** Bytes written so far, after each chunk (progress). */
  onWritten?(writtenBytes: number, totalBytes: number | undefined): void;
  signal?: AbortSignal;
}

/**
 * Writes a package into `dir` (a fresh folder under the store's packages/). Committing does
 * nothing here: the store publishes a package by adding it to its index afterwards, and removes a
 * folder the index does not name, so a write that stops part way never looks like a model.
 */
export function opfsPackageSink(
  parent: FileSystemDirectoryHandle,
  dirName: string,
  description: string,
  options: OpfsSinkOptions,
): PackageSink {
  let written = 0;
  let total: number | undefined;
  const checkCancelled = () => {
    if (options.signal?.aborted) throw new EngineError('cancelled', `adding ${description} was cancelled; nothing of it was kept`);
  };
  return {
    description,
    async reserveAsync(bytes) {
      checkCancelled();
      total = bytes;
      await options.reserveAsync(bytes);
    },
    async createFileAsync(path) {
      checkCancelled();
      const dir = await folderAsync(parent, dirName, true);
      return createFileWriterAsync(dir, path, (bytes) => {
        checkCancelled();
        written += bytes;
        options.onWritten?.(written, total);
      });
    },
    async commitAsync() {
      checkCancelled();
    },
    async abortAsync() {
      await removeAsync(parent, dirName);
    },
  };
}

/** A DownloadTarget on the file at `path` under `dir`; close it when the download ends. */
export async function opfsDownloadTargetAsync(dir: FileSystemDirectoryHandle, path: string): Promise<DownloadTarget & { close(): void }> {
  const slash = path.lastIndexOf('/');
  const folder = await folderAsync(dir, slash < 0 ? '' : path.slice(0, slash), true);
  const handle = await folder.getFileHandle(slash < 0 ? path : path.slice(slash + 1), { create: true });
  const access = await handle.createSyncAccessHandle();
  return {
    sizeAsync: async () => access.getSize(),
    async readAsync(onChunk) {
      const size = access.getSize();
      const buffer = new Uint8Array(Math.min(size, 8 << 20));
      for (let at = 0; at < size;) {
        const n = access.read(buffer, { at });
        if (n <= 0) throw new EngineError('internal', `${path}: reading the kept bytes back stopped at ${at} of ${size}`);
        onChunk(buffer.subarray(0, n));
        at += n;
      }
    },
    async appendAsync(chunk) {
      writeAllSync(access, chunk, access.getSize(), path);
    },
    async truncateAsync(size) {
      try {
        access.truncate(size);
      } catch (error) {
        throw asStorageFull(error, path);
      }
    },
    close() {
      access.flush();
      access.close();
    },
  };
}
