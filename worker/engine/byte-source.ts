/**
 * Random access to a (possibly multi-gigabyte) file without holding it in memory: a picked File
 * or any Blob in a browser, a file on disk in Node (`fs.openAsBlob`, Node ≥ 19.8), or bytes
 * already in memory. Checkpoint shards are read tensor by tensor through this, so converting a
 * 16 GB model never needs 16 GB of JavaScript memory at once.
 */

export interface ByteSource {
  /** The file's path as the user knows it, for messages. */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes from `offset`; rejects when the range passes the end (a truncated file). */
  readAsync(offset: number, length: number): Promise<Uint8Array>;
  /** The same range as a Blob without reading it (zero-copy where the platform allows); absent for remote files. */
  sliceBlob?(offset: number, length: number): Blob;
}

function checkRange(source: { name: string; size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > source.size) {
    throw new RangeError(
      `${source.name}: bytes ${offset}..${offset + length} asked for, but the file has ${source.size} bytes (truncated?)`,
    );
  }
}

export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async readAsync(offset, length) {
      checkRange(this, offset, length);
      return bytes.subarray(offset, offset + length);
    },
    sliceBlob(offset, length) {
      checkRange(this, offset, length);
      return new Blob([bytes.subarray(offset, offset + length) as Uint8Array<ArrayBuffer>]);
    },
  };
}

export function blobSource(name: string, blob: Blob): ByteSource {
  return {
    name,
    size: blob.size,
    async readAsync(offset, length) {
      checkRange(this, offset, length);
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
    sliceBlob(offset, length) {
      checkRange(this, offset, length);
      return blob.slice(offset, offset + length);
    },
  };
}
