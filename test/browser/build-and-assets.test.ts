/**
 * The build's single-file layout and the asset hand-off, without a browser: what ui.html carries,
 * and that the worker gets back exactly the bytes the build embedded.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  ASSET_PIECE_CHARS,
  assembleUiHtml,
  collectAssets,
  listModelFiles,
  repoRoot,
  resolveEmbeddedModelDir,
} from '../../scripts/build.mjs';
import { ASSET_ATTRIBUTE, ORT_WASM_ASSET, postEmbeddedAssets, type EmbeddedAssetsMessage } from '../../worker/runtime/embedded-assets.js';
import { decodeAssetAsync, receiveEmbeddedAssetsAsync } from '../../worker/runtime/receive-embedded-assets.js';
import { fixturesDir } from './browser-rig.js';

/** Reads asset elements back out of built HTML, as the panel's querySelectorAll would. */
function fakeDocument(html: string): Pick<Document, 'querySelectorAll'> {
  const elements = [
    ...html.matchAll(
      new RegExp(`<script type="application/octet-stream" ${ASSET_ATTRIBUTE}="([^"]+)" data-size="(\\d+)">([^<]*)</script>`, 'g'),
    ),
  ].map(([, assetPath, size, text]) => ({
    getAttribute: (name: string) => (name === ASSET_ATTRIBUTE ? assetPath : name === 'data-size' ? size : null),
    textContent: text,
  }));
  return { querySelectorAll: () => elements as unknown as NodeListOf<Element> };
}

test('a model package folder ships its JSON and component files, not the fixture arrays beside them', () => {
  const files = listModelFiles(fixturesDir());
  expect(files).toEqual([
    'model_index.json',
    'scheduler/scheduler_config.json',
    'transformer/config.json',
    'transformer/model.onnx',
    'vae_decoder/config.json',
    'vae_decoder/model.onnx',
  ]);
});

test('FLOWFILL_EMBED_MODEL must name a package folder, and says how when it does not', () => {
  expect(() => resolveEmbeddedModelDir({ FLOWFILL_EMBED_MODEL: '/nonexistent/folder' })).toThrow(/no model_index\.json.*sd3-tiny-golden/);
  expect(resolveEmbeddedModelDir({ FLOWFILL_EMBED_MODEL: 'none' }).dir).toBeNull();
  expect(resolveEmbeddedModelDir({ FLOWFILL_EMBED_MODEL: fixturesDir() }).dir).toBe(fixturesDir());
});

test('ui.html keeps scripts whole: "</script" inside the panel code cannot end its element', () => {
  const html = assembleUiHtml('const a = "</script><b>"; const b = "<!-- x";', []);
  const body = html.slice(html.indexOf('<script>') + '<script>'.length, html.lastIndexOf('</script>'));
  expect(body).not.toMatch(/<\/script/i);
  expect(body).not.toContain('<!--');
  // Same program: only escapes a JS string reads identically were added.
  expect(new Function(`${body}; return [a, b];`)()).toEqual(['</script><b>', '<!-- x']);
});

/** gzip level 9 of ORT's 27 MB .wasm: seconds on a shared 2-core machine. */
const COMPRESS_ASSETS_BUDGET_MS = 60_000;

test(
  'the worker receives byte-identical ORT wasm and model files from the panel',
  async () => {
    const assets = collectAssets(fixturesDir());
    const html = assembleUiHtml('/* panel */', assets);
    // The panel script comes first (it paints while the assets parse), and big assets come in pieces.
    expect(html.indexOf('/* panel */')).toBeLessThan(html.indexOf(ASSET_ATTRIBUTE));
    const wasmPieces = html.split(`${ASSET_ATTRIBUTE}="${ORT_WASM_ASSET}"`).length - 1;
    expect(wasmPieces).toBe(Math.ceil(assets.find((a) => a.path === ORT_WASM_ASSET)!.gzipBase64.length / ASSET_PIECE_CHARS));
    expect(wasmPieces).toBeGreaterThan(1);
    const posted: unknown[] = [];
    expect(postEmbeddedAssets({ postMessage: (message: unknown) => posted.push(message) }, fakeDocument(html))).toBe(assets.length);

    const listeners = new Set<(event: MessageEvent) => void>();
    const scope = {
      addEventListener: (_type: 'message', listener: (event: MessageEvent) => void) => listeners.add(listener),
      removeEventListener: (_type: 'message', listener: (event: MessageEvent) => void) => listeners.delete(listener),
    };
    let arrivals = 0;
    const received = receiveEmbeddedAssetsAsync(scope, () => arrivals++);
    const event = (data: unknown) => {
      const e = { data, stopped: false, stopImmediatePropagation: () => (e.stopped = true) };
      return e;
    };
    // Comlink traffic before or beside the assets is not for the hand-off, and passes on to comlink.
    const call = event({ id: 'x', type: 'GET' });
    for (const listener of [...listeners]) listener(call as unknown as MessageEvent);
    expect(call.stopped).toBe(false);
    expect(arrivals).toBe(0);
    // The asset message is kept from comlink's listener (which would answer it as a call).
    const assetsEvent = event(posted[0]);
    for (const listener of [...listeners]) listener(assetsEvent as unknown as MessageEvent);
    expect(assetsEvent.stopped).toBe(true);
    expect(arrivals).toBe(1);
    const files = await received;
    expect(listeners.size).toBe(0);

    const ortWasm = readFileSync(path.join(repoRoot, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm'));
    expect(Buffer.from(files.get(ORT_WASM_ASSET)!).equals(ortWasm)).toBe(true);
    const transformer = readFileSync(path.join(fixturesDir(), 'transformer/model.onnx'));
    expect(Buffer.from(files.get('model/transformer/model.onnx')!).equals(transformer)).toBe(true);
    expect((posted[0] as EmbeddedAssetsMessage).assets.map((a) => a.path)).toContain('model/model_index.json');
  },
  COMPRESS_ASSETS_BUDGET_MS,
);

test('a damaged asset is refused with its path and both sizes', async () => {
  const gzipBase64 = gzipSync(Buffer.from('hello')).toString('base64');
  await expect(decodeAssetAsync({ path: 'model/x.json', size: 6, gzipBase64 })).rejects.toThrow(
    /"model\/x\.json" decoded to 5 bytes; the build recorded 6/,
  );
});
