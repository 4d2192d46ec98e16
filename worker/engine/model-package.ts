/**
 * Reads and checks an SD3 model package in the Hugging Face Optimum ONNX layout (DESIGN §2.1),
 * the way diffusers reads it: model_index.json says which components exist, each component's
 * config.json gives its sizes, and the graphs must take and give what those configs promise.
 *
 * Everything is checked before any session exists: every file is present, sha256 and size match
 * flowfill.json where it lists them, each graph parses and its input/output names and ranks (and
 * the fixed dimensions the configs determine) are as expected. Each failure is an EngineError that
 * names the file and what is wrong with it.
 */
import type { LoadProgress, ModelSource } from '../../common/engine-types.js';
import { EngineError } from './engine-error.js';
import { validateLatentRgbFactors } from './latent-preview.js';
import { readOnnxGraphSummary, type OnnxDim, type OnnxGraphSummary, type OnnxValueInfo } from './onnx-graph.js';
import { openPackageAsync, type PackageFiles } from './package-source.js';
import { UNCONDITIONAL_NOTE } from './text-encoding.js';

/** The fields of transformer/config.json the engine uses (diffusers SD3Transformer2DModel). */
export interface TransformerConfig {
  sample_size: number;
  patch_size: number;
  in_channels: number;
  out_channels: number;
  joint_attention_dim: number;
  pooled_projection_dim: number;
  pos_embed_max_size: number;
  num_attention_heads: number;
  attention_head_dim: number;
}

/** The fields of vae_decoder/config.json the engine uses (diffusers AutoencoderKL). */
export interface VaeConfig {
  block_out_channels: number[];
  latent_channels: number;
  scaling_factor: number;
  shift_factor: number;
  in_channels: number;
  out_channels: number;
}

/** flowfill.json: what the Optimum layout lacks. Every field optional. */
export interface FlowfillManifest {
  name?: string;
  licence?: string;
  attribution?: string;
  files?: Record<string, { sha256?: string; bytes?: number }>;
  /** 16 (latent_channels) rows of [r, g, b]: linear latent→RGB preview. */
  latent_rgb_factors?: number[][];
  latent_rgb_bias?: number[];
  /** Length of the zero T5 block when there is no T5 (diffusers' default 256). */
  max_sequence_length?: number;
  /** Default settings for this model: steps, guidance, shift. */
  recommended?: { steps?: number; guidance?: number; shift?: number };
}

export interface GraphFile {
  /** Package path, e.g. "transformer/model.onnx". */
  path: string;
  model: Uint8Array;
  /** External-data files keyed by the location the graph names. */
  externalData: { path: string; data: Uint8Array }[];
  summary: OnnxGraphSummary;
}

export type TextEncoderName = 'text_encoder' | 'text_encoder_2' | 'text_encoder_3';

export interface TextEncoderComponent {
  name: TextEncoderName;
  /** 'clip' gives text_embeds + hidden_states.N; 't5' gives last_hidden_state only. */
  kind: 'clip' | 't5';
  graph: GraphFile;
  config: Record<string, unknown>;
  /** Parsed tokenizer/tokenizer.json and tokenizer_config.json of the matching tokenizer folder. */
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** Index N of the last `hidden_states.N` output (CLIP only). */
  lastHiddenStateIndex?: number;
}

export interface PackageGeometry {
  /** 2^(len(block_out_channels) − 1), as diffusers derives it. */
  vaeScaleFactor: number;
  patchSize: number;
  latentChannels: number;
  /** sample_size · vaeScaleFactor. */
  nativeSize: number;
  /** pos_embed_max_size · patch_size · vaeScaleFactor. */
  maxSide: number;
  /** vaeScaleFactor · patchSize. */
  sizeMultiple: number;
}

export interface ModelPackage {
  id: string;
  name: string;
  /** sha256 over model_index.json and every file's sha256, hex. */
  hash: string;
  licence?: string;
  attribution?: string;
  source: string;
  modelIndex: Record<string, unknown>;
  schedulerConfig: Record<string, unknown>;
  transformer: { config: TransformerConfig; graph: GraphFile };
  vaeDecoder: { config: VaeConfig; graph: GraphFile };
  /** Present when vae_encoder/model.onnx is: enables image-to-image from pixels. */
  vaeEncoder?: { graph: GraphFile; output: 'mean-and-logvar' | 'latent' };
  textEncoders: TextEncoderComponent[];
  flowfill?: FlowfillManifest;
  geometry: PackageGeometry;
  notes: string[];
}

