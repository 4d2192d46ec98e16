/**
 * Where the bytes of a model package come from (ModelSource in common/engine-types.ts):
 * the embedded default model, a base URL (streamed fetch with progress), or files the user picked.
 * All three answer the same two questions: read this path, or tell me it is not there.
 */
import type { LoadProgress, ModelSource } from '../../common/engine-types.js';
import { loadEmbeddedModelFilesAsync } from './embedded-model.js';
import { EngineError } from './engine-error.js';

export interface PackageFiles {
  /** Names the package in messages, after "missing from": "the embedded model", "the folder /x", a URL. */
  readonly description: string;
  /** The file's bytes, or undefined when the package has no such file. */
  readOptionalAsync(path: string): Promise<Uint8Array | undefined>;
}

export async function openPackageAsync(
  source: ModelSource,
  onProgress?: (progress: LoadProgress) => void,
): Promise<PackageFiles> {
  switch (source.kind) {
    case 'embedded':
      return inMemoryPackage('the embedded model', await loadEmbeddedModelFilesAsync());
    case 'files':
      return inMemoryPackage(source.description ?? 'the picked files', source.files, onProgress);
    case 'url':
      return urlPackage(source.baseUrl, onProgress);
    default: {
      const kind = (source as { kind?: unknown }).kind;
      throw new EngineError('invalid-request', `model source kind ${JSON.stringify(kind)} is unknown; use "embedded", "url" or "files"`);
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
  return {
    description,
    async readOptionalAsync(path) {
      const value = byPath.get(path) ?? (prefix ? byPath.get(prefix + path) : undefined);
      if (value === undefined) return undefined;
      const bytes = value instanceof Uint8Array ? value : new Uint8Array(await value.arrayBuffer());
      onProgress?.({ file: path, loadedBytes: bytes.byteLength, totalBytes: bytes.byteLength });
      return bytes;
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
