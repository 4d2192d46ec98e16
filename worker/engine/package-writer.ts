/**
 * Writes a model package (the Optimum layout plus flowfill.json listing every file's sha256 and
 * size) through a sink, so that a converted checkpoint loads the next time without converting
 * again. Files stream through the hasher as they are written; flowfill.json is written last; the
 * sink makes the package visible only when everything is written (`commitAsync`), and removes what
 * it wrote on any failure (`abortAsync`): an interrupted write never leaves a package that looks
 * whole.
 */
import { createSha256, type Sha256Factory } from './sha256-stream.js';

export interface FileWriter {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface PackageSink {
  /** Where the package goes, for messages. */
  readonly description: string;
  createFileAsync(path: string): Promise<FileWriter>;
  /**
   * Called once before the first byte is written, with the package's size when every file's size
   * is known: a sink with limited space (the browser's model store) refuses here, so running out
   * of space never starts a write it cannot finish.
   */
  reserveAsync?(totalBytes: number): Promise<void>;
  /** Makes the written package visible under its final name. */
  commitAsync(): Promise<void>;
  /** Removes everything written so far. Safe to call after a failed commit. */
  abortAsync(): Promise<void>;
}

export interface PackageFile {
  path: string;
  /** The file's size, when known before it is produced (lets the sink check its space first). */
  bytes?: number;
  /** Writes the file's bytes, in order, through `write`. */
  produce(write: (chunk: Uint8Array) => Promise<void>): Promise<void>;
}

export interface WritePackageProgress {
  file: string;
  fileIndex: number;
  fileCount: number;
  writtenBytes: number;
}

export interface WrittenPackage {
  files: Record<string, { sha256: string; bytes: number }>;
  totalBytes: number;
}

export function bytesFile(path: string, bytes: Uint8Array): PackageFile {
  return { path, bytes: bytes.byteLength, produce: (write) => write(bytes) };
}

export function jsonFile(path: string, value: unknown): PackageFile {
  return bytesFile(path, new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`));
}

/**
 * Writes `files`, then flowfill.json = `manifest` + { files: {path: {sha256, bytes}} }, and commits.
 * On any error the sink is aborted and the error rethrown.
 */
export async function writePackageAsync(
  sink: PackageSink,
  files: PackageFile[],
  manifest: Record<string, unknown>,
  options: { onProgress?: (progress: WritePackageProgress) => void; sha256?: Sha256Factory } = {},
): Promise<WrittenPackage> {
  const hasher = options.sha256 ?? createSha256;
  const listed: WrittenPackage['files'] = {};
  let totalBytes = 0;
  try {
    if (sink.reserveAsync && files.every((file) => file.bytes !== undefined)) {
      // flowfill.json is written last and is a few kB per hundred files: counted generously.
      const manifestAllowance = 4096 + 200 * files.length;
      await sink.reserveAsync(files.reduce((sum, file) => sum + (file.bytes ?? 0), 0) + manifestAllowance);
    }
    for (const [fileIndex, file] of files.entries()) {
      if (file.path === 'flowfill.json') throw new Error('flowfill.json is written by writePackageAsync itself');
      const writer = await sink.createFileAsync(file.path);
      const hash = hasher();
      let bytes = 0;
      try {
        await file.produce(async (chunk) => {
          hash.update(chunk);
          bytes += chunk.byteLength;
          await writer.write(chunk);
          options.onProgress?.({ file: file.path, fileIndex, fileCount: files.length, writtenBytes: bytes });
        });
      } finally {
        await writer.close();
      }
      listed[file.path] = { sha256: hash.hex(), bytes };
      totalBytes += bytes;
    }
    const manifestFile = jsonFile('flowfill.json', { ...manifest, files: listed });
    const writer = await sink.createFileAsync(manifestFile.path);
    await manifestFile.produce((chunk) => writer.write(chunk));
    await writer.close();
    await sink.commitAsync();
  } catch (error) {
    await sink.abortAsync().catch(() => undefined);
    throw error;
  }
  return { files: listed, totalBytes };
}