/** Reads, verifies and checks a package; no ORT session is created here. */
export async function loadModelPackageAsync(
  source: ModelSource,
  onProgress?: (progress: LoadProgress) => void,
): Promise<ModelPackage> {
  return loadModelPackageFromFilesAsync(await openPackageAsync(source, onProgress));
}

/** As loadModelPackageAsync, for a host that already has a file reader (parity runner, tests). */
export async function loadModelPackageFromFilesAsync(files: PackageFiles): Promise<ModelPackage> {
  const reader = new VerifyingReader(files);

  // 1. Index and manifest
  const modelIndex = await reader.jsonAsync('model_index.json');
  const flowfill = (await reader.optionalJsonAsync('flowfill.json')) as FlowfillManifest | undefined;
  if (flowfill) reader.expectManifest(flowfill);
  const notes: string[] = [];

  // 2. Configs
  const schedulerConfig = await reader.jsonAsync('scheduler/scheduler_config.json');
  const transformerConfig = readTransformerConfig(await reader.jsonAsync('transformer/config.json'));
  const vaeConfig = readVaeConfig(await reader.jsonAsync('vae_decoder/config.json'));
  const geometry = deriveGeometry(transformerConfig, vaeConfig);
  if (transformerConfig.in_channels !== vaeConfig.latent_channels) {
    throw new EngineError(
      'model-mismatch',
      `transformer/config.json: in_channels ${transformerConfig.in_channels} differs from vae_decoder/config.json latent_channels ${vaeConfig.latent_channels}`,
    );
  }

  if (flowfill) checkManifestFields(flowfill, vaeConfig.latent_channels);

  // 3. Graphs, checked against the configs
  const transformerGraph = await reader.graphAsync('transformer/model.onnx');
  checkGraphIo(transformerGraph, {
    inputs: [
      { name: 'hidden_states', rank: 4, fixed: { 1: transformerConfig.in_channels } },
      { name: 'timestep', rank: 1 },
      { name: 'encoder_hidden_states', rank: 3, fixed: { 2: transformerConfig.joint_attention_dim } },
      { name: 'pooled_projections', rank: 2, fixed: { 1: transformerConfig.pooled_projection_dim } },
    ],
    outputs: [{ name: 'out_hidden_states', rank: 4, fixed: { 1: transformerConfig.out_channels } }],
  });
  const vaeDecoderGraph = await reader.graphAsync('vae_decoder/model.onnx');
  checkGraphIo(vaeDecoderGraph, {
    inputs: [{ name: 'latent_sample', rank: 4, fixed: { 1: vaeConfig.latent_channels } }],
    outputs: [{ name: 'sample', rank: 4, fixed: { 1: vaeConfig.out_channels } }],
  });
  const vaeEncoder = await readVaeEncoderAsync(reader, vaeConfig);
  if (!vaeEncoder) notes.push('no vae_encoder in this package: image-to-image from pixels is not available');

  // 4. Text encoders (each optional, as in SD3)
  const textEncoders = await readTextEncodersAsync(reader, modelIndex);
  if (textEncoders.length === 0) {
    notes.push(UNCONDITIONAL_NOTE);
  }

  // 5. Files the manifest lists must all have been read and matched
  await reader.checkManifestCompleteAsync();
  const hash = await reader.packageHashAsync();
  const name = flowfill?.name ?? (typeof modelIndex._name_or_path === 'string' ? modelIndex._name_or_path : 'unnamed SD3 package');
  return {
    id: `${slug(name)}-${hash.slice(0, 12)}`,
    name,
    hash,
    licence: flowfill?.licence,
    attribution: flowfill?.attribution,
    source: files.description,
    modelIndex,
    schedulerConfig,
    transformer: { config: transformerConfig, graph: transformerGraph },
    vaeDecoder: { config: vaeConfig, graph: vaeDecoderGraph },
    vaeEncoder,
    textEncoders,
    flowfill,
    geometry,
    notes,
  };
}

