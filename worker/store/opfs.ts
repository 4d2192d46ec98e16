/**
 * The few things the model store does with the origin's private file system (OPFS), in a
 * dedicated worker: folders by path, files written through synchronous access handles (the fast
 * path, worker-only), small files replaced atomically (createWritable writes a swap file and
 * swaps it in on close), and listing and removal.
 *
 * Running out of space shows up two ways in Chromium: a QuotaExceededError, or (Chromium 156,
 * measured) FileSystemSyncAccessHandle.write returning a byte count that is not the chunk's
 * length. Both become EngineError 'storage-full' naming the file.
 */
import { EngineError } from '../engine/engine-error.js';
import type { FileWriter } from '../engine/package-writer.js';

/** Why this context has no OPFS, or undefined when it has one. */
export async function opfsUnavailableReasonAsync(): Promise<string | undefined> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (!storage?.getDirectory) return 'this context has no navigator.storage.getDirectory (not a secure context, or an old browser)';
  try {
    await storage.getDirectory();
    return undefined;
  } catch (error) {
    return `the browser refused the origin's private file system (${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`;
  }
}

export async function storageRootAsync(): Promise<FileSystemDirectoryHandle> {
  return navigator.storage.getDirectory();
}

/** The folder at `path` ("a/b") under `dir`; created when `create`, else undefined when absent. */
export async function folderAsync(dir: FileSystemDirectoryHandle, path: string, create: true): Promise<FileSystemDirectoryHandle>;
export async function folderAsync(
  dir: FileSystemDirectoryHandle,
  path: string,
  create?: boolean,
): Promise<FileSystemDirectoryHandle | undefined>;
export async function folderAsync(
  dir: FileSystemDirectoryHandle,
  path: string,
  create = false,
): Promise<FileSystemDirectoryHandle | undefined> {
  let current = dir;
  for (const part of path.split('/').filter(Boolean)) {
    try {
      current = await current.getDirectoryHandle(part, { create });
    } catch (error) {
      if (!create && isNotFound(error)) return undefined;
      throw error;
    }
  }
  return current;
}

function isNotFound(error: unknown): boolean {
  return error instanceof DOMException && (error.name === 'NotFoundError' || error.name === 'TypeMismatchError');
}

function splitPath(path: string): { folder: string; name: string } {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? { folder: '', name: path } : { folder: path.slice(0, slash), name: path.slice(slash + 1) };
}

/** The file at `path` under `dir`, or undefined. */
export async function fileAsync(dir: FileSystemDirectoryHandle, path: string): Promise<File | undefined> {
  const { folder, name } = splitPath(path);
  const parent = await folderAsync(dir, folder);
  if (!parent) return undefined;
  try {
    return await (await parent.getFileHandle(name)).getFile();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Names of the entries of `dir` and whether each is a folder. */
export async function listAsync(dir: FileSystemDirectoryHandle): Promise<{ name: string; kind: 'file' | 'directory' }[]> {
  const out: { name: string; kind: 'file' | 'directory' }[] = [];
  // The async iteration of directory handles is in TypeScript's WebWorker.AsyncIterable lib only.
  const entries = (dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> }).entries();
  for await (const [name, handle] of entries) out.push({ name, kind: handle.kind });
  return out;
}

/** Every file under `dir`, with its path relative to it and its size. */
export async function walkFilesAsync(dir: FileSystemDirectoryHandle, prefix = ''): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const entry of await listAsync(dir)) {
    const path = prefix + entry.name;
    if (entry.kind === 'directory') out.push(...(await walkFilesAsync(await dir.getDirectoryHandle(entry.name), `${path}/`)));
    else out.push({ path, size: (await (await dir.getFileHandle(entry.name)).getFile()).size });
  }
  return out;
}

/** Removes the entry `path` under `dir` (a folder with everything in it); absent is fine. */
export async function removeAsync(dir: FileSystemDirectoryHandle, path: string): Promise<void> {
  const { folder, name } = splitPath(path);
  const parent = await folderAsync(dir, folder);
  if (!parent) return;
  try {
    await parent.removeEntry(name, { recursive: true });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** Replaces a small file in one step: readers see the old bytes or the new ones, never a mix. */
export async function replaceFileAtomicallyAsync(dir: FileSystemDirectoryHandle, path: string, bytes: Uint8Array): Promise<void> {
  const { folder, name } = splitPath(path);
  const handle = await (await folderAsync(dir, folder, true)).getFileHandle(name, { create: true });
  try {
    if (typeof handle.createWritable === 'function') {
      const writable = await handle.createWritable();
      await writable.write(bytes as Uint8Array<ArrayBuffer>);
      await writable.close();
      return;
    }
    // Without createWritable (Safari before 26) the sync handle writes in place: not atomic, so
    // the store keeps its index small and readers refuse an index that does not parse.
    const access = await handle.createSyncAccessHandle();
    try {
      access.truncate(0);
      writeAllSync(access, bytes, 0, path);
      access.flush();
    } finally {
      access.close();
    }
  } catch (error) {
    throw asStorageFull(error, path);
  }
}

/** Writes `chunk` at `at`, all of it, or throws 'storage-full'. */
export function writeAllSync(access: FileSystemSyncAccessHandle, chunk: Uint8Array, at: number, path: string): void {
  let written: number;
  try {
    written = access.write(chunk as Uint8Array<ArrayBuffer>, { at });
  } catch (error) {
    throw asStorageFull(error, path);
  }
  if (written !== chunk.byteLength) {
    throw new EngineError(
      'storage-full',
      `the browser's storage for this site is full: it took ${Math.max(0, Math.min(written, chunk.byteLength))} of ${chunk.byteLength} bytes at offset ${at} of ${path}`,
    );
  }
}

/** A QuotaExceededError as 'storage-full' naming the file; anything else as it is. */
export function asStorageFull(error: unknown, path: string): unknown {
  if (error instanceof EngineError) return error;
  const name = (error as { name?: unknown })?.name;
  if (name === 'QuotaExceededError') {
    return new EngineError('storage-full', `the browser's storage for this site is full while writing ${path}`, { cause: error });
  }
  return error;
}

/** A FileWriter (package-writer.ts) into a new file at `path` under `dir`. */
export async function createFileWriterAsync(
  dir: FileSystemDirectoryHandle,
  path: string,
  beforeWrite?: (bytes: number) => void,
): Promise<FileWriter> {
  const { folder, name } = splitPath(path);
  const handle = await (await folderAsync(dir, folder, true)).getFileHandle(name, { create: true });
  const access = await handle.createSyncAccessHandle();
  let closed = false;
  let at = 0;
  try {
    access.truncate(0);
  } catch (error) {
    access.close();
    throw asStorageFull(error, path);
  }
  return {
    async write(chunk) {
      beforeWrite?.(chunk.byteLength);
      writeAllSync(access, chunk, at, path);
      at += chunk.byteLength;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        access.flush();
      } finally {
        access.close();
      }
    },
  };
}
