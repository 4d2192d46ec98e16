/**
 * Where the bytes of a model package come from (ModelSource in common/engine-types.ts):
 * the embedded default model, a base URL (streamed fetch with progress), or files the user picked.
 * All three answer the same two questions: read this path, or tell me it is not there.
 */
import type { LoadProgress, ModelSource } from '../../common/engine-types.js';
import { blobSource, bytesSource, type ByteSource } from './byte-source.js';
import { loadEmbeddedModelFilesAsync } from './embedded-model.js';
import { EngineError } from './engine-error.js';

export interface PackageFiles {
  /** Names the package in messages, after "missing from": "the embedded model", "the folder /x", a URL. */
  readonly description: string;
  /** The file's bytes, or undefined when the package has no such file. */
  readOptionalAsync(path: string): Promise<Uint8Array | undefined>;
  /**
   * Random access to a file without reading it whole (checkpoint shards of many gigabytes), or
   * undefined when the package has no such file.
   */
  openOptionalAsync(path: string): Promise<ByteSource | undefined>;
  /**
   * True when the host checked every file flowfill.json lists against its sha256 as it wrote the
   * package (the model store does): reading then checks each file's size against flowfill.json
   * and takes its digest from there instead of hashing gigabytes again on every load, and hands
   * external weights to onnxruntime as file-backed Blobs without reading them first.
   */
  readonly digestsCheckedOnWrite?: boolean;
}

/**
 * The seam for models a host keeps itself (the browser worker's model store, in OPFS): the host
 * registers an opener that turns a stored model's id into its files. Hosts without a store (the
 * Node CLI) register none, and a 'stored' source then says so.
 */
export type StoredPackageOpener = (id: string) => Promise<PackageFiles>;

let storedPackageOpener: StoredPackageOpener | undefined;

export function setStoredPackageOpener(next: StoredPackageOpener | undefined): void {
  storedPackageOpener = next;
}

export async function openPackageAsync(source: ModelSource, onProgress?: (progress: LoadProgress) => void): Promise<PackageFiles> {
  switch (source.kind) {
    case 'embedded':
      return inMemoryPackage('the embedded model', await loadEmbeddedModelFilesAsync());
    case 'files':
      return inMemoryPackage(source.description ?? 'the picked files', source.files, onProgress);
    case 'url':
      return urlPackage(source.baseUrl, onProgress);
    case 'stored':
      if (!storedPackageOpener) {
        throw new EngineError(
          'invalid-request',
          `stored model "${source.id}" cannot be opened: this host has no model store; load from a folder or a URL instead`,
        );
      }
      return storedPackageOpener(source.id);
    default: {
      const kind = (source as { kind?: unknown }).kind;
      throw new EngineError(
        'invalid-request',
        `model source kind ${JSON.stringify(kind)} is unknown; use "embedded", "url", "files" or "stored"`,
      );
    }
  }
}

function inMemoryPackage(
  description: string,
  files: Record<string, Uint8Array | Blob>,
  onProgress?: (progress: LoadProgress) => void,
): PackageFiles {
  // Users may pick a folder, whose paths then start with the folder's name: accept both forms.
  const byPath = new Map<string, Uint8Array | Blob>();
  for (const [path, value] of Object.entries(files)) byPath.set(normalisePath(path), value);
  const prefix = commonFolderPrefix([...byPath.keys()]);
  const find = (path: string) => byPath.get(path) ?? (prefix ? byPath.get(prefix + path) : undefined);
  return {
    description,
    async readOptionalAsync(path) {
      const value = find(path);
      if (value === undefined) return undefined;
      const bytes = value instanceof Uint8Array ? value : new Uint8Array(await value.arrayBuffer());
      onProgress?.({ file: path, loadedBytes: bytes.byteLength, totalBytes: bytes.byteLength });
      return bytes;
    },
    async openOptionalAsync(path) {
      const value = find(path);
      if (value === undefined) return undefined;
      return value instanceof Uint8Array ? bytesSource(path, value) : blobSource(path, value);
    },
  };
}

