/**
 * Reads safetensors checkpoints as diffusers and transformers save them: one file, or shards named
 * by `<stem>.safetensors.index.json` ("weight_map": tensor → shard file). Format
 * (https://github.com/huggingface/safetensors#format): an 8-byte little-endian header length N,
 * N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`,
 * then the tensor bytes; offsets are relative to the end of the header.
 *
 * Only headers are read here; tensor bytes are read later, one tensor at a time, through the
 * ByteSource. Every inconsistency (truncated shard, index naming a missing file or tensor, byte
 * counts that disagree with the shape) is an EngineError naming the file and the tensor.
 */
import type { ByteSource } from './byte-source.js';
import { EngineError } from './engine-error.js';
import { bytesPerElement, DataType, dataTypeName, SAFETENSORS_DTYPES, toFloat32 } from './onnx/data-types.js';

export interface SafetensorsTensor {
  name: string;
  dataType: DataType;
  shape: number[];
  file: ByteSource;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  length: number;
}

/** The tensors of one component (all shards merged), by name. */
export class WeightSet {
  constructor(
    /** e.g. "transformer/diffusion_pytorch_model*.safetensors", for messages. */
    readonly description: string,
    readonly tensors: ReadonlyMap<string, SafetensorsTensor>,
  ) {}

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The tensor, checked against the shape the config implies; `why` says where that shape comes from. */
  get(name: string, shape?: readonly number[], why = 'config.json implies it'): SafetensorsTensor {
    const tensor = this.tensors.get(name);
    if (!tensor) throw new EngineError('model-mismatch', `${this.description}: tensor "${name}" is missing (${why})`);
    if (shape && (shape.length !== tensor.shape.length || shape.some((size, i) => size !== tensor.shape[i]))) {
      throw new EngineError(
        'model-mismatch',
        `${tensor.file.name}: tensor "${name}" has shape [${tensor.shape.join(', ')}]; ${why}: [${shape.join(', ')}]`,
      );
    }
    return tensor;
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Parses one safetensors file's header. */
export async function readSafetensorsHeaderAsync(file: ByteSource): Promise<Map<string, SafetensorsTensor>> {
  if (file.size < 8)
    throw new EngineError('model-corrupt', `${file.name} has ${file.size} bytes; a safetensors file starts with an 8-byte header length`);
  const lengthBytes = await file.readAsync(0, 8);
  const headerLength = Number(new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLength <= 1 || headerLength > MAX_HEADER_BYTES || 8 + headerLength > file.size) {
    throw new EngineError(
      'model-corrupt',
      `${file.name} is not a safetensors file (header length ${headerLength}, file size ${file.size})`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(await file.readAsync(8, headerLength))) as Record<string, unknown>;
  } catch (error) {
    throw new EngineError('model-corrupt', `${file.name}: the safetensors header is not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dataType = typeof dtype === 'string' ? SAFETENSORS_DTYPES[dtype] : undefined;
    if (dataType === undefined) {
      throw new EngineError(
        'model-corrupt',
        `${file.name}: tensor "${name}" has dtype ${JSON.stringify(dtype)}; Flowfill reads ${Object.keys(SAFETENSORS_DTYPES).join(', ')}`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new EngineError('model-corrupt', `${file.name}: tensor "${name}" has shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[1] < offsets[0]
    ) {
      throw new EngineError('model-corrupt', `${file.name}: tensor "${name}" has data_offsets ${JSON.stringify(offsets)}`);
    }
    const length = offsets[1] - offsets[0];
    const expected = (shape as number[]).reduce((a, b) => a * b, 1) * bytesPerElement(dataType);
    if (length !== expected) {
      throw new EngineError(
        'model-corrupt',
        `${file.name}: tensor "${name}" holds ${length} bytes; ${dtype} [${shape.join(', ')}] needs ${expected}`,
      );
    }
    const offset = dataStart + offsets[0];
    if (offset + length > file.size) {
      throw new EngineError(
        'model-corrupt',
        `${file.name} is truncated: tensor "${name}" ends at byte ${offset + length} but the file has ${file.size} bytes`,
      );
    }
    tensors.set(name, { name, dataType, shape: shape as number[], file, offset, length });
  }
  return tensors;
}

/**
 * Opens a component's weights: `<folder>/<stem>.safetensors.index.json` with its shards, or the
 * single `<folder>/<stem>.safetensors`. `open` returns undefined for a file that does not exist.
 */
export async function openWeightSetAsync(
  open: (path: string) => Promise<ByteSource | undefined>,
  folder: string,
  stem: string,
): Promise<WeightSet> {
  const indexPath = `${folder}/${stem}.safetensors.index.json`;
  const singlePath = `${folder}/${stem}.safetensors`;
  const description = `${folder}/${stem}*.safetensors`;
  const index = await open(indexPath);
  if (!index) {
    const single = await open(singlePath);
    if (!single) throw new EngineError('model-missing-file', `${singlePath} is missing (and there is no ${indexPath} naming shards)`);
    return new WeightSet(description, await readSafetensorsHeaderAsync(single));
  }
  let weightMap: Record<string, unknown>;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(await index.readAsync(0, index.size))) as { weight_map?: unknown };
    if (typeof parsed.weight_map !== 'object' || parsed.weight_map === null) throw new Error('it has no "weight_map" object');
    weightMap = parsed.weight_map as Record<string, unknown>;
  } catch (error) {
    throw new EngineError('model-corrupt', `${indexPath} is not a safetensors index: ${(error as Error).message}`, { cause: error });
  }
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
      throw new EngineError(
        'model-corrupt',
        `${indexPath}: tensor "${tensor}" maps to ${JSON.stringify(shard)}; expected a file name in ${folder}/`,
      );
    }
    byShard.set(shard, [...(byShard.get(shard) ?? []), tensor]);
  }
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [shard, names] of byShard) {
    const file = await open(`${folder}/${shard}`);
    if (!file) {
      throw new EngineError(
        'model-missing-file',
        `${folder}/${shard} is missing; ${indexPath} lists it for ${names.length} tensors (e.g. "${names[0]}")`,
      );
    }
    const header = await readSafetensorsHeaderAsync(file);
    for (const name of names) {
      const tensor = header.get(name);
      if (!tensor)
        throw new EngineError('model-corrupt', `${indexPath} puts tensor "${name}" in ${shard}, but ${folder}/${shard} does not hold it`);
      tensors.set(name, tensor);
    }
  }
  return new WeightSet(description, tensors);
}

/** A tensor's values as float32, whatever its stored dtype (fp32, fp16, bf16, fp64). */
export async function readFloat32Async(tensor: SafetensorsTensor): Promise<Float32Array> {
  const bytes = await tensor.file.readAsync(tensor.offset, tensor.length);
  try {
    return toFloat32(bytes, tensor.dataType);
  } catch (error) {
    throw new EngineError(
      'model-mismatch',
      `${tensor.file.name}: tensor "${tensor.name}" is ${dataTypeName(tensor.dataType)}; ${(error as Error).message}`,
      { cause: error },
    );
  }
}
