/**
 * An SD3 model package, read and checked the way diffusers reads it: model_index.json says which
 * components exist, each component's config.json gives its sizes, and the graphs must take and
 * give what those configs promise. Everything is checked before any session exists.
 *
 * Reading happens in two separate stages, so that graphs need not come from files:
 *   1. readSd3ComponentsAsync — which components exist, their configs and tokenizers
 *      (the layout says where the config files are);
 *   2. assembleSd3PackageAsync — takes each graph from an Sd3GraphSource (the package's ONNX
 *      files, or graphs built in memory), checks its inputs and outputs against the configs.
 * readSd3PackageAsync runs both for the Optimum ONNX layout. A package whose graphs are built in
 * memory (e.g. from a diffusers folder's safetensors) goes the same way:
 *
 *   const reader = new VerifyingReader(files);                  // sha256s of what is read
 *   const index = await readPackageIndexAsync(reader);           // flowfill.json, model_index.json
 *   const components = await readSd3ComponentsAsync(reader, index, { name: 'diffusers', vaeConfigPath: 'vae/config.json' });
 *   const graphs = inMemoryGraphSource({ transformer: graphFromBytes('transformer (built)', onnx, externalData), … }, 'the converted graphs');
 *   const pkg = await assembleSd3PackageAsync(components, graphs, reader);   // same checks as files
 *   await engine.loadPackage(sd3FamilyPackage(pkg));
 */
import { EngineError } from '../engine-error.js';
import { packageIdentity } from '../flowfill-manifest.js';
import { checkGraphIo, formatShape, type ExpectedValue, type GraphFile } from '../graph-file.js';
import type { PackageIndex } from '../model-family.js';
import type { VerifyingReader } from '../verifying-reader.js';
import {
  checkSd3Manifest,
  checkTextEncodersMatchTransformer,
  checkTransformerMatchesVae,
  deriveGeometry,
  readTextEncoderConfig,
  readTransformerConfig,
  readVaeConfig,
  type Sd3Geometry,
  type Sd3Manifest,
  type TextEncoderConfig,
  type TextEncoderName,
  type TransformerConfig,
  type VaeConfig,
} from './configs.js';

/** The note a package without text encoders carries, in ModelInfo and in every result. */
export const UNCONDITIONAL_NOTE =
  'no text encoder in this package: prompts are ignored and every image is unconditional (zero embeddings shaped by transformer/config.json)';

const NO_VAE_ENCODER_NOTE = 'no vae_encoder in this package: image-to-image from pixels is not available';

export interface TextEncoderComponent {
  name: TextEncoderName;
  kind: 'clip' | 't5';
  config: TextEncoderConfig;
  graph: GraphFile;
  /** Parsed tokenizer.json and tokenizer_config.json of the matching tokenizer folder. */
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** Index N of the last `hidden_states.N` output (CLIP only). */
  lastHiddenStateIndex?: number;
}

export interface Sd3Package {
  id: string;
  name: string;
  /** sha256 over every file read and its sha256, hex (VerifyingReader.finishAsync). */
  hash: string;
  licence?: string;
  attribution?: string;
  /** Where it came from, for messages. */
  source: string;
  modelIndex: Record<string, unknown>;
  schedulerConfig: Record<string, unknown>;
  /** configJson: transformer/config.json as read (every field, for rebuilding the graph: ./int8-matmul.ts). */
  transformer: { config: TransformerConfig; graph: GraphFile; configJson: Record<string, unknown> };
  vaeDecoder: { config: VaeConfig; graph: GraphFile };
  /** Present when the package has a VAE encoder: enables image-to-image from pixels. */
  vaeEncoder?: { graph: GraphFile; output: 'mean-and-logvar' | 'latent' };
  textEncoders: TextEncoderComponent[];
  manifest?: Sd3Manifest;
  geometry: Sd3Geometry;
  notes: string[];
  /** 'diffusers' when the graphs were built from a checkpoint on load; absent for ONNX packages. */
  format?: 'onnx' | 'diffusers';
  /** The precision the graphs were built in (diffusers checkpoints). */
  precision?: 'fp32' | 'fp16' | 'int8' | 'int4';
  /** Bytes of all graphs' weights, when known. */
  weightBytes?: number;
}

// ---------------------------------------------------------------------------------------------
// 1. Components and configs

