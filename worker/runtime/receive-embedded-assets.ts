/**
 * Worker side of the asset hand-off (see embedded-assets.ts): waits for the panel's asset message
 * and decodes every asset (base64 → gzip → bytes) with the platform's own decoders.
 */
import { isEmbeddedAssetsMessage, type EmbeddedAsset, type WorkerEngineOptions } from './embedded-assets.js';

interface MessageScope {
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

/**
 * Resolves with the assets keyed by path, once the panel's asset message arrives. `onArrival` runs
 * synchronously when it does (decoding takes a while longer), with the engine settings the message
 * carries, so they apply before any call that waits for the assets; `onDecoded` runs as each asset is decoded (ORT's
 * .wasm, the first and smallest, can start compiling while the model still decodes). Register
 * this before comlink's `expose`: the message is kept from later listeners, so comlink does not
 * answer it as a call.
 */
export function receiveEmbeddedAssetsAsync(
  scope: MessageScope,
  onArrival: (engine: WorkerEngineOptions) => void = () => {},
  onDecoded: (path: string, bytes: Uint8Array) => void = () => {},
): Promise<Map<string, Uint8Array>> {
  return new Promise((resolve, reject) => {
    const onMessage = (event: MessageEvent) => {
      if (!isEmbeddedAssetsMessage(event.data)) return;
      event.stopImmediatePropagation();
      scope.removeEventListener('message', onMessage);
      onArrival(event.data.engine ?? {});
      decodeAssetsAsync(event.data.assets, onDecoded).then(resolve, reject);
    };
    scope.addEventListener('message', onMessage);
  });
}

async function decodeAssetsAsync(
  assets: EmbeddedAsset[],
  onDecoded: (path: string, bytes: Uint8Array) => void,
): Promise<Map<string, Uint8Array>> {
  const decoded = await Promise.all(
    assets.map(async (asset) => {
      const bytes = await decodeAssetAsync(asset);
      onDecoded(asset.path, bytes);
      return [asset.path, bytes] as const;
    }),
  );
  return new Map(decoded);
}

export async function decodeAssetAsync(asset: EmbeddedAsset): Promise<Uint8Array> {
  const compressed = decodeBase64(asset.gzipBase64);
  const stream = new Blob([compressed]).stream().pipeThrough(new DecompressionStream('gzip'));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  if (bytes.length !== asset.size) {
    throw new Error(
      `embedded asset "${asset.path}" decoded to ${bytes.length} bytes; the build recorded ${asset.size} (a damaged ui.html?)`,
    );
  }
  return bytes;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  // Uint8Array.fromBase64 (Chromium 140+, Safari 18.2+) is native; atob is the portable fallback.
  const native = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array<ArrayBuffer> }).fromBase64;
  if (native) return native(text);
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
