/**
 * Stable Diffusion 3 / 3.5 as a model family (../model-family.ts): diffusers'
 * StableDiffusion3Pipeline, whose components are an SD3 MM-DiT transformer, an AutoencoderKL and
 * up to three text encoders (CLIP-L, CLIP-G, T5-XXL).
 */
import type { Backend } from '../../../common/engine-types.js';
import type { FamilyPackage, FamilyRuntime, ModelFamily, RuntimeOptions } from '../model-family.js';
import { readPromptVocabulary } from '../prompt-vocabulary.js';
import { isDiffusersLayoutAsync, readSd3DiffusersPackageAsync } from './diffusers-package.js';
import { generateFromImageAsync } from './image-to-image.js';
import { readSd3PackageAsync, type Sd3Package } from './package.js';
import { checkRequest, generateAsync } from './pipeline.js';
import { checkPromptWords } from './prompt-tokenizers.js';
import { createSd3RuntimeAsync, releaseSd3RuntimeAsync, type Sd3Runtime } from './runtime.js';

export const sd3Family: ModelFamily = {
  name: 'sd3',
  pipelineClasses: ['StableDiffusion3Pipeline'],
  async readPackageAsync(reader, index, context) {
    // A diffusers checkpoint (safetensors) gets its graphs built; an ONNX package brings its own.
    if (context && (await isDiffusersLayoutAsync(context.files))) {
      return sd3FamilyPackage(await readSd3DiffusersPackageAsync(reader, context.files, index, context.target));
    }
    return sd3FamilyPackage(await readSd3PackageAsync(reader, index));
  },
};

/** The engine's view of a checked SD3 package (also for packages assembled from in-memory graphs). */
export function sd3FamilyPackage(pkg: Sd3Package): FamilyPackage {
  const graphs = [pkg.transformer.graph, pkg.vaeDecoder.graph, pkg.vaeEncoder?.graph, ...pkg.textEncoders.map((e) => e.graph)];
  return {
    family: sd3Family.name,
    usesFusedAttention: graphs.some((graph) => graph?.summary.nodes.some((node) => node.opType === 'MultiHeadAttention')),
    summary: {
      id: pkg.id,
      name: pkg.name,
      hash: pkg.hash,
      ...(pkg.licence !== undefined ? { licence: pkg.licence } : {}),
      ...(pkg.attribution !== undefined ? { attribution: pkg.attribution } : {}),
      nativeSize: pkg.geometry.nativeSize,
      maxSide: pkg.geometry.maxSide,
      sizeMultiple: pkg.geometry.sizeMultiple,
      hasTextEncoder: pkg.textEncoders.length > 0,
      supportsImageToImage: pkg.vaeEncoder !== undefined,
      ...(pkg.manifest?.recommended ? { recommended: { ...pkg.manifest.recommended } } : {}),
      ...(pkg.manifest?.supersedes?.length ? { supersedes: pkg.manifest.supersedes.map((entry) => entry.hash) } : {}),
      format: pkg.format ?? 'onnx',
      ...(pkg.precision ? { precision: pkg.precision } : {}),
      ...(pkg.weightBytes !== undefined ? { weightBytes: pkg.weightBytes } : {}),
      ...(pkg.manifest?.vocabulary !== undefined ? { vocabulary: readPromptVocabulary(pkg.manifest.vocabulary) } : {}),
      notes: [...pkg.notes],
    },
    checkRequest(request) {
      const { width, height, notes } = checkRequest(pkg, request);
      return { width, height, notes };
    },
    checkPrompt: (prompt) => checkPromptWords(pkg, prompt),
    createRuntimeAsync: async (backend: Backend, options?: RuntimeOptions) =>
      sd3FamilyRuntime(await createSd3RuntimeAsync(pkg, backend, options)),
  };
}

function sd3FamilyRuntime(runtime: Sd3Runtime): FamilyRuntime {
  return {
    backend: runtime.backend,
    generateAsync: (request, job) => generateAsync(runtime, request, job),
    generateFromImageAsync: (request, job) => generateFromImageAsync(runtime, request, job),
    releaseAsync: () => releaseSd3RuntimeAsync(runtime),
  };
}