/** Where a layout keeps the config files that differ between layouts. */
export interface Sd3Layout {
  /** For messages, e.g. "Optimum ONNX". */
  name: string;
  /** The AutoencoderKL config: Optimum splits the VAE into vae_decoder/ and vae_encoder/, diffusers has vae/. */
  vaeConfigPath: string;
  /** A tokenizer folder as PromptTokenizer takes it (tokenizer.json + tokenizer_config.json objects). */
  readTokenizerAsync(
    reader: VerifyingReader,
    folder: string,
    why: string,
  ): Promise<{ tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> }>;
}

export const OPTIMUM_LAYOUT: Sd3Layout = {
  name: 'Optimum ONNX',
  vaeConfigPath: 'vae_decoder/config.json',
  readTokenizerAsync: async (reader, folder, why) => ({
    tokenizerJson: await reader.jsonAsync(`${folder}/tokenizer.json`, why),
    tokenizerConfig: await reader.jsonAsync(`${folder}/tokenizer_config.json`, why),
  }),
};

/** Which components a package has and their configs: everything except the graphs. */
export interface Sd3Components {
  source: string;
  modelIndex: Record<string, unknown>;
  manifest?: Sd3Manifest;
  schedulerConfig: Record<string, unknown>;
  transformer: { configPath: string; config: TransformerConfig; configJson: Record<string, unknown> };
  vae: { configPath: string; config: VaeConfig };
  textEncoders: {
    name: TextEncoderName;
    configPath: string;
    config: TextEncoderConfig;
    tokenizerJson: Record<string, unknown>;
    tokenizerConfig: Record<string, unknown>;
  }[];
  geometry: Sd3Geometry;
}

const TEXT_ENCODER_NAMES: TextEncoderName[] = ['text_encoder', 'text_encoder_2', 'text_encoder_3'];

/** tokenizer, tokenizer_2, tokenizer_3 belong to text_encoder, _2, _3. */
export function tokenizerFolderOf(name: TextEncoderName): string {
  return name.replace('text_encoder', 'tokenizer');
}

/** A component model_index.json lists as [library, class] (null entries mean "absent", as SD3 without T5). */
function isListed(modelIndex: Record<string, unknown>, key: string): boolean {
  const entry = modelIndex[key];
  return Array.isArray(entry) && entry.length === 2 && entry[0] !== null && entry[1] !== null;
}

