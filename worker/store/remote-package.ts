/**
 * Which files make up a model folder on a web server, before any of them is downloaded: their
 * URLs, sizes and, where the server says, sha256 digests. Two kinds of folder:
 *
 *   - a Flowfill package (flowfill.json lists every file with its sha256 and size: exact);
 *   - a diffusers checkpoint (model_index.json names the components; each has config.json and
 *     safetensors weights, one file or shards listed by `<stem>.safetensors.index.json`; tokenizer
 *     folders hold tokenizer.json, or CLIP's vocab.json + merges.txt). The stems are diffusers'
 *     and transformers' save names, the ones worker/engine/sd3/diffusers-package.ts reads.
 *
 * On the Hugging Face Hub the repository's file listing (its public tree API) gives every file's
 * size and, for files kept in LFS (all weights), its sha256. Elsewhere a HEAD request per file
 * gives the size (Content-Length) and, when an `X-Linked-Etag`/`ETag` header is a sha256, the
 * digest; other files are checked by size only.
 */
import { EngineError } from '../engine/engine-error.js';
import { checkManifest } from '../engine/flowfill-manifest.js';
import { isSha256Hex } from '../engine/sha256-stream.js';
import { parseJsonObject } from '../engine/verifying-reader.js';

export interface RemoteFile {
  /** Path inside the package ("transformer/config.json"). */
  path: string;
  url: string;
  size?: number;
  /** Lower-case hex, when known. */
  sha256?: string;
}