/** The manifest's model-facing fields, checked against the package before anything runs. */
function checkManifestFields(manifest: FlowfillManifest, latentChannels: number): void {
  if (manifest.latent_rgb_factors !== undefined) {
    try {
      validateLatentRgbFactors({ factors: manifest.latent_rgb_factors, bias: manifest.latent_rgb_bias }, latentChannels, 'flowfill.json latent_rgb_factors');
    } catch (error) {
      throw new EngineError('model-mismatch', (error as Error).message, { cause: error });
    }
  }
  for (const [key, value] of Object.entries(manifest.recommended ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new EngineError('model-mismatch', `flowfill.json: recommended.${key} is ${JSON.stringify(value)}; expected a non-negative number`);
    }
  }
  const length = manifest.max_sequence_length;
  // diffusers refuses max_sequence_length > 512 (StableDiffusion3Pipeline.check_inputs).
  if (length !== undefined && (!Number.isInteger(length) || length < 0 || length > 512)) {
    throw new EngineError('model-mismatch', `flowfill.json: max_sequence_length is ${JSON.stringify(length)}; expected an integer from 0 to 512 (diffusers uses 256)`);
  }
}

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'model';
}

export function deriveGeometry(transformer: TransformerConfig, vae: VaeConfig): PackageGeometry {
  const vaeScaleFactor = 2 ** (vae.block_out_channels.length - 1);
  return {
    vaeScaleFactor,
    patchSize: transformer.patch_size,
    latentChannels: vae.latent_channels,
    nativeSize: transformer.sample_size * vaeScaleFactor,
    maxSide: transformer.pos_embed_max_size * transformer.patch_size * vaeScaleFactor,
    sizeMultiple: vaeScaleFactor * transformer.patch_size,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading with verification

class VerifyingReader {
  private readonly digests = new Map<string, string>();
  private manifest?: FlowfillManifest;

  constructor(private readonly files: PackageFiles) {}

  expectManifest(manifest: FlowfillManifest): void {
    this.manifest = manifest;
  }

  async optionalAsync(path: string): Promise<Uint8Array | undefined> {
    const bytes = await this.files.readOptionalAsync(path);
    if (bytes === undefined) return undefined;
    this.digests.set(path, await sha256HexAsync(bytes));
    this.verifyAgainstManifest(path, bytes);
    return bytes;
  }

  async requiredAsync(path: string, why: string): Promise<Uint8Array> {
    const bytes = await this.optionalAsync(path);
    if (bytes === undefined) {
      throw new EngineError('model-missing-file', `${path} is missing from the ${this.files.description} (${why})`);
    }
    return bytes;
  }

  async jsonAsync(path: string): Promise<Record<string, unknown>> {
    return parseJson(path, await this.requiredAsync(path, 'every SD3 package has it'));
  }

  async optionalJsonAsync(path: string): Promise<Record<string, unknown> | undefined> {
    const bytes = await this.optionalAsync(path);
    return bytes === undefined ? undefined : parseJson(path, bytes);
  }

  async graphAsync(path: string, why = 'the pipeline needs it'): Promise<GraphFile> {
    return this.graphFromBytesAsync(path, await this.requiredAsync(path, why));
  }

  async graphFromBytesAsync(path: string, model: Uint8Array): Promise<GraphFile> {
    let summary: OnnxGraphSummary;
    try {
      summary = readOnnxGraphSummary(model);
    } catch (error) {
      throw new EngineError('model-corrupt', `${path} is not a readable ONNX model: ${(error as Error).message}`, { cause: error });
    }
    const folder = path.slice(0, path.lastIndexOf('/') + 1);
    const externalData: { path: string; data: Uint8Array }[] = [];
    for (const location of summary.externalDataFiles) {
      const data = await this.requiredAsync(folder + location, `${path} keeps its weights there`);
      externalData.push({ path: location, data });
    }
    return { path, model, externalData, summary };
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

  /** Files the manifest lists that the engine did not need are still read, so that a truncated package is caught. */
  async checkManifestCompleteAsync(): Promise<void> {
    for (const path of Object.keys(this.manifest?.files ?? {})) {
      if (!this.digests.has(path)) await this.requiredAsync(path, 'flowfill.json lists it');
    }
  }

  async packageHashAsync(): Promise<string> {
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

function parseJson(path: string, bytes: Uint8Array): Record<string, unknown> {
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

// ---------------------------------------------------------------------------------------------
// Configs

function positiveInteger(path: string, config: Record<string, unknown>, field: string, fallback?: number): number {
  const value = config[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new EngineError('model-mismatch', `${path}: ${field} is ${JSON.stringify(value)}; expected a positive integer`);
  }
  return value;
}

function finiteNumber(path: string, config: Record<string, unknown>, field: string, fallback?: number): number {
  const value = config[field] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new EngineError('model-mismatch', `${path}: ${field} is ${JSON.stringify(value)}; expected a number`);
  }
  return value;
}

function readTransformerConfig(config: Record<string, unknown>): TransformerConfig {
  const path = 'transformer/config.json';
  const inChannels = positiveInteger(path, config, 'in_channels');
  return {
    sample_size: positiveInteger(path, config, 'sample_size'),
    patch_size: positiveInteger(path, config, 'patch_size'),
    in_channels: inChannels,
    out_channels: positiveInteger(path, config, 'out_channels', inChannels),
    joint_attention_dim: positiveInteger(path, config, 'joint_attention_dim'),
    pooled_projection_dim: positiveInteger(path, config, 'pooled_projection_dim'),
    pos_embed_max_size: positiveInteger(path, config, 'pos_embed_max_size'),
    num_attention_heads: positiveInteger(path, config, 'num_attention_heads'),
    attention_head_dim: positiveInteger(path, config, 'attention_head_dim'),
  };
}

function readVaeConfig(config: Record<string, unknown>): VaeConfig {
  const path = 'vae_decoder/config.json';
  const blocks = config.block_out_channels;
  if (!Array.isArray(blocks) || blocks.length === 0 || !blocks.every((b) => Number.isInteger(b) && b > 0)) {
    throw new EngineError('model-mismatch', `${path}: block_out_channels is ${JSON.stringify(blocks)}; expected a list of positive integers`);
  }
  return {
    block_out_channels: blocks as number[],
    latent_channels: positiveInteger(path, config, 'latent_channels'),
    scaling_factor: finiteNumber(path, config, 'scaling_factor'),
    // diffusers treats an absent shift_factor as 0 (SD1/SDXL VAEs have none).
    shift_factor: finiteNumber(path, config, 'shift_factor', 0),
    in_channels: positiveInteger(path, config, 'in_channels', 3),
    out_channels: positiveInteger(path, config, 'out_channels', 3),
  };
}

// ---------------------------------------------------------------------------------------------
// Graph I/O checks

interface ExpectedValue {
  name: string;
  rank: number;
  /** Dimension index → the size the configs require there. */
  fixed?: Record<number, number>;
}

function formatShape(shape: OnnxDim[] | undefined): string {
  return shape ? `[${shape.join(', ')}]` : '(no shape)';
}

function checkValues(path: string, role: 'input' | 'output', actual: OnnxValueInfo[], expected: ExpectedValue[]): void {
  for (const want of expected) {
    const got = actual.find((value) => value.name === want.name);
    if (!got) {
      const names = actual.map((value) => value.name).join(', ') || 'none';
      throw new EngineError('model-mismatch', `${path}: no ${role} named "${want.name}" (the graph's ${role}s are ${names})`);
    }
    if (got.elemType !== 1 && got.elemType !== 7) {
      throw new EngineError('model-mismatch', `${path}: ${role} "${want.name}" has ONNX element type ${got.elemType}; the engine feeds float32 (1) or int64 (7)`);
    }
    if (!got.shape) continue; // shape-less values are checked by ORT at run time
    if (got.shape.length !== want.rank) {
      throw new EngineError(
        'model-mismatch',
        `${path}: ${role} "${want.name}" has rank ${got.shape.length} ${formatShape(got.shape)}; expected rank ${want.rank}`,
      );
    }
    for (const [index, size] of Object.entries(want.fixed ?? {})) {
      const dim = got.shape[Number(index)];
      if (typeof dim === 'number' && dim !== size) {
        throw new EngineError(
          'model-mismatch',
          `${path}: ${role} "${want.name}" has size ${dim} in dimension ${index} ${formatShape(got.shape)}; the package configs say ${size}`,
        );
      }
    }
  }
}

export function checkGraphIo(graph: GraphFile, expected: { inputs: ExpectedValue[]; outputs: ExpectedValue[] }): void {
  checkValues(graph.path, 'input', graph.summary.inputs, expected.inputs);
  checkValues(graph.path, 'output', graph.summary.outputs, expected.outputs);
}

async function readVaeEncoderAsync(reader: VerifyingReader, vae: VaeConfig): Promise<ModelPackage['vaeEncoder']> {
  const bytes = await reader.optionalAsync('vae_encoder/model.onnx');
  if (!bytes) return undefined;
  const graph = await reader.graphFromBytesAsync('vae_encoder/model.onnx', bytes);
  checkGraphIo(graph, { inputs: [{ name: 'sample', rank: 4, fixed: { 1: vae.in_channels } }], outputs: [] });
  // Optimum exports either the posterior's parameters (mean ‖ logvar, 2C channels) or a latent (C).
  const output = graph.summary.outputs[0];
  const channels = output?.shape?.[1];
  if (!output || output.shape?.length !== 4) {
    throw new EngineError('model-mismatch', `vae_encoder/model.onnx: first output should be a rank-4 latent; got ${formatShape(output?.shape)}`);
  }
  if (output.name === 'latent_parameters' || channels === 2 * vae.latent_channels) return { graph, output: 'mean-and-logvar' };
  if (channels === vae.latent_channels || output.name === 'latent_sample') return { graph, output: 'latent' };
  throw new EngineError(
    'model-mismatch',
    `vae_encoder/model.onnx: output "${output.name}" has ${channels} channels; expected ${vae.latent_channels} (latent) or ${2 * vae.latent_channels} (mean and logvar)`,
  );
}

const textEncoderNames: TextEncoderName[] = ['text_encoder', 'text_encoder_2', 'text_encoder_3'];

function tokenizerFolderOf(name: TextEncoderName): string {
  return name.replace('text_encoder', 'tokenizer');
}

function isListed(modelIndex: Record<string, unknown>, key: string): boolean {
  const entry = modelIndex[key];
  return Array.isArray(entry) && entry.length === 2 && entry[0] !== null && entry[1] !== null;
}

async function readTextEncodersAsync(reader: VerifyingReader, modelIndex: Record<string, unknown>): Promise<TextEncoderComponent[]> {
  const encoders: TextEncoderComponent[] = [];
  for (const name of textEncoderNames) {
    if (!isListed(modelIndex, name)) continue;
    const why = `model_index.json lists ${name}`;
    const config = await reader.jsonAsync(`${name}/config.json`);
    const graph = await reader.graphAsync(`${name}/model.onnx`, why);
    const tokenizer = tokenizerFolderOf(name);
    const tokenizerJson = await reader.jsonAsync(`${tokenizer}/tokenizer.json`);
    const tokenizerConfig = await reader.jsonAsync(`${tokenizer}/tokenizer_config.json`);
    const kind = name === 'text_encoder_3' ? 't5' : 'clip';
    checkGraphIo(graph, { inputs: [{ name: 'input_ids', rank: 2 }], outputs: [{ name: 'last_hidden_state', rank: 3 }] });
    let lastHiddenStateIndex: number | undefined;
    if (kind === 'clip') {
      checkGraphIo(graph, { inputs: [], outputs: [{ name: 'text_embeds', rank: 2 }] });
      const indices = graph.summary.outputs
        .map((output) => /^hidden_states\.(\d+)$/.exec(output.name)?.[1])
        .filter((index): index is string => index !== undefined)
        .map(Number);
      if (indices.length < 2) {
        throw new EngineError(
          'model-mismatch',
          `${name}/model.onnx: SD3 takes the penultimate hidden state, but the graph has ${indices.length} "hidden_states.N" outputs; export with output_hidden_states=True`,
        );
      }
      lastHiddenStateIndex = Math.max(...indices);
      checkGraphIo(graph, { inputs: [], outputs: [{ name: `hidden_states.${lastHiddenStateIndex - 1}`, rank: 3 }] });
    }
    encoders.push({ name, kind, graph, config, tokenizerJson, tokenizerConfig, lastHiddenStateIndex });
  }
  return encoders;
}
