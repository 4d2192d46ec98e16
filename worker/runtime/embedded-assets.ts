/**
 * What a self-contained ui.html hands its engine worker: the files onnxruntime-web would otherwise
 * fetch at run time (its .wasm) and the default model package. Figma's plugin iframe has a null
 * origin and no network of ours, and the worker must start from a small data: URL (the only kind
 * that is a secure context there, so the only one with navigator.gpu; Chromium also refuses data:
 * URLs of tens of MB), so the big files cannot travel inside the worker's own source. The build
 * puts them in the page as inert <script type="application/octet-stream"> elements (gzip, then
 * base64, in pieces) after the panel's own script, and the panel posts them to the worker in one
 * message once they are parsed.
 *
 * Both sides of the hand-off live here: `postEmbeddedAssets` runs in the panel, `receiveEmbeddedAssetsAsync`
 * in the worker.
 */

import type { BackendPreference } from '../../common/engine-types.js';

/** `type` of the one message that carries the assets (comlink calls may come before it). */
export const EMBEDDED_ASSETS_MESSAGE = 'flowfill-embedded-assets';
/** Path of the onnxruntime-web WebAssembly binary among the assets. */
export const ORT_WASM_ASSET = 'onnxruntime/ort-wasm-simd-threaded.asyncify.wasm';
/** Prefix of the embedded model package's files ("model/transformer/model.onnx"). */
export const MODEL_ASSET_PREFIX = 'model/';
/** Attribute that marks an asset element in ui.html; its value is the asset's path. */
export const ASSET_ATTRIBUTE = 'data-flowfill-asset';

export interface EmbeddedAsset {
  path: string;
  /** gzip-compressed bytes, base64 (the page keeps them as text, the worker decodes). */
  gzipBase64: string;
  /** Size after decompression, bytes: checked on arrival. */
  size: number;
}

export interface EmbeddedAssetsMessage {
  type: typeof EMBEDDED_ASSETS_MESSAGE;
  version: 1;
  assets: EmbeddedAsset[];
  /** How the panel wants the engine set up; absent fields keep the engine's defaults. */
  engine?: WorkerEngineOptions;
}

/**
 * Engine settings the panel chooses when it starts the worker. `backend: 'webgpu'` makes the
 * engine use WebGPU even on a software adapter (SwiftShader), which 'auto' passes over for WASM.
 */
export interface WorkerEngineOptions {
  backend?: BackendPreference;
}

export function isEmbeddedAssetsMessage(data: unknown): data is EmbeddedAssetsMessage {
  if (typeof data !== 'object' || data === null) return false;
  const message = data as Partial<EmbeddedAssetsMessage>;
  return message.type === EMBEDDED_ASSETS_MESSAGE && message.version === 1 && Array.isArray(message.assets);
}

/** The parts of the panel's DOM the hand-off reads (typed here, so this module compiles without the DOM lib). */
export interface AssetElement {
  getAttribute(name: string): string | null;
  readonly textContent: string | null;
}
export interface AssetDocument {
  querySelectorAll(selectors: string): ArrayLike<AssetElement>;
}

/**
 * Panel side: reads the asset elements the build wrote into the page and posts them to the worker,
 * with the engine settings the panel chose (e.g. `{ backend: 'webgpu' }`).
 * Sends the text as it is (a string copy is cheap) so base64 and gzip decoding cost the worker's
 * thread, not the panel's. Returns how many assets were sent (0 in a build without any).
 */
export function postEmbeddedAssets(
  worker: { postMessage(message: unknown): void },
  doc?: AssetDocument,
  engine?: WorkerEngineOptions,
): number {
  const page = doc ?? (globalThis as { document?: AssetDocument }).document;
  if (!page) throw new Error('postEmbeddedAssets runs in the panel page: pass its document');
  // The build splits each asset over several elements (scripts/build.mjs): their texts join in page order.
  const byPath = new Map<string, EmbeddedAsset>();
  for (const element of Array.from(page.querySelectorAll(`script[${ASSET_ATTRIBUTE}]`))) {
    const path = element.getAttribute(ASSET_ATTRIBUTE) ?? '';
    const text = (element.textContent ?? '').trim();
    const asset = byPath.get(path);
    if (asset) asset.gzipBase64 += text;
    else byPath.set(path, { path, size: Number(element.getAttribute('data-size')), gzipBase64: text });
  }
  const assets = [...byPath.values()];
  const message: EmbeddedAssetsMessage = { type: EMBEDDED_ASSETS_MESSAGE, version: 1, assets, ...(engine ? { engine } : {}) };
  worker.postMessage(message);
  return assets.length;
}
