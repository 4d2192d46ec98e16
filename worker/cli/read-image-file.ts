/**
 * An init image from disk, as RGBA: PNG through the engine's own decoder (fast-png), JPEG and
 * WebP through jSquash's WebAssembly builds of the reference codecs (MozJPEG's libjpeg, libwebp),
 * which run in Node without native modules. The format is read from the file's first bytes, not
 * its name; anything else is refused naming the format and what to convert to.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { InitImage } from '../../common/engine-types.js';
import { decodePng, isPng } from '../engine/png.js';
import { UsageError } from './cli-errors.js';
import { displayPath } from './user-paths.js';

type ImageFormat = 'PNG' | 'JPEG' | 'WebP' | 'GIF' | 'BMP' | 'TIFF' | 'HEIF/AVIF';

function ascii(bytes: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(start, start + length));
}

/** The format the file's signature names, or undefined. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (isPng(bytes)) return 'PNG';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'JPEG';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'WebP';
  if (ascii(bytes, 0, 4) === 'GIF8') return 'GIF';
  if (ascii(bytes, 0, 2) === 'BM') return 'BMP';
  if (ascii(bytes, 0, 4) === 'II*\0' || ascii(bytes, 0, 4) === 'MM\0*') return 'TIFF';
  if (ascii(bytes, 4, 4) === 'ftyp') return 'HEIF/AVIF';
  return undefined;
}

/** Node has WebAssembly; its types come with the DOM and WebWorker libs, which Node tools do not load. */
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<object> } };

interface WasmDecoder {
  init(module: object, options: { print?: (text: string) => void; printErr?: (text: string) => void }): Promise<void>;
  default(buffer: ArrayBuffer): Promise<{ data: Uint8ClampedArray; width: number; height: number }>;
}

const require = createRequire(import.meta.url);
const decoders = new Map<string, Promise<WasmDecoder>>();
/** What the codec printed while decoding (libjpeg reports problems on stderr): kept for the message. */
let codecLog: string[] = [];

/** Loads a jSquash decoder with its .wasm read from node_modules (it would fetch it in a browser). */
function wasmDecoderAsync(modulePath: string, wasmPath: string): Promise<WasmDecoder> {
  let decoder = decoders.get(modulePath);
  if (!decoder) {
    decoder = (async () => {
      const codec = (await import(modulePath)) as WasmDecoder;
      const wasm = await wasmApi.compile(await readFile(require.resolve(wasmPath)));
      const log = (text: string) => codecLog.push(text);
      await codec.init(wasm, { print: log, printErr: log });
      return codec;
    })();
    decoders.set(modulePath, decoder);
  }
  return decoder;
}

const WASM_DECODERS: Partial<Record<ImageFormat, [string, string]>> = {
  JPEG: ['@jsquash/jpeg/decode.js', '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm'],
  WebP: ['@jsquash/webp/decode.js', '@jsquash/webp/codec/dec/webp_dec.wasm'],
};

/** Decodes the image at `file` (absolute) to RGBA; UsageError naming the file when it cannot. */
export async function readImageFileAsync(file: string, flag = '--init'): Promise<InitImage> {
  const shown = displayPath(file);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') throw new UsageError(`${flag} ${shown}: no such file`);
    if (code === 'EISDIR') throw new UsageError(`${flag} ${shown}: that is a folder; name an image file`);
    throw error;
  }
  const format = sniffImageFormat(bytes);
  if (format === 'PNG') {
    try {
      const image = decodePng(bytes);
      return { rgba: image.rgba, width: image.width, height: image.height };
    } catch (error) {
      throw new UsageError(`${flag} ${shown}: not a readable PNG (${(error as Error).message})`);
    }
  }
  const wasm = format ? WASM_DECODERS[format] : undefined;
  if (!wasm) {
    const what = format ? `a ${format} image` : 'not an image Flowfill reads';
    throw new UsageError(`${flag} ${shown}: ${what}; use PNG, JPEG or WebP`);
  }
  const decoder = await wasmDecoderAsync(...wasm);
  codecLog = [];
  try {
    const image = await decoder.default(bytes.slice().buffer);
    return {
      rgba: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength),
      width: image.width,
      height: image.height,
    };
  } catch (error) {
    // A decoder that hit a fatal error may be unusable: load a fresh one next time.
    decoders.delete(wasm[0]);
    const detail = codecLog.join('; ') || (error as Error).message;
    throw new UsageError(`${flag} ${shown}: not a readable ${format} (${detail})`);
  }
}