export interface RemotePlan {
  /** The base URL, ending in "/". */
  baseUrl: string;
  kind: 'flowfill-package' | 'diffusers';
  files: RemoteFile[];
  /** The Flowfill package's manifest (flowfill-package only). */
  manifest?: Record<string, unknown>;
  /** model_index.json's `_name_or_path`, or the URL's last folder: a display name. */
  name: string;
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export interface PlanOptions {
  fetchFn?: FetchFn;
  signal?: AbortSignal;
  /** The Hub's host and API root (tests point both at a local server). */
  hub?: { host: string; apiBase: string };
}

const HUB = { host: 'huggingface.co', apiBase: 'https://huggingface.co' };

/** Component folder → safetensors stem, as diffusers (models) and transformers (text encoders) save them. */
const WEIGHT_STEMS: Record<string, string> = {
  transformer: 'diffusion_pytorch_model',
  vae: 'diffusion_pytorch_model',
  text_encoder: 'model',
  text_encoder_2: 'model',
  text_encoder_3: 'model',
};
/** What a tokenizer folder may hold; tokenizer_config.json is required, the reader picks from the rest. */
const TOKENIZER_FILES = [
  'tokenizer_config.json',
  'tokenizer.json',
  'vocab.json',
  'merges.txt',
  'special_tokens_map.json',
  'spiece.model',
  'added_tokens.json',
];

/** Reads the folder behind `baseUrl` and lists the files to download. */
export async function planRemotePackageAsync(baseUrl: string, options: PlanOptions = {}): Promise<RemotePlan> {
  const base = normaliseBaseUrl(baseUrl);
  const fetchFn = options.fetchFn ?? ((input, init) => fetch(input, init));
  const hub = options.hub ?? HUB;
  const listing = await hubListingAsync(base, hub, fetchFn, options.signal);
  const probe = listing
    ? (path: string) => Promise.resolve(listing.get(path))
    : (path: string) => headProbeAsync(base, path, fetchFn, options.signal);
  const fileOf = async (path: string): Promise<RemoteFile | undefined> => {
    const found = await probe(path);
    return found && { path, url: urlOf(base, path), ...found };
  };

  const modelIndex = await getJsonAsync(base, 'model_index.json', fetchFn, options.signal, 'it names the pipeline and its components');
  const folderName = decodeURIComponent(new URL(base).pathname.replace(/\/+$/, '').split('/').pop() ?? '') || new URL(base).host;
  const name = typeof modelIndex._name_or_path === 'string' && modelIndex._name_or_path ? modelIndex._name_or_path : folderName;

  // 1. A Flowfill package lists its files itself.
  const manifestFile = await fileOf('flowfill.json');
  if (manifestFile) {
    const manifest = checkManifest(await getJsonAsync(base, 'flowfill.json', fetchFn, options.signal));
    const listed = manifest.files ?? {};
    if (Object.keys(listed).length > 0) {
      const files: RemoteFile[] = [manifestFile];
      for (const [path, entry] of Object.entries(listed)) {
        files.push({
          path,
          url: urlOf(base, path),
          ...(entry.bytes !== undefined ? { size: entry.bytes } : {}),
          ...(entry.sha256 ? { sha256: entry.sha256.toLowerCase() } : {}),
        });
      }
      if (!listed['model_index.json'])
        files.push((await fileOf('model_index.json')) ?? { path: 'model_index.json', url: urlOf(base, 'model_index.json') });
      return { baseUrl: base, kind: 'flowfill-package', files, manifest, name: manifest.name ?? name };
    }
  }

  // 2. A diffusers checkpoint: model_index.json's components, each read the way diffusers saves it.
  const files: RemoteFile[] = [];
  const add = (file: RemoteFile | undefined) => {
    if (file && !files.some((f) => f.path === file.path)) files.push(file);
  };
  add((await fileOf('model_index.json')) ?? { path: 'model_index.json', url: urlOf(base, 'model_index.json') });
  const hasTransformerWeights =
    (await fileOf('transformer/diffusion_pytorch_model.safetensors')) ??
    (await fileOf('transformer/diffusion_pytorch_model.safetensors.index.json'));
  if (!hasTransformerWeights) {
    const onnx = await fileOf('transformer/model.onnx');
    throw new EngineError(
      'model-missing-file',
      onnx
        ? `${base} holds ONNX graphs but no flowfill.json listing its files, so Flowfill cannot tell what to download; add it from a folder instead, or publish it with the flowfill.json that npm run convert writes`
        : `${base} has no transformer/diffusion_pytorch_model.safetensors (or its .index.json) and no flowfill.json: give the base URL of a diffusers SD3 folder or of a Flowfill package, e.g. https://huggingface.co/<org>/<repo>/resolve/main/`,
    );
  }
  for (const [component, value] of Object.entries(modelIndex)) {
    if (component.startsWith('_') || !Array.isArray(value) || value[0] === null || value[1] === null) continue;
    if (component === 'scheduler') {
      add(await requiredFileAsync(fileOf, base, 'scheduler/scheduler_config.json'));
    } else if (component in WEIGHT_STEMS) {
      add(await requiredFileAsync(fileOf, base, `${component}/config.json`));
      for (const file of await weightFilesAsync(base, component, WEIGHT_STEMS[component], fileOf, fetchFn, options.signal)) add(file);
    } else if (/^tokenizer(_\d)?$/.test(component)) {
      add(await requiredFileAsync(fileOf, base, `${component}/tokenizer_config.json`));
      for (const file of TOKENIZER_FILES.slice(1)) add(await fileOf(`${component}/${file}`));
    }
  }
  return { baseUrl: base, kind: 'diffusers', files, name };
}

/** "https://host/a/b" → "https://host/a/b/"; refuses what is not an http(s) URL. */
export function normaliseBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    throw new EngineError(
      'invalid-request',
      `"${baseUrl}" is not a URL; give the base URL of a model folder, e.g. https://huggingface.co/<org>/<repo>/resolve/main/`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new EngineError('invalid-request', `"${baseUrl}" is a ${url.protocol} URL; give an https:// URL of a model folder`);
  }
  // A Hub repository page (https://huggingface.co/org/repo) means its main branch's files.
  const hubRepo = /^\/([^/]+)\/([^/]+)\/?$/.exec(url.pathname);
  if (url.host === HUB.host && hubRepo && !['api', 'datasets', 'spaces'].includes(hubRepo[1]))
    url.pathname = `/${hubRepo[1]}/${hubRepo[2]}/resolve/main/`;
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/** The download URL of `path` under `base`, each segment escaped. */
export function urlOf(base: string, path: string): string {
  return base + path.split('/').map(encodeURIComponent).join('/');
}

async function requiredFileAsync(
  fileOf: (path: string) => Promise<RemoteFile | undefined>,
  base: string,
  path: string,
): Promise<RemoteFile> {
  const file = await fileOf(path);
  if (!file) throw new EngineError('model-missing-file', `${path} is missing from ${base} (model_index.json lists its component)`);
  return file;
}

/** A component's safetensors: the single file, or the index and every shard it names. */
async function weightFilesAsync(
  base: string,
  component: string,
  stem: string,
  fileOf: (path: string) => Promise<RemoteFile | undefined>,
  fetchFn: FetchFn,
  signal?: AbortSignal,
): Promise<RemoteFile[]> {
  const single = await fileOf(`${component}/${stem}.safetensors`);
  if (single) return [single];
  const indexPath = `${component}/${stem}.safetensors.index.json`;
  const indexFile = await fileOf(indexPath);
  if (!indexFile) {
    throw new EngineError(
      'model-missing-file',
      `${component}/ on ${base} has neither ${stem}.safetensors nor ${stem}.safetensors.index.json (model_index.json lists it)`,
    );
  }
  const index = await getJsonAsync(base, indexPath, fetchFn, signal);
  const weightMap = index.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null)
    throw new EngineError('model-corrupt', `${indexPath} on ${base} has no "weight_map" object`);
  const shards = [...new Set(Object.values(weightMap as Record<string, unknown>).filter((v): v is string => typeof v === 'string'))].sort();
  const out = [indexFile];
  for (const shard of shards) {
    const file = await fileOf(`${component}/${shard}`);
    if (!file) throw new EngineError('model-missing-file', `${component}/${shard} is missing from ${base} (${indexPath} names it)`);
    out.push(file);
  }
  return out;
}

