/**
 * SD3 / SD3.5 checkpoints in the diffusers folder layout, as people download them from the
 * Hugging Face Hub: model_index.json, scheduler/, transformer/ and vae/ (config.json +
 * diffusion_pytorch_model[-0000k-of-0000n].safetensors), text_encoder, _2, _3 (config.json +
 * model[-…].safetensors), tokenizer, _2, _3 (tokenizer.json, or CLIP's vocab.json + merges.txt).
 *
 * The ONNX graphs are built here, in TypeScript, from each config.json and the safetensors
 * weights (./graphs/), in the precision asked for; their weights become external data that is
 * produced tensor by tensor from the checkpoint files (converted only where the precision or the
 * layout requires it). The rest — configs checked against each other, graphs checked against the
 * configs — is the same as for the Optimum ONNX layout (./package.ts).
 *
 * Identity: reading every byte of a 16 GB checkpoint to hash it would cost minutes on each load,
 * so the package hash covers the configs and tokenizers (every byte), each safetensors header and
 * a spread of samples of each shard's bytes. A package written by `npm run convert` or the model
 * store lists the full sha256 of every file.
 */
import type { Backend, PrecisionChoice } from '../../../common/engine-types.js';
import type { ByteSource } from '../byte-source.js';
import { EngineError } from '../engine-error.js';
import { graphFromBytes, type GraphFile } from '../graph-file.js';
import type { PackageIndex } from '../model-family.js';
import type { BuiltGraph } from '../onnx/graph-builder.js';
import type { Precision } from '../onnx/layers.js';
import { externalFileAsBlobAsync, serializeGraphAsync, type SerializedGraph } from '../onnx/serialize-graph.js';
import type { PackageFiles } from '../package-source.js';
import { openWeightSetAsync, type WeightSet } from '../safetensors.js';
import type { VerifyingReader } from '../verifying-reader.js';
import { buildClipTextEncoderGraph, readClipTextConfig } from './graphs/clip-text-encoder.js';
import { buildSd3TransformerGraph, readSd3TransformerConfig } from './graphs/sd3-transformer.js';
import { buildT5EncoderGraph, readT5EncoderConfig } from './graphs/t5-encoder.js';
import { buildVaeDecoderGraph, buildVaeEncoderGraph, readAutoencoderKlConfig, vaePrecision } from './graphs/vae.js';
import {
  assembleSd3PackageAsync,
  readSd3ComponentsAsync,
  type Sd3GraphName,
  type Sd3GraphSource,
  type Sd3Layout,
  type Sd3Package,
} from './package.js';
import { readTokenizerFilesAsync } from './tokenizer-files.js';

export const DIFFUSERS_LAYOUT: Sd3Layout = {
  name: 'diffusers',
  vaeConfigPath: 'vae/config.json',
  async readTokenizerAsync(reader, folder) {
    const files = await readTokenizerFilesAsync((path) => reader.optionalAsync(path), folder);
    return { tokenizerJson: files.tokenizerJson, tokenizerConfig: files.tokenizerConfig };
  },
};

/** Component folder → safetensors file stem, as diffusers (models) and transformers (text encoders) save them. */
const WEIGHT_STEMS: Record<'transformer' | 'vae' | 'text_encoder' | 'text_encoder_2' | 'text_encoder_3', string> = {
  transformer: 'diffusion_pytorch_model',
  vae: 'diffusion_pytorch_model',
  text_encoder: 'model',
  text_encoder_2: 'model',
  text_encoder_3: 'model',
};

/** True for a diffusers checkpoint: transformer weights as safetensors and no transformer/model.onnx. */
export async function isDiffusersLayoutAsync(files: PackageFiles): Promise<boolean> {
  if (await files.openOptionalAsync('transformer/model.onnx')) return false;
  const stem = `transformer/${WEIGHT_STEMS.transformer}.safetensors`;
  return (await files.openOptionalAsync(stem)) !== undefined || (await files.openOptionalAsync(`${stem}.index.json`)) !== undefined;
}

