/**
 * A PackageSink on disk: files go into `<out>.partial-<pid>/`, which is renamed to `<out>` only
 * when the whole package is written, and removed on failure — so a converted package that exists
 * under its name is always complete.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { FileWriter, PackageSink } from '../engine/package-writer.js';
import type { Sha256Factory } from '../engine/sha256-stream.js';

/** Node's native SHA-256 (several times faster than the portable one). */
export const nodeSha256: Sha256Factory = () => {
  const hash = createHash('sha256');
  return { update: (bytes) => void hash.update(bytes), hex: () => hash.digest('hex') };
};

export async function createNodePackageSinkAsync(out: string, options: { overwrite?: boolean } = {}): Promise<PackageSink> {
  const target = path.resolve(out);
  if (existsSync(target)) {
    const entries = await readdir(target).catch(() => null);
    if (entries === null) throw new Error(`${out} exists and is not a folder`);
    if (entries.length > 0 && !options.overwrite)
      throw new Error(`${out} already exists and is not empty; choose another folder or pass --force`);
  }
  await mkdir(path.dirname(target), { recursive: true });
  const partial = `${target}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  return {
    description: out,
    async createFileAsync(relative): Promise<FileWriter> {
      const file = path.join(partial, ...relative.split('/'));
      if (!file.startsWith(partial + path.sep)) throw new Error(`package path ${relative} leaves the package folder`);
      await mkdir(path.dirname(file), { recursive: true });
      const handle = await open(file, 'w');
      return {
        write: async (chunk) => {
          let written = 0;
          while (written < chunk.byteLength) written += (await handle.write(chunk, written, chunk.byteLength - written)).bytesWritten;
        },
        close: () => handle.close(),
      };
    },
    async commitAsync() {
      await rm(target, { recursive: true, force: true });
      await rename(partial, target);
    },
    async abortAsync() {
      await rm(partial, { recursive: true, force: true });
    },
  };
}
