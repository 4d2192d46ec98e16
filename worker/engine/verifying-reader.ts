/**
 * Reads the files of a model package and verifies each one as it arrives: its sha256 is recorded
 * (the package hash is made of them), and checked against flowfill.json when the manifest lists it.
 * Every model family reads through this, so a corrupt or truncated file is caught the same way
 * whichever family's configs it belongs to.
 */
import { EngineError } from './engine-error.js';
import type { FlowfillManifest } from './flowfill-manifest.js';
import { graphFromBytes, readGraphSummary, type GraphFile } from './graph-file.js';
import type { PackageFiles } from './package-source.js';

export class VerifyingReader {
  private readonly digests = new Map<string, string>();
  private manifest?: FlowfillManifest;

  constructor(private readonly files: PackageFiles) {}

  /** Where the package comes from, for messages ("the folder /x/model", a URL, "embedded model"). */
  get description(): string {
    return this.files.description;
  }

  /**
   * Counts a file the family read another way (a checkpoint shard read tensor by tensor) in the
   * package hash, with a digest the family computed (e.g. a fingerprint of its header and samples).
   */
  recordDigest(path: string, digest: string): void {
    this.digests.set(path, digest);
  }

  /** From now on, files the manifest lists must match its sha256 and size. */
  expectManifest(manifest: FlowfillManifest): void {
    this.manifest = manifest;
  }

  async optionalAsync(path: string): Promise<Uint8Array | undefined> {
    const bytes = await this.files.readOptionalAsync(path);
    if (bytes === undefined) return undefined;
    const checked = this.checkedOnWrite(path);
    if (checked) {
      this.checkSize(path, bytes.byteLength, checked.bytes);
      this.digests.set(path, checked.sha256);
      return bytes;
    }
    this.digests.set(path, await sha256HexAsync(bytes));
    this.verifyAgainstManifest(path, bytes);
    return bytes;
  }

  /**
   * The manifest's entry for `path` when the host checked the file against it on writing
   * (PackageFiles.digestsCheckedOnWrite): the size is then checked on read, the digest is taken
   * from the manifest. Trade-off: a file damaged on disk after it was written is caught only when
   * its size changed, or when onnxruntime cannot parse it; removing and adding the model again
   * re-checks every byte.
   */
  private checkedOnWrite(path: string): { sha256: string; bytes: number } | undefined {
    if (!this.files.digestsCheckedOnWrite) return undefined;
    const expected = this.manifest?.files?.[path];
    if (expected?.sha256 === undefined || expected.bytes === undefined) return undefined;
    return { sha256: expected.sha256.toLowerCase(), bytes: expected.bytes };
  }

  private checkSize(path: string, actual: number, expected: number): void {
    if (actual !== expected) {
      throw new EngineError(
        'model-corrupt',
        `${path} has ${actual} bytes; flowfill.json says ${expected} (the stored copy is damaged: remove the model and add it again)`,
      );
    }
  }

  /**
   * An external-data file: read and verified like any file, or, when the host checked it on
   * writing, handed over as a file-backed Blob after a size check, so onnxruntime reads it
   * straight from disk when the session is made.
   */
  private async externalDataAsync(path: string, why: string): Promise<Uint8Array | Blob> {
    const checked = this.checkedOnWrite(path);
    if (checked) {
      const source = await this.files.openOptionalAsync(path);
      if (source?.sliceBlob) {
        this.checkSize(path, source.size, checked.bytes);
        this.digests.set(path, checked.sha256);
        return source.sliceBlob(0, source.size);
      }
    }
    return this.requiredAsync(path, why);
  }

  /** `why` completes "… is missing from <package> (why)". */
  async requiredAsync(path: string, why: string): Promise<Uint8Array> {
    const bytes = await this.optionalAsync(path);
    if (bytes === undefined) {
      throw new EngineError('model-missing-file', `${path} is missing from ${this.files.description} (${why})`);
    }
    return bytes;
  }

  async jsonAsync(path: string, why = 'the package needs it'): Promise<Record<string, unknown>> {
    return parseJsonObject(path, await this.requiredAsync(path, why));
  }

  async optionalJsonAsync(path: string): Promise<Record<string, unknown> | undefined> {
    const bytes = await this.optionalAsync(path);
    return bytes === undefined ? undefined : parseJsonObject(path, bytes);
  }

  /** An ONNX graph file of the package and the external-data files it names (beside it). */
  async graphAsync(path: string, why: string): Promise<GraphFile> {
    return this.graphFromFileBytesAsync(path, await this.requiredAsync(path, why));
  }

  /** As graphAsync, when the caller has already read the graph's bytes (e.g. an optional graph). */
  async graphFromFileBytesAsync(path: string, model: Uint8Array): Promise<GraphFile> {
    const summary = readGraphSummary(path, model);
    const folder = path.slice(0, path.lastIndexOf('/') + 1);
    const externalData: GraphFile['externalData'] = [];
    for (const location of summary.externalDataFiles) {
      externalData.push({ path: location, data: await this.externalDataAsync(folder + location, `${path} keeps its weights there`) });
    }
    return graphFromBytes(path, model, externalData);
  }

  private verifyAgainstManifest(path: string, bytes: Uint8Array): void {
    const expected = this.manifest?.files?.[path];
    if (!expected) return;
    if (expected.bytes !== undefined && expected.bytes !== bytes.byteLength) {
      throw new EngineError('model-corrupt', `${path} has ${bytes.byteLength} bytes; flowfill.json says ${expected.bytes}`);
    }
    const actual = this.digests.get(path);
    if (expected.sha256 !== undefined && expected.sha256.toLowerCase() !== actual) {
      throw new EngineError('model-corrupt', `${path} has sha256 ${actual}; flowfill.json says ${expected.sha256}`);
    }
  }

  /**
   * Call once every file the family needs is read: files the manifest lists that were not needed
   * are read too (so a truncated package is caught), then the package hash is returned — sha256
   * over the sorted "path digest" lines of every file read except flowfill.json, hex.
   */
  async finishAsync(): Promise<string> {
    for (const path of Object.keys(this.manifest?.files ?? {})) {
      if (this.digests.has(path)) continue;
      const checked = this.checkedOnWrite(path);
      const source = checked ? await this.files.openOptionalAsync(path) : undefined;
      if (checked && source) {
        this.checkSize(path, source.size, checked.bytes);
        this.digests.set(path, checked.sha256);
      } else await this.requiredAsync(path, 'flowfill.json lists it');
    }
    const lines = [...this.digests.entries()]
      .filter(([path]) => path !== 'flowfill.json')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([path, digest]) => `${path} ${digest}\n`)
      .join('');
    return sha256HexAsync(new TextEncoder().encode(lines));
  }
}

export async function sha256HexAsync(bytes: Uint8Array): Promise<string> {
  // WebCrypto wants a plain ArrayBuffer view; copy views of shared memory.
  const input = bytes.buffer instanceof ArrayBuffer ? bytes : new Uint8Array(bytes);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', input as Uint8Array<ArrayBuffer>));
  return [...digest].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** The JSON object in a package file; 'model-corrupt' naming the file otherwise. */
export function parseJsonObject(path: string, bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new EngineError('model-corrupt', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EngineError('model-corrupt', `${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}
