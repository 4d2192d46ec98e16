/**
 * Downloads one file into a target that keeps what arrived (a file in OPFS), resuming with an
 * HTTP Range request from the bytes already there: after a dropped connection within this call
 * (retried a few times, waiting longer each time), and across calls (adding the same URL again
 * continues where the last attempt stopped). A server that ignores Range gets the file from the
 * start. The file's size is checked, and its sha256 when the server listed one; a mismatch
 * discards the bytes.
 */
import { EngineError } from '../engine/engine-error.js';
import { createSha256, type Sha256 } from '../engine/sha256-stream.js';
import { statusHint, type FetchFn, type RemoteFile } from './remote-package.js';

/** Where the bytes go. Everything written before a failure stays (that is what resuming reads). */
export interface DownloadTarget {
  /** Bytes already there. */
  sizeAsync(): Promise<number>;
  /** Feeds the bytes already there to `onChunk`, in order (to hash them before resuming). */
  readAsync(onChunk: (chunk: Uint8Array) => void): Promise<void>;
  appendAsync(chunk: Uint8Array): Promise<void>;
  truncateAsync(size: number): Promise<void>;
}

export interface DownloadOptions {
  fetchFn?: FetchFn;
  signal?: AbortSignal;
  /** Called with each chunk's size as it is written (not for the bytes found already there). */
  onBytes?: (bytes: number) => void;
  /** Attempts in a row that may end without progress before giving up. */
  retries?: number;
  /** Delay before the n-th retry (1-based), ms. */
  backoffMs?: (attempt: number) => number;
}

export interface DownloadOutcome {
  bytes: number;
  /** sha256 of the whole file, hex, when it was computed (the server listed one to check). */
  sha256?: string;
  /** How many requests it took (1 when nothing went wrong). */
  requests: number;
  /** Bytes that were already there when this call started. */
  resumedFrom: number;
}

const defaultBackoff = (attempt: number) => Math.min(4000, 250 * 2 ** (attempt - 1));

class RetryableError extends Error {}

