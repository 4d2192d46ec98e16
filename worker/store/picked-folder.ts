/**
 * The files of a folder the user picked (`<input type=file webkitdirectory>` gives each file's path
 * starting with the folder's own name: "sd35m_style/transformer/config.json"), as a package:
 * paths inside the package, and which of them a copy of an ONNX package keeps.
 */
import { blobSource } from '../engine/byte-source.js';
import { EngineError } from '../engine/engine-error.js';
import type { PackageFiles } from '../engine/package-source.js';

/** Paths inside the package → files. Refuses a pick without model_index.json, saying what to pick. */
export function packagePathsOf(files: Record<string, Blob>, description: string): Map<string, Blob> {
  const entries = Object.entries(files).map(([path, blob]) => [path.replace(/\\/g, '/').replace(/^\.?\//, ''), blob] as const);
  const index = entries
    .map(([path]) => path)
    .filter((path) => path === 'model_index.json' || path.endsWith('/model_index.json'))
    .sort((a, b) => a.length - b.length)[0];
  if (!index) {
    throw new EngineError(
      'model-missing-file',
      `${description} has no model_index.json: pick the model's top folder (the one with model_index.json, transformer/, vae/ …), a diffusers SD3 checkpoint or a Flowfill package`,
    );
  }
  const prefix = index.slice(0, index.length - 'model_index.json'.length);
  const out = new Map<string, Blob>();
  for (const [path, blob] of entries) if (path.startsWith(prefix)) out.set(path.slice(prefix.length), blob);
  return out;
}

/** PackageFiles over picked files (already re-rooted by packagePathsOf). */
export function pickedPackageFiles(files: Map<string, Blob>, description: string): PackageFiles {
  return {
    description,
    async readOptionalAsync(path) {
      const blob = files.get(path);
      return blob && new Uint8Array(await blob.arrayBuffer());
    },
    async openOptionalAsync(path) {
      const blob = files.get(path);
      return blob && blobSource(path, blob);
    },
  };
}

/**
 * Files an ONNX package consists of: model_index.json and everything in its component folders
 * (graphs, external data, configs, tokenizers), without hidden files (.DS_Store, .git) and without
 * flowfill.json, which the copy writes anew with every file's sha256.
 */
export function onnxPackagePaths(paths: Iterable<string>): string[] {
  return [...paths]
    .filter((path) => path === 'model_index.json' || (path.includes('/') && !path.split('/').some((part) => part.startsWith('.'))))
    .sort();
}
