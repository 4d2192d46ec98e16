/**
 * The seam for the model that ships with the build. The engine never knows how the bytes got
 * there: a browser bundle registers a provider that returns the files it inlined or fetches from
 * its own origin; the Node CLI registers a reader of the repository's `models/default/` folder.
 */
import { EngineError } from './engine-error.js';

/** Returns every file of the package, keyed by its path inside the package ("transformer/model.onnx"). */
export type EmbeddedModelProvider = () => Promise<Record<string, Uint8Array>>;

let provider: EmbeddedModelProvider | undefined;

export function setEmbeddedModelProvider(next: EmbeddedModelProvider | undefined): void {
  provider = next;
}

export async function loadEmbeddedModelFilesAsync(): Promise<Record<string, Uint8Array>> {
  if (!provider) {
    throw new EngineError(
      'model-missing-file',
      'no embedded model in this build; load a model package from a URL or from picked files instead',
    );
  }
  return provider();
}