/** What the graphs are built for. */
export interface BuildTarget {
  precision: PrecisionChoice;
  backend: Backend;
  shaderF16: boolean;
  /** The attention kernel to build (worker/engine/fused-attention-check.ts); 'fused' when absent. */
  attention?: 'fused' | 'unfused';
  /** Bytes produced so far while converting weights (for progress). */
  onConvertProgress?: (component: string, producedBytes: number, totalBytes: number) => void;
}

/** The precision 'auto' resolves to, and whether the asked one can run where the graphs will run. */
export function resolvePrecision(target: Pick<BuildTarget, 'precision' | 'backend' | 'shaderF16'>): Precision {
  const { precision, backend, shaderF16 } = target;
  if (precision === 'auto') return backend === 'webgpu' && shaderF16 ? 'fp16' : 'fp32';
  return precision;
}

export async function readSd3DiffusersPackageAsync(
  reader: VerifyingReader,
  files: PackageFiles,
  index: PackageIndex,
  target: BuildTarget,
): Promise<Sd3Package> {
  const components = await readSd3ComponentsAsync(reader, index, DIFFUSERS_LAYOUT);
  const precision = resolvePrecision(target);
  const graphs = diffusersGraphSource(files, reader, precision, target);
  graphs.attention = target.attention ?? 'fused';
  const pkg = await assembleSd3PackageAsync(components, graphs, reader, folderName(files.description));
  pkg.notes.push(
    `converted from the diffusers checkpoint on load (${precision}); the model hash covers configs, tokenizers, safetensors headers and samples of the weights — save it as a Flowfill package (npm run convert) to skip the conversion and hash every byte`,
  );
  return { ...pkg, format: 'diffusers', precision, weightBytes: graphs.weightBytes() };
}

/** "sd35m" for "the folder /models/sd35m": a name for checkpoints whose model_index.json has none. */
function folderName(description: string): string {
  const last =
    description
      .replace(/[\\/]+$/, '')
      .split(/[\\/]/)
      .pop() ?? '';
  return last.trim() || 'SD3 checkpoint';
}

/** Reads a component's config through the verifying reader (so it counts in the package hash). */
async function configOf(reader: VerifyingReader, folder: string): Promise<Record<string, unknown>> {
  return reader.jsonAsync(`${folder}/config.json`, 'model_index.json lists it');
}

/** Opens a component's weights and adds its headers and byte samples to the package hash. */
async function weightsOf(files: PackageFiles, reader: VerifyingReader, folder: keyof typeof WEIGHT_STEMS): Promise<WeightSet> {
  const opened = new Map<string, ByteSource>();
  const weights = await openWeightSetAsync(
    async (path) => {
      const source = await files.openOptionalAsync(path);
      if (source) opened.set(path, source);
      return source;
    },
    folder,
    WEIGHT_STEMS[folder],
  );
  for (const [path, source] of opened) {
    if (path.endsWith('.json')) continue;
    reader.recordDigest(path, await fingerprintAsync(source));
  }
  return weights;
}

const SAMPLES = 16;
const SAMPLE_BYTES = 64 * 1024;

/** sha256 over a file's size, its first megabyte (the safetensors header and first weights) and 16 evenly spread 64 KiB samples. */
async function fingerprintAsync(source: ByteSource): Promise<string> {
  const { createSha256 } = await import('../sha256-stream.js');
  const hash = createSha256();
  hash.update(new TextEncoder().encode(`size ${source.size}\n`));
  hash.update(await source.readAsync(0, Math.min(source.size, 1 << 20)));
  for (let i = 0; i < SAMPLES; i++) {
    const offset = Math.floor(((source.size - SAMPLE_BYTES) * i) / (SAMPLES - 1));
    if (offset > 0 && source.size > SAMPLE_BYTES) hash.update(await source.readAsync(offset, SAMPLE_BYTES));
  }
  return `fingerprint:${hash.hex()}`;
}

/** One component's graph built from the checkpoint: the graph, the weights it came from, its precision. */
export interface ComponentGraph {
  graph: BuiltGraph;
  /** e.g. "transformer/diffusion_pytorch_model*.safetensors" */
  from: string;
  precision: Precision;
}