export async function readSd3ComponentsAsync(
  reader: VerifyingReader,
  index: PackageIndex,
  layout: Sd3Layout = OPTIMUM_LAYOUT,
): Promise<Sd3Components> {
  const { modelIndex } = index;
  const manifest = index.manifest as Sd3Manifest | undefined;
  const schedulerConfig = await reader.jsonAsync('scheduler/scheduler_config.json', 'every SD3 package has it');
  const transformerPath = 'transformer/config.json';
  const transformerJson = await reader.jsonAsync(transformerPath, 'every SD3 package has it');
  const transformer = readTransformerConfig(transformerPath, transformerJson);
  const vae = readVaeConfig(layout.vaeConfigPath, await reader.jsonAsync(layout.vaeConfigPath, 'every SD3 package has it'));
  checkTransformerMatchesVae(transformer, transformerPath, vae, layout.vaeConfigPath);
  if (manifest) checkSd3Manifest(manifest, vae.latent_channels);

  const textEncoders: Sd3Components['textEncoders'] = [];
  for (const name of TEXT_ENCODER_NAMES) {
    if (!isListed(modelIndex, name)) continue;
    const why = `model_index.json lists ${name}`;
    const configPath = `${name}/config.json`;
    const config = readTextEncoderConfig(configPath, name, await reader.jsonAsync(configPath, why));
    const { tokenizerJson, tokenizerConfig } = await layout.readTokenizerAsync(reader, tokenizerFolderOf(name), why);
    textEncoders.push({ name, configPath, config, tokenizerJson, tokenizerConfig });
  }
  checkTextEncodersMatchTransformer(textEncoders, transformer, transformerPath);
  return {
    source: reader.description,
    modelIndex,
    ...(manifest ? { manifest } : {}),
    schedulerConfig,
    transformer: { configPath: transformerPath, config: transformer, configJson: transformerJson },
    vae: { configPath: layout.vaeConfigPath, config: vae },
    textEncoders,
    geometry: deriveGeometry(transformer, vae),
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Graphs

/** The graphs of an SD3 package, by component folder name. */
export type Sd3GraphName = 'transformer' | 'vae_decoder' | 'vae_encoder' | TextEncoderName;

/** Where the graph bytes come from. */
export interface Sd3GraphSource {
  /** The component's graph; 'model-missing-file' naming it (and `why`) when there is none. */
  requiredGraphAsync(name: Sd3GraphName, why: string): Promise<GraphFile>;
  /** The component's graph, or undefined when the package has none (the VAE encoder is optional). */
  optionalGraphAsync(name: Sd3GraphName): Promise<GraphFile | undefined>;
}

/** The Optimum layout's graphs: `<component>/model.onnx` and the external data beside it, verified by `reader`. */
export function optimumGraphSource(reader: VerifyingReader): Sd3GraphSource {
  return {
    requiredGraphAsync: (name, why) => reader.graphAsync(`${name}/model.onnx`, why),
    async optionalGraphAsync(name) {
      const path = `${name}/model.onnx`;
      const bytes = await reader.optionalAsync(path);
      return bytes === undefined ? undefined : reader.graphFromFileBytesAsync(path, bytes);
    },
  };
}

/**
 * Graphs the caller already holds (e.g. built from safetensors weights with graphFromBytes).
 * Components absent from `graphs` count as absent from the package.
 */
export function inMemoryGraphSource(graphs: Partial<Record<Sd3GraphName, GraphFile>>, description: string): Sd3GraphSource {
  return {
    async requiredGraphAsync(name, why) {
      const graph = graphs[name];
      if (!graph) throw new EngineError('model-missing-file', `no ${name} graph in ${description} (${why})`);
      return graph;
    },
    optionalGraphAsync: async (name) => graphs[name],
  };
}

/** Takes every graph from `graphs`, checks it against the configs, and finishes the package. */
export async function assembleSd3PackageAsync(
  components: Sd3Components,
  graphs: Sd3GraphSource,
  reader: VerifyingReader,
  fallbackName = 'unnamed SD3 package',
): Promise<Sd3Package> {
  const { transformer, vae, manifest } = components;
  const notes: string[] = [];

  const transformerGraph = await graphs.requiredGraphAsync('transformer', 'the pipeline needs it');
  checkTransformerGraph(transformerGraph, transformer.config, transformer.configPath);
  const vaeDecoderGraph = await graphs.requiredGraphAsync('vae_decoder', 'the pipeline needs it');
  const from = (field: keyof VaeConfig) => `${vae.configPath} ${field}`;
  checkGraphIo(vaeDecoderGraph, {
    inputs: [{ name: 'latent_sample', rank: 4, fixed: { 1: vae.config.latent_channels }, fixedFrom: { 1: from('latent_channels') } }],
    outputs: [{ name: 'sample', rank: 4, fixed: { 1: vae.config.out_channels }, fixedFrom: { 1: from('out_channels') } }],
  });
  const vaeEncoderGraph = await graphs.optionalGraphAsync('vae_encoder');
  const vaeEncoder = vaeEncoderGraph ? checkVaeEncoderGraph(vaeEncoderGraph, vae.config, vae.configPath) : undefined;
  if (!vaeEncoder) notes.push(NO_VAE_ENCODER_NOTE);

  const textEncoders: TextEncoderComponent[] = [];
  for (const encoder of components.textEncoders) {
    const graph = await graphs.requiredGraphAsync(encoder.name, `model_index.json lists ${encoder.name}`);
    const lastHiddenStateIndex = checkTextEncoderGraph(graph, encoder.config, encoder.configPath);
    textEncoders.push({
      ...encoder,
      kind: encoder.config.kind,
      graph,
      ...(lastHiddenStateIndex !== undefined ? { lastHiddenStateIndex } : {}),
    });
  }
  if (textEncoders.length === 0) notes.push(UNCONDITIONAL_NOTE);

  const hash = await reader.finishAsync();
  const { id, name } = packageIdentity(manifest, components.modelIndex, hash, fallbackName);
  return {
    id,
    name,
    hash,
    licence: manifest?.licence,
    attribution: manifest?.attribution,
    source: components.source,
    modelIndex: components.modelIndex,
    schedulerConfig: components.schedulerConfig,
    transformer: { config: transformer.config, graph: transformerGraph, configJson: transformer.configJson },
    vaeDecoder: { config: vae.config, graph: vaeDecoderGraph },
    ...(vaeEncoder ? { vaeEncoder } : {}),
    textEncoders,
    ...(manifest ? { manifest } : {}),
    geometry: components.geometry,
    notes,
  };
}

/** An SD3 package in the Optimum ONNX layout: configs and graphs from the package's files. */
export async function readSd3PackageAsync(reader: VerifyingReader, index: PackageIndex): Promise<Sd3Package> {
  const components = await readSd3ComponentsAsync(reader, index, OPTIMUM_LAYOUT);
  return assembleSd3PackageAsync(components, optimumGraphSource(reader), reader);
}

// ---------------------------------------------------------------------------------------------
// Graph I/O checks against the configs

/** The transformer's I/O: hidden_states [B, C, h, w], timestep [B], encoder_hidden_states [B, S, D], pooled_projections [B, P]. */
function checkTransformerGraph(graph: GraphFile, config: TransformerConfig, configPath: string): void {
  const from = (field: keyof TransformerConfig) => `${configPath} ${field}`;
  checkGraphIo(graph, {
    inputs: [
      { name: 'hidden_states', rank: 4, fixed: { 1: config.in_channels }, fixedFrom: { 1: from('in_channels') } },
      { name: 'timestep', rank: 1 },
      { name: 'encoder_hidden_states', rank: 3, fixed: { 2: config.joint_attention_dim }, fixedFrom: { 2: from('joint_attention_dim') } },
      { name: 'pooled_projections', rank: 2, fixed: { 1: config.pooled_projection_dim }, fixedFrom: { 1: from('pooled_projection_dim') } },
    ],
    outputs: [{ name: 'out_hidden_states', rank: 4, fixed: { 1: config.out_channels }, fixedFrom: { 1: from('out_channels') } }],
  });
}

function checkVaeEncoderGraph(graph: GraphFile, vae: VaeConfig, configPath: string): NonNullable<Sd3Package['vaeEncoder']> {
  checkGraphIo(graph, {
    inputs: [{ name: 'sample', rank: 4, fixed: { 1: vae.in_channels }, fixedFrom: { 1: `${configPath} in_channels` } }],
    outputs: [],
  });
  // Optimum exports either the posterior's parameters (mean ‖ logvar, 2C channels) or a latent (C).
  const output = graph.summary.outputs[0];
  const channels = output?.shape?.[1];
  if (!output || output.shape?.length !== 4) {
    throw new EngineError('model-mismatch', `${graph.path}: first output should be a rank-4 latent; got ${formatShape(output?.shape)}`);
  }
  if (output.name === 'latent_parameters' || channels === 2 * vae.latent_channels) return { graph, output: 'mean-and-logvar' };
  if (channels === vae.latent_channels || output.name === 'latent_sample') return { graph, output: 'latent' };
  throw new EngineError(
    'model-mismatch',
    `${graph.path}: output "${output.name}" has ${channels} channels; ${configPath} latent_channels ${vae.latent_channels} means ${vae.latent_channels} (latent) or ${2 * vae.latent_channels} (mean and logvar)`,
  );
}

/**
 * Text encoders: input_ids in; last_hidden_state (and for CLIP text_embeds and every
 * hidden_states.N) out, as wide as the config says. Returns N of the last hidden_states.N (CLIP).
 */
function checkTextEncoderGraph(graph: GraphFile, config: TextEncoderConfig, configPath: string): number | undefined {
  const hiddenField = config.kind === 't5' ? 'd_model' : 'hidden_size';
  const perToken = (name: string): ExpectedValue => ({
    name,
    rank: 3,
    fixed: { 2: config.hiddenSize },
    fixedFrom: { 2: `${configPath} ${hiddenField}` },
  });
  checkGraphIo(graph, { inputs: [{ name: 'input_ids', rank: 2 }], outputs: [perToken('last_hidden_state')] });
  if (config.kind === 't5') return undefined;

  checkGraphIo(graph, {
    inputs: [],
    outputs: [{ name: 'text_embeds', rank: 2, fixed: { 1: config.projectionDim! }, fixedFrom: { 1: `${configPath} projection_dim` } }],
  });
  const hiddenStates = graph.summary.outputs.map((output) => output.name).filter((name) => /^hidden_states\.\d+$/.test(name));
  if (hiddenStates.length < 2) {
    throw new EngineError(
      'model-mismatch',
      `${graph.path}: SD3 takes the penultimate hidden state, but the graph has ${hiddenStates.length} "hidden_states.N" outputs; export with output_hidden_states=True`,
    );
  }
  checkGraphIo(graph, { inputs: [], outputs: hiddenStates.map(perToken) });
  return Math.max(...hiddenStates.map((name) => Number(name.slice('hidden_states.'.length))));
}
