import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileRangeBlob, openFileAsBlobAsync } from '../../worker/cli/file-blob.js';
import { blobSource } from '../../worker/engine/byte-source.js';

// A sparse file of 4 GiB + 1 MiB takes no disk space; the marker bytes sit past the 2³² boundary,
// where Node 20's fs.openAsBlob wraps its size and returns empty slices.
const SIZE = 2 ** 32 + 2 ** 20;
const MARK_AT = 2 ** 32 + 12_345;
const MARK = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);

describe('files of 4 GiB and more', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'flowfill-large-'));
    file = path.join(dir, 'shard.safetensors');
    const handle = await open(file, 'w');
    await handle.truncate(SIZE);
    await handle.write(MARK, 0, MARK.length, MARK_AT);
    await handle.write(MARK, 0, 4, 0);
    await handle.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keep their whole size and read past the 4 GiB boundary', async () => {
    const blob = await openFileAsBlobAsync(file);
    expect(blob).toBeInstanceOf(Blob);
    expect(blob.size).toBe(SIZE);
    const source = blobSource('shard.safetensors', blob);
    expect([...(await source.readAsync(MARK_AT - 2, 12))]).toEqual([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0]);
    expect([...(await source.readAsync(0, 5))]).toEqual([1, 2, 3, 4, 0]);
    const slice = source.sliceBlob!(MARK_AT, 8);
    expect(slice.size).toBe(8);
    expect([...new Uint8Array(await slice.arrayBuffer())]).toEqual([...MARK]);
    await expect(source.readAsync(SIZE - 4, 8)).rejects.toThrow(/truncated/);
  });

  it('slice like Blob.slice (negative and out-of-range ends) and stream their range', async () => {
    const blob = new FileRangeBlob(file, MARK_AT - 4, MARK_AT + 12);
    expect(blob.size).toBe(16);
    expect([...new Uint8Array(await blob.slice(-12, -8).arrayBuffer())]).toEqual([1, 2, 3, 4]);
    expect(blob.slice(10, 5).size).toBe(0);
    expect(blob.slice(8, 1000).size).toBe(8);
    const chunks: number[] = [];
    for await (const chunk of blob.slice(4, 12).stream() as unknown as AsyncIterable<Uint8Array>) chunks.push(...chunk);
    expect(chunks).toEqual([...MARK]);
  });

  it('leave files under 4 GiB to Node', async () => {
    const small = path.join(dir, 'small.bin');
    const handle = await open(small, 'w');
    await handle.write(MARK);
    await handle.close();
    const blob = await openFileAsBlobAsync(small);
    expect(blob).not.toBeInstanceOf(FileRangeBlob);
    expect([...new Uint8Array(await blob.arrayBuffer())]).toEqual([...MARK]);
  });
});