export async function downloadFileAsync(file: RemoteFile, target: DownloadTarget, options: DownloadOptions = {}): Promise<DownloadOutcome> {
  const fetchFn = options.fetchFn ?? ((input, init) => fetch(input, init));
  const retries = options.retries ?? 5;
  const backoff = options.backoffMs ?? defaultBackoff;
  const { signal } = options;
  let size = file.size;
  let have = await target.sizeAsync();
  if (size !== undefined && have > size) {
    await target.truncateAsync(0);
    have = 0;
  }
  const resumedFrom = have;
  let hash: Sha256 | undefined;
  const startHash = async () => {
    if (!file.sha256) return;
    hash = createSha256();
    if (have > 0) await target.readAsync((chunk) => hash!.update(chunk));
  };
  await startHash();

  let requests = 0;
  let failuresInARow = 0;
  for (;;) {
    if (size !== undefined && have === size) break;
    if (signal?.aborted) throw cancelled(file);
    const before = have;
    let finished = false;
    try {
      requests += 1;
      let response: Response;
      try {
        response = await fetchFn(file.url, { signal, headers: have > 0 ? { Range: `bytes=${have}-` } : {} });
      } catch (error) {
        if (signal?.aborted) throw cancelled(file);
        throw new RetryableError(`the connection failed (${error instanceof Error ? error.message : String(error)})`);
      }
      if (response.status === 416 && have > 0 && size === undefined) {
        // Asked for bytes past the end: the file was complete already.
        await response.body?.cancel();
        break;
      }
      if (response.status === 429 || response.status >= 500) throw new RetryableError(`the server answered HTTP ${response.status}`);
      if (!response.ok)
        throw new EngineError(
          'download-failed',
          `${file.path}: ${file.url} answered HTTP ${response.status}${statusHint(response.status)}`,
        );
      const contentRange = response.headers.get('content-range');
      const rangeStart = response.status === 206 ? Number(/^bytes (\d+)-/.exec(contentRange ?? '')?.[1]) : 0;
      // Byte ranges of a compressed response count compressed bytes: only plain bodies resume.
      if (have > 0 && (response.status !== 206 || rangeStart !== have || response.headers.get('content-encoding'))) {
        await target.truncateAsync(0);
        have = 0;
        await startHash();
        if (response.status === 206) {
          await response.body?.cancel();
          continue;
        }
      }
      const total =
        response.status === 206 ? Number(/\/(\d+)$/.exec(contentRange ?? '')?.[1]) : Number(response.headers.get('content-length'));
      if (size === undefined && Number.isSafeInteger(total) && total > 0 && !response.headers.get('content-encoding')) size = total;
      if (!response.body) throw new RetryableError('the response had no body');
      const reader = response.body.getReader();
      try {
        for (;;) {
          let part: ReadableStreamReadResult<Uint8Array>;
          try {
            part = await reader.read();
          } catch (error) {
            if (signal?.aborted) throw cancelled(file);
            throw new RetryableError(
              `the connection dropped after ${have} bytes (${error instanceof Error ? error.message : String(error)})`,
            );
          }
          if (part.done) break;
          const chunk = part.value;
          if (size !== undefined && have + chunk.byteLength > size) {
            throw new EngineError('model-corrupt', `${file.path}: ${file.url} sent more than the ${size} bytes it was listed with`);
          }
          await target.appendAsync(chunk);
          hash?.update(chunk);
          have += chunk.byteLength;
          options.onBytes?.(chunk.byteLength);
        }
      } finally {
        reader.releaseLock();
      }
      // A body that ends early without an error is a dropped connection too.
      if (size !== undefined && have < size) throw new RetryableError(`the body ended after ${have} of ${size} bytes`);
      finished = true;
    } catch (error) {
      if (!(error instanceof RetryableError)) throw error;
      failuresInARow = have > before ? 1 : failuresInARow + 1;
      if (failuresInARow > retries) {
        throw new EngineError(
          'download-failed',
          `${file.path}: ${error.message}; gave up after ${failuresInARow} attempts in a row at ${have}${size !== undefined ? ` of ${size}` : ''} bytes. The bytes are kept: add the same URL again to resume`,
          { cause: error },
        );
      }
      await sleepAsync(backoff(failuresInARow), signal);
      if (signal?.aborted) throw cancelled(file);
    }
    if (finished) break;
  }

  if (size !== undefined && have !== size) {
    throw new EngineError('model-corrupt', `${file.path}: downloaded ${have} bytes; ${file.url} was listed with ${size}`);
  }
  const sha256 = hash?.hex();
  if (file.sha256 && sha256 !== file.sha256) {
    await target.truncateAsync(0);
    throw new EngineError(
      'model-corrupt',
      `${file.path}: the downloaded bytes have sha256 ${sha256}; the server lists ${file.sha256}. The file was discarded; add the URL again to download it anew`,
    );
  }
  return { bytes: have, ...(sha256 ? { sha256 } : {}), requests, resumedFrom };
}

function cancelled(file: RemoteFile): EngineError {
  return new EngineError('cancelled', `the download of ${file.path} was cancelled; its bytes are kept to resume`);
}

function sleepAsync(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A DownloadTarget in memory (tests, and hosts that keep a small file in memory). */
export function memoryTarget(): DownloadTarget & { bytes(): Uint8Array } {
  let chunks: Uint8Array[] = [];
  let length = 0;
  const bytes = () => {
    const out = new Uint8Array(length);
    let at = 0;
    for (const chunk of chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  };
  return {
    bytes,
    sizeAsync: async () => length,
    readAsync: async (onChunk) => onChunk(bytes()),
    appendAsync: async (chunk) => {
      chunks.push(chunk.slice());
      length += chunk.byteLength;
    },
    truncateAsync: async (size) => {
      const kept = bytes().subarray(0, size);
      chunks = [kept];
      length = kept.byteLength;
    },
  };
}