function normalisePath(path: string): string {
  return path.replace(/\\/g, '/').replace(/^\.?\//, '');
}

/** "pkg/" when every path starts with "pkg/" and none is model_index.json at the top. */
function commonFolderPrefix(paths: string[]): string | undefined {
  if (paths.includes('model_index.json')) return undefined;
  const index = paths.find((path) => path.endsWith('/model_index.json'));
  if (!index) return undefined;
  const prefix = index.slice(0, index.length - 'model_index.json'.length);
  return paths.every((path) => path.startsWith(prefix)) ? prefix : undefined;
}

function urlPackage(baseUrl: string, onProgress?: (progress: LoadProgress) => void): PackageFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  return {
    description: base,
    async readOptionalAsync(path) {
      let response: Response;
      try {
        response = await fetch(base + path);
      } catch (error) {
        throw new EngineError('model-missing-file', `${path}: fetch of ${base + path} failed: ${String(error)}`, { cause: error });
      }
      if (response.status === 404) return undefined;
      if (!response.ok) {
        throw new EngineError('model-missing-file', `${path}: ${base + path} answered HTTP ${response.status} ${response.statusText}`);
      }
      return readStreamWithProgressAsync(path, response, onProgress);
    },
    async openOptionalAsync(path) {
      return urlByteSourceAsync(base + path, path);
    },
  };
}

/**
 * A file on a web server read with HTTP Range requests, so a multi-gigabyte checkpoint shard is
 * fetched tensor by tensor. Undefined when the server answers 404.
 */
async function urlByteSourceAsync(url: string, path: string): Promise<ByteSource | undefined> {
  let head: Response;
  try {
    head = await fetch(url, { method: 'HEAD' });
  } catch (error) {
    throw new EngineError('model-missing-file', `${path}: fetch of ${url} failed: ${String(error)}`, { cause: error });
  }
  if (head.status === 404) return undefined;
  const size = Number(head.headers.get('content-length'));
  if (!head.ok || !Number.isSafeInteger(size)) {
    throw new EngineError('model-missing-file', `${path}: ${url} answered HTTP ${head.status} without a usable Content-Length`);
  }
  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    if (offset < 0 || length < 0 || offset + length > size) {
      throw new RangeError(`${path}: bytes ${offset}..${offset + length} asked for, but the file has ${size} bytes (truncated?)`);
    }
    if (length === 0) return new Uint8Array(0);
    const response = await fetch(url, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (response.status === 206 && bytes.byteLength === length) return bytes;
    // A server without Range support sends the whole file: take the part asked for.
    if (response.status === 200 && bytes.byteLength === size) return bytes.subarray(offset, offset + length);
    throw new EngineError(
      'model-corrupt',
      `${path}: ${url} answered a range request with HTTP ${response.status} and ${bytes.byteLength} bytes`,
    );
  };
  return {
    name: path,
    size,
    readAsync: read,
  };
}

async function readStreamWithProgressAsync(
  path: string,
  response: Response,
  onProgress?: (progress: LoadProgress) => void,
): Promise<Uint8Array> {
  const header = response.headers.get('content-length');
  const totalBytes = header ? Number(header) : undefined;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ file: path, loadedBytes: bytes.byteLength, totalBytes: bytes.byteLength });
    return bytes;
  }
  const chunks: Uint8Array[] = [];
  let loadedBytes = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loadedBytes += value.byteLength;
    onProgress?.({ file: path, loadedBytes, totalBytes });
  }
  if (totalBytes !== undefined && loadedBytes !== totalBytes) {
    throw new EngineError('model-corrupt', `${path}: download ended after ${loadedBytes} of ${totalBytes} bytes`);
  }
  const bytes = new Uint8Array(loadedBytes);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
