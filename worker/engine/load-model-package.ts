/**
 * Opens a model package and hands it to its family: flowfill.json (when present) first, so every
 * later file is verified against its sha256; then model_index.json, whose `_class_name` picks the
 * family; then the family reads and checks the rest. No session is created here.
 */
import type { LoadProgress, ModelSource } from '../../common/engine-types.js';
import { EngineError } from './engine-error.js';
import { checkManifest } from './flowfill-manifest.js';
import type { FamilyPackage, LoadTarget, ModelFamily, PackageIndex } from './model-family.js';
import { openPackageAsync, type PackageFiles } from './package-source.js';
import { sd3Family } from './sd3/family.js';
import { VerifyingReader } from './verifying-reader.js';

/** Every family this build runs. A new family is a sibling folder of sd3/ added here. */
export const MODEL_FAMILIES: readonly ModelFamily[] = [sd3Family];

/** Reads, verifies and checks the package behind `source`. */
export async function loadModelPackageAsync(
  source: ModelSource,
  onProgress?: (progress: LoadProgress) => void,
  families: readonly ModelFamily[] = MODEL_FAMILIES,
  target: LoadTarget = DEFAULT_TARGET,
): Promise<FamilyPackage> {
  const precision = ('precision' in source ? source.precision : undefined) ?? target.precision;
  return readModelPackageAsync(await openPackageAsync(source, onProgress), families, { ...target, precision });
}

/** Where graphs run when the caller does not say: WASM, float32. */
export const DEFAULT_TARGET: LoadTarget = { backend: 'wasm', shaderF16: false, precision: 'auto' };

/** As loadModelPackageAsync, for a host that already has a file reader (parity runner, tests). */
export async function readModelPackageAsync(
  files: PackageFiles,
  families: readonly ModelFamily[] = MODEL_FAMILIES,
  target: LoadTarget = DEFAULT_TARGET,
): Promise<FamilyPackage> {
  const reader = new VerifyingReader(files);
  const index = await readPackageIndexAsync(reader);
  return chooseModelFamily(index.modelIndex, families).readPackageAsync(reader, index, { files, target });
}

/** flowfill.json (optional, checked, then enforced on every later read) and model_index.json. */
export async function readPackageIndexAsync(reader: VerifyingReader): Promise<PackageIndex> {
  const manifestJson = await reader.optionalJsonAsync('flowfill.json');
  const manifest = manifestJson ? checkManifest(manifestJson) : undefined;
  if (manifest) reader.expectManifest(manifest);
  const modelIndex = await reader.jsonAsync('model_index.json', 'it names the pipeline and its components');
  return { modelIndex, ...(manifest ? { manifest } : {}) };
}

/** The family whose pipeline class model_index.json names; 'model-mismatch' listing the supported ones otherwise. */
export function chooseModelFamily(modelIndex: Record<string, unknown>, families: readonly ModelFamily[] = MODEL_FAMILIES): ModelFamily {
  const className = modelIndex._class_name;
  const supported = families.map((family) => `${family.pipelineClasses.join(', ')} (${family.name})`).join('; ');
  if (typeof className !== 'string' || className === '') {
    throw new EngineError(
      'model-mismatch',
      `model_index.json has no "_class_name", so the model family is unknown; Flowfill runs ${supported}`,
    );
  }
  const family = families.find((candidate) => candidate.pipelineClasses.includes(className));
  if (!family) {
    throw new EngineError(
      'model-mismatch',
      `model_index.json: _class_name "${className}" is a pipeline Flowfill does not run; it runs ${supported}`,
    );
  }
  return family;
}
