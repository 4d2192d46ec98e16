/**
 * For tools that drive SD3's own stages rather than the engine (the golden parity runner, the
 * benchmark's native peer): reads a package as the engine would, and insists that it is SD3's.
 */
import { EngineError } from '../engine-error.js';
import { chooseModelFamily, DEFAULT_TARGET, readPackageIndexAsync } from '../load-model-package.js';
import type { LoadTarget } from '../model-family.js';
import type { PackageFiles } from '../package-source.js';
import { VerifyingReader } from '../verifying-reader.js';
import { isDiffusersLayoutAsync, readSd3DiffusersPackageAsync } from './diffusers-package.js';
import { sd3Family } from './family.js';
import { readSd3PackageAsync, type Sd3Package } from './package.js';

/** `target` matters for diffusers checkpoints (the graphs are built for it); ONNX packages ignore it. */
export async function readSd3PackageFilesAsync(files: PackageFiles, target: LoadTarget = DEFAULT_TARGET): Promise<Sd3Package> {
  const reader = new VerifyingReader(files);
  const index = await readPackageIndexAsync(reader);
  const family = chooseModelFamily(index.modelIndex);
  if (family !== sd3Family) {
    throw new EngineError(
      'model-mismatch',
      `${files.description} is a ${family.name} package; this tool runs SD3's stages and needs an SD3 package`,
    );
  }
  if (await isDiffusersLayoutAsync(files)) return readSd3DiffusersPackageAsync(reader, files, index, target);
  return readSd3PackageAsync(reader, index);
}