/** Builds the graph of component `name` (undefined when the checkpoint has none: a null text encoder). */
export async function buildComponentGraphAsync(
  name: Sd3GraphName,
  files: PackageFiles,
  reader: VerifyingReader,
  precision: Precision,
  attention: 'fused' | 'unfused' = 'fused',
): Promise<ComponentGraph | undefined> {
  switch (name) {
    case 'transformer': {
      const config = readSd3TransformerConfig(await configOf(reader, 'transformer'), 'transformer/config.json');
      const weights = await weightsOf(files, reader, 'transformer');
      return {
        graph: buildSd3TransformerGraph(config, weights, precision, { attentionKernel: attention }),
        from: weights.description,
        precision,
      };
    }
    case 'vae_decoder':
    case 'vae_encoder': {
      const config = readAutoencoderKlConfig(await configOf(reader, 'vae'), 'vae/config.json');
      const weights = await weightsOf(files, reader, 'vae');
      const vae = vaePrecision(config, precision);
      const graph =
        name === 'vae_decoder'
          ? buildVaeDecoderGraph(config, weights, vae, { attentionKernel: attention })
          : buildVaeEncoderGraph(config, weights, vae, { attentionKernel: attention });
      return { graph, from: weights.description, precision: vae };
    }
    case 'text_encoder':
    case 'text_encoder_2': {
      const config = readClipTextConfig(await configOf(reader, name), `${name}/config.json`);
      const weights = await weightsOf(files, reader, name);
      return { graph: buildClipTextEncoderGraph(config, weights, precision, { attention }), from: weights.description, precision };
    }
    case 'text_encoder_3': {
      const config = readT5EncoderConfig(await configOf(reader, name), `${name}/config.json`);
      const weights = await weightsOf(files, reader, name);
      return { graph: buildT5EncoderGraph(config, weights, precision, { attention }), from: weights.description, precision };
    }
  }
}

interface DiffusersGraphSource extends Sd3GraphSource {
  weightBytes(): number;
  /** The attention kernel the graphs are built with. */
  attention: 'fused' | 'unfused';
}

/** Builds each graph on first request from the checkpoint, in `precision`. */
function diffusersGraphSource(
  files: PackageFiles,
  reader: VerifyingReader,
  precision: Precision,
  target: BuildTarget,
): DiffusersGraphSource {
  const built = new Map<Sd3GraphName, Promise<GraphFile | undefined>>();
  let weightBytes = 0;

  const toGraphFile = async (name: Sd3GraphName, from: string, graph: BuiltGraph, graphPrecision: Precision): Promise<GraphFile> => {
    let serialized: SerializedGraph;
    try {
      serialized = await serializeGraphAsync(graph, { metadata: { 'flowfill.precision': graphPrecision, 'flowfill.source': from } });
    } catch (error) {
      throw new EngineError('model-mismatch', `${name}: the graph built from ${from} could not be written: ${(error as Error).message}`, {
        cause: error,
      });
    }
    weightBytes += serialized.weightBytes;
    const total = serialized.externalFiles.reduce((sum, file) => sum + file.byteLength, 0);
    let produced = 0;
    const externalData: GraphFile['externalData'] = [];
    for (const file of serialized.externalFiles) {
      const data = await externalFileAsBlobAsync(file);
      produced += file.byteLength;
      target.onConvertProgress?.(name, produced, total);
      externalData.push({ path: file.path, data });
    }
    return graphFromBytes(`${name}/model.onnx (built from ${from}, ${graphPrecision})`, serialized.model, externalData);
  };

  const build = async (name: Sd3GraphName): Promise<GraphFile | undefined> => {
    const component = await buildComponentGraphAsync(name, files, reader, precision, source.attention);
    return component && toGraphFile(name, component.from, component.graph, component.precision);
  };

  const graphAsync = (name: Sd3GraphName): Promise<GraphFile | undefined> => {
    let graph = built.get(name);
    if (!graph) {
      graph = build(name);
      built.set(name, graph);
    }
    return graph;
  };

  const source: DiffusersGraphSource = {
    attention: 'fused',
    async requiredGraphAsync(name, why) {
      const graph = await graphAsync(name);
      if (!graph) throw new EngineError('model-missing-file', `no ${name} in ${files.description} (${why})`);
      return graph;
    },
    optionalGraphAsync: graphAsync,
    weightBytes: () => weightBytes,
  };
  return source;
}
