/**
 * A file on disk as a Blob that is read only when asked (a checkpoint shard of many gigabytes).
 *
 * Node 20's `fs.openAsBlob` reports the size of a file of 4 GiB or more modulo 2³² (an SD3.5
 * Medium bf16 shard of 4.94 GB became 644 MB) and its slices past that point are empty, so the
 * loader saw a "truncated" shard. Files under 4 GiB keep Node's own file-backed Blob; larger ones
 * get FileRangeBlob, which reads its byte range through a file handle. It extends Blob because
 * onnxruntime-web recognises external weights by `instanceof Blob`.
 */
import { createReadStream, openAsBlob } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';

const NODE_BLOB_LIMIT = 2 ** 32;

export async function openFileAsBlobAsync(file: string): Promise<Blob> {
  const { size } = await stat(file);
  if (size < NODE_BLOB_LIMIT) return openAsBlob(file);
  return new FileRangeBlob(file, 0, size);
}

export class FileRangeBlob extends Blob {
  constructor(
    private readonly file: string,
    private readonly start: number,
    private readonly end: number,
  ) {
    super([]);
    // Blob's size is a prototype getter; an own property shadows it for every reader.
    Object.defineProperty(this, 'size', { value: end - start, enumerable: true });
  }

  override slice(start = 0, end = this.size): Blob {
    const clamp = (value: number) => Math.min(Math.max(value < 0 ? this.size + value : value, 0), this.size);
    const from = clamp(start);
    const to = Math.max(from, clamp(end));
    return new FileRangeBlob(this.file, this.start + from, this.start + to);
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    return (await this.bytes()).buffer as ArrayBuffer;
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const length = this.end - this.start;
    const out = new Uint8Array(length);
    const handle = await open(this.file, 'r');
    try {
      for (let done = 0; done < length;) {
        const { bytesRead } = await handle.read(out, done, Math.min(length - done, 1 << 30), this.start + done);
        if (bytesRead === 0) throw new RangeError(`${this.file}: ended at byte ${this.start + done}, expected ${this.end} (file changed?)`);
        done += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return out;
  }

  override async text(): Promise<string> {
    return new TextDecoder().decode(await this.bytes());
  }

  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    if (this.end === this.start) return new Blob([]).stream();
    return Readable.toWeb(createReadStream(this.file, { start: this.start, end: this.end - 1 })) as ReadableStream<Uint8Array<ArrayBuffer>>;
  }
}