async function fetchOrFailAsync(fetchFn: FetchFn, url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetchFn(url, init);
  } catch (error) {
    if (init.signal?.aborted) throw new EngineError('cancelled', `adding the model was cancelled while ${what}`);
    throw new EngineError(
      'download-failed',
      `${what}: ${url} could not be reached (${error instanceof Error ? error.message : String(error)}); check the URL and the connection`,
      { cause: error },
    );
  }
}

async function getJsonAsync(
  base: string,
  path: string,
  fetchFn: FetchFn,
  signal?: AbortSignal,
  why?: string,
): Promise<Record<string, unknown>> {
  const url = urlOf(base, path);
  const response = await fetchOrFailAsync(fetchFn, url, { signal }, `reading ${path}`);
  if (response.status === 404) throw new EngineError('model-missing-file', `${path} is missing from ${base}${why ? ` (${why})` : ''}`);
  if (!response.ok) throw new EngineError('download-failed', `${url} answered HTTP ${response.status}${statusHint(response.status)}`);
  return parseJsonObject(path, new Uint8Array(await response.arrayBuffer()));
}

/** What an HTTP status means for someone adding a model. */
export function statusHint(status: number): string {
  if (status === 401 || status === 403) {
    return ': the files need an account (a gated or private Hub repository); accept its licence on the Hub, download the folder, and use Add from folder';
  }
  if (status === 429 || status >= 500) return ': the server is busy or failing; try again later (downloaded bytes are kept)';
  return '';
}

/** Size and digest of `path` from a HEAD request; undefined on 404. */
async function headProbeAsync(
  base: string,
  path: string,
  fetchFn: FetchFn,
  signal?: AbortSignal,
): Promise<{ size?: number; sha256?: string } | undefined> {
  const url = urlOf(base, path);
  const response = await fetchOrFailAsync(fetchFn, url, { method: 'HEAD', signal }, `looking for ${path}`);
  if (response.status === 404 || response.status === 410) return undefined;
  if (!response.ok) throw new EngineError('download-failed', `${url} answered HTTP ${response.status}${statusHint(response.status)}`);
  const length = response.headers.get('content-length');
  // A compressed response's Content-Length counts the compressed bytes, not the file's.
  const size = length !== null && !response.headers.get('content-encoding') && /^\d+$/.test(length) ? Number(length) : undefined;
  const tag = (response.headers.get('x-linked-etag') ?? response.headers.get('etag') ?? '')
    .replace(/^W\//, '')
    .replace(/"/g, '')
    .toLowerCase();
  return { ...(size !== undefined ? { size } : {}), ...(isSha256Hex(tag) ? { sha256: tag } : {}) };
}

interface HubEntry {
  type?: string;
  path?: string;
  size?: number;
  lfs?: { oid?: string; size?: number };
}

/**
 * For a Hub resolve URL (https://huggingface.co/<org>/<repo>/resolve/<revision>/<folder>/): every
 * file under the folder, from the repository's tree API, keyed by its path inside the folder.
 */
async function hubListingAsync(
  base: string,
  hub: { host: string; apiBase: string },
  fetchFn: FetchFn,
  signal?: AbortSignal,
): Promise<Map<string, { size?: number; sha256?: string }> | undefined> {
  const url = new URL(base);
  if (url.host !== hub.host) return undefined;
  const match = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.*)$/.exec(url.pathname);
  if (!match) return undefined;
  const [, owner, repo, revision, folderPath] = match;
  const folder = decodeURIComponent(folderPath).replace(/\/+$/, '');
  let next: string | undefined =
    `${hub.apiBase}/api/models/${owner}/${repo}/tree/${revision}${folder ? `/${folder.split('/').map(encodeURIComponent).join('/')}` : ''}?recursive=true`;
  const files = new Map<string, { size?: number; sha256?: string }>();
  while (next) {
    const response = await fetchOrFailAsync(fetchFn, next, { signal }, `listing ${owner}/${repo}`);
    if (response.status === 404)
      throw new EngineError(
        'model-missing-file',
        `the Hub has no repository ${owner}/${repo} at revision ${decodeURIComponent(revision)}${folder ? ` with a folder ${folder}` : ''}; check the URL`,
      );
    if (!response.ok)
      throw new EngineError(
        'download-failed',
        `the Hub answered HTTP ${response.status} listing ${owner}/${repo}${statusHint(response.status)}`,
      );
    const entries = (await response.json()) as HubEntry[];
    if (!Array.isArray(entries)) throw new EngineError('download-failed', `the Hub's listing of ${owner}/${repo} is not a list of files`);
    for (const entry of entries) {
      if (entry.type !== 'file' || typeof entry.path !== 'string') continue;
      const path = folder ? entry.path.slice(folder.length + 1) : entry.path;
      const sha256 = isSha256Hex(entry.lfs?.oid) ? entry.lfs.oid : undefined;
      const size = entry.lfs?.size ?? entry.size;
      files.set(path, { ...(typeof size === 'number' ? { size } : {}), ...(sha256 ? { sha256 } : {}) });
    }
    // Long listings come in pages: Link: <…?cursor=…>; rel="next"
    next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get('link') ?? '')?.[1];
  }
  return files;
}
