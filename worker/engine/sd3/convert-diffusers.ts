/**
 * Converts an SD3/SD3.5 checkpoint in the diffusers layout into a Flowfill package: the Optimum
 * ONNX layout (transformer, vae_decoder, vae_encoder and each text encoder: model.onnx + external
 * data files under 2 GB, configs, tokenizer.json for every tokenizer) plus flowfill.json with the
 * sha256 and size of every file. Loading the result skips the graph building and weight
 * conversion, and verifies every byte.
 *
 * Weights stream tensor by tensor from the checkpoint through the conversion into the sink, so
 * memory holds about one tensor at a time whatever the model's size. The sink only publishes the
 * package once all of it is written (./package-writer.ts).
 */
import type { Precision } from '../onnx/layers.js';
import { serializeGraphAsync, writeExternalFileAsync } from '../onnx/serialize-graph.js';
import {
  bytesFile,
  jsonFile,
  writePackageAsync,
  type PackageFile,
  type PackageSink,
  type WritePackageProgress,
  type WrittenPackage,
} from '../package-writer.js';
import type { PackageFiles } from '../package-source.js';
import type { Sha256Factory } from '../sha256-stream.js';
import { chooseModelFamily, readPackageIndexAsync } from '../load-model-package.js';
import { EngineError } from '../engine-error.js';
import { VerifyingReader } from '../verifying-reader.js';
import { buildComponentGraphAsync, DIFFUSERS_LAYOUT, isDiffusersLayoutAsync } from './diffusers-package.js';
import { sd3Family } from './family.js';
import { readSd3ComponentsAsync, tokenizerFolderOf, type Sd3GraphName } from './package.js';

export interface ConvertOptions {
  precision: Precision;
  /** Display name written to flowfill.json (default: the checkpoint's _name_or_path or "SD3 model"). */
  name?: string;
  onProgress?: (progress: WritePackageProgress & { stage: string }) => void;
  sha256?: Sha256Factory;
}

export interface ConvertResult extends WrittenPackage {
  components: Sd3GraphName[];
}

export async function convertDiffusersCheckpointAsync(
  files: PackageFiles,
  sink: PackageSink,
  options: ConvertOptions,
): Promise<ConvertResult> {
  try {
    return await convertAsync(files, sink, options);
  } catch (error) {
    // Whatever failed — reading the checkpoint, building a graph, writing — nothing stays behind.
    await sink.abortAsync().catch(() => undefined);
    throw error;
  }
}

async function convertAsync(files: PackageFiles, sink: PackageSink, options: ConvertOptions): Promise<ConvertResult> {
  if (!(await isDiffusersLayoutAsync(files))) {
    throw new EngineError(
      'model-mismatch',
      `${files.description} is not a diffusers checkpoint (no transformer/*.safetensors, or it already holds transformer/model.onnx)`,
    );
  }
  const reader = new VerifyingReader(files);
  const index = await readPackageIndexAsync(reader);
  if (chooseModelFamily(index.modelIndex) !== sd3Family) {
    throw new EngineError('model-mismatch', `${files.description}: only SD3-family checkpoints convert`);
  }
  const components = await readSd3ComponentsAsync(reader, index, DIFFUSERS_LAYOUT);
  const out: PackageFile[] = [];
  const names: Sd3GraphName[] = ['transformer', 'vae_decoder', 'vae_encoder', ...components.textEncoders.map((encoder) => encoder.name)];
  const precisions: Record<string, string> = {};

  out.push(jsonFile('model_index.json', index.modelIndex));
  out.push(jsonFile('scheduler/scheduler_config.json', components.schedulerConfig));
  const configs: Record<string, Record<string, unknown>> = {
    transformer: await reader.jsonAsync('transformer/config.json'),
    vae_decoder: await reader.jsonAsync('vae/config.json'),
    vae_encoder: await reader.jsonAsync('vae/config.json'),
  };
  for (const encoder of components.textEncoders) {
    configs[encoder.name] = await reader.jsonAsync(`${encoder.name}/config.json`);
    const folder = tokenizerFolderOf(encoder.name);
    out.push(jsonFile(`${folder}/tokenizer.json`, encoder.tokenizerJson));
    out.push(jsonFile(`${folder}/tokenizer_config.json`, encoder.tokenizerConfig));
  }
  for (const name of names) {
    out.push(jsonFile(`${name}/config.json`, configs[name]));
    const component = await buildComponentGraphAsync(name, files, reader, options.precision);
    if (!component) continue;
    precisions[name] = component.precision;
    const serialized = await serializeGraphAsync(component.graph, {
      metadata: { 'flowfill.precision': component.precision, 'flowfill.source': component.from },
    });
    out.push(bytesFile(`${name}/model.onnx`, serialized.model));
    for (const plan of serialized.externalFiles) {
      out.push({ path: `${name}/${plan.path}`, bytes: plan.byteLength, produce: (write) => writeExternalFileAsync(plan, write) });
    }
  }
  const sourceName = typeof index.modelIndex._name_or_path === 'string' ? index.modelIndex._name_or_path : undefined;
  const written = await writePackageAsync(
    sink,
    out,
    {
      name: options.name ?? sourceName ?? 'SD3 model',
      precision: options.precision,
      component_precision: precisions,
      converted_from: `diffusers checkpoint (${files.description})`,
    },
    {
      sha256: options.sha256,
      onProgress: (progress) => options.onProgress?.({ ...progress, stage: 'writing' }),
    },
  );
  return { ...written, components: names };
}
