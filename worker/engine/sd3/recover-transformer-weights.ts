/**
 * Recovers the diffusers state dict of an SD3 transformer (SD3Transformer2DModel's names and
 * PyTorch layouts) from a graph torch.onnx exported, so the graph can be rebuilt by
 * ./graphs/sd3-transformer.ts with the same weights.
 *
 * torch.onnx keeps the parameter names of most initializers, behind the wrapper's prefix
 * ("dit.transformer_blocks.0.attn.to_q.bias"), and shares bit-identical ones through Identity
 * nodes; it stores Linear weights transposed under generated names ("onnx::MatMul_2343"). Weights
 * stored as int8 and dequantised in the graph (Cast → Mul(scale), as model/flowfill/quantize.py
 * writes, or a symmetric DequantizeLinear) keep their int8 bytes. Names come from the graph's
 * structure, in this order:
 *
 * 1. A tensor's own name, once the wrapper prefix is dropped, when it is a key of the state dict
 *    with the key's shape (biases, norm weights, Gemm weights stored as [out, in]).
 * 2. A weight consumed by MatMul, Gemm or Conv takes the name of the bias it is added to
 *    (MatMul → Add(`X.bias`), Gemm's or Conv's bias input `X.bias` → `X.weight`).
 * 3. Otherwise the consuming node's module scope ("/dit/transformer_blocks.0/attn/to_q/MatMul" →
 *    "transformer_blocks.0.attn.to_q.weight").
 *
 * `pos_embed.pos_embed`, a buffer diffusers computes from the config, may have been replaced by
 * its formula inside the graph; it is then computed the way diffusers computes it (./pos-embed.ts).
 * Every state-dict key must be found with its shape, and every weight a MatMul, Gemm or Conv reads
 * must get a name, or an EngineError lists what could not be mapped.
 */
import { bytesSource, type ByteSource } from '../byte-source.js';
import { EngineError } from '../engine-error.js';
import { bytesPerElement, DataType, dataTypeName, fromFloat32, toFloat32 } from '../onnx/data-types.js';
import type { OnnxGraphNode, OnnxModelContents, OnnxTensor } from '../onnx/onnx-model-reader.js';
import { WeightSet, type SafetensorsTensor } from '../safetensors.js';
import { sd3TransformerStateDictShapes, type Sd3TransformerConfig } from './graphs/sd3-transformer.js';
import { get2dSinCosPosEmbed } from './pos-embed.js';

/** How each state-dict key was found. */
export type RecoveredFrom = 'name' | 'bias' | 'scope' | 'shared bias' | 'formula';

export interface RecoveredTransformerWeights {
  /** The state dict; int8 Linear weights as INT8 `X.weight` [out, in] plus `X.weight_scale` [out] float32. */
  weights: WeightSet;
  /** State-dict key → how it was found. */
  from: Map<string, RecoveredFrom>;
  /** Keys whose weights stayed int8. */
  int8: string[];
}

export interface RecoverOptions {
  /** Names the graph in messages, e.g. "models/default/transformer/model.onnx". */
  path: string;
  /** The external-data file a graph initializer names by `location` (next to the graph). */
  openExternalAsync?: (location: string) => Promise<ByteSource>;
}

/** A weight as the graph holds it: a float initializer, or int8 values with scales along `axis` of q. */
type WeightSource =
  | { kind: 'float'; tensor: OnnxTensor }
  | { kind: 'int8'; q: OnnxTensor; scale: OnnxTensor; axis: number | 'tensor' }
  | { kind: 'dequantize'; q: OnnxTensor; scale: OnnxTensor; zero?: OnnxTensor; axis: number };

/** A state-dict entry: where its values come from and how they are laid out relative to the key's shape. */
interface Recovered {
  source: WeightSource;
  /** The graph holds the transpose of the key's 2-D shape. */
  transposed: boolean;
  from: RecoveredFrom;
  /** The initializer(s) it came from, for messages. */
  origin: string;
}

/** The buffer diffusers computes from the config; an export may compute it in the graph instead of storing it. */
const POS_EMBED_KEY = 'pos_embed.pos_embed';

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const count = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Reads the SD3 transformer's state dict out of `contents` (an ONNX model exported from PyTorch, parsed). */
export async function recoverSd3TransformerWeightsAsync(
  contents: OnnxModelContents,
  config: Sd3TransformerConfig,
  options: RecoverOptions,
): Promise<RecoveredTransformerWeights> {
  const { path } = options;
  const expected = sd3TransformerStateDictShapes(config);
  const graph = new GraphIndex(contents.nodes, contents.initializers);
  const found = new Map<string, Recovered>();
  const assign = (key: string, recovered: Recovered) => {
    const previous = found.get(key);
    if (previous && previous.origin !== recovered.origin) {
      throw new EngineError(
        'model-mismatch',
        `${path}: two tensors map to "${key}" (${previous.origin}, by ${previous.from}; ${recovered.origin}, by ${recovered.from}); the graph is not a plain export of SD3Transformer2DModel`,
      );
    }
    if (!previous) found.set(key, recovered);
  };

  // 2 and 3 first: weights read by MatMul, Gemm and Conv, whose layout depends on the consumer.
  const weightInitializers = new Set<string>();
  const sharedBiases = new Map<string, OnnxTensor>();
  const unnamed: string[] = [];
  for (const node of contents.nodes) {
    const use = weightUse(node);
    if (!use) continue;
    const source = graph.weightSource(node.inputs[use.input]);
    if (!source) continue;
    for (const name of sourceNames(source)) weightInitializers.add(name);
    const origin = sourceNames(source).join(' + ');
    const graphShape = sourceShape(source);
    const shape = use.transposed ? [...graphShape].reverse() : graphShape;
    // A Conv2d with kernel = stride may be run as a MatMul over flattened patches ([C·kh·kw, out],
    // as the engine's own graphs do): the same values as the [out, C, kh, kw] kernel.
    const fits = (key: string | undefined) =>
      key !== undefined && (sameShape(expected.get(key) ?? [], shape) || (use.transposed && isFlattenedKernel(expected.get(key), shape)));
    const ownName = keyForName(graph.initializerName(node.inputs[use.input]), expected) ?? keyForName(parameterName(source), expected);
    const biasKey = keyForName(use.biasOf(graph), expected);
    const fromBias = biasKey?.endsWith('.bias') ? `${biasKey.slice(0, -'.bias'.length)}.weight` : undefined;
    const fromScope = keyForScope(node.name, 'weight', expected, shape);
    const [key, how] = (
      [
        [ownName, 'name'],
        [fromBias, 'bias'],
        [fromScope, 'scope'],
      ] as const
    ).find(([candidate]) => fits(candidate)) ?? [undefined, undefined];
    if (key === undefined || how === undefined) {
      unnamed.push(`${origin} [${graphShape.join(', ')}] (read by ${node.opType} "${node.name}")`);
      continue;
    }
    assign(key, { source, transposed: use.transposed && shape.length === 2, from: how, origin });
    // An exporter may let two layers share one bias tensor when they are bit-identical (two biases
    // that always receive the same gradient stay equal): the reader of a weight owns its bias too.
    const biasName = use.biasOf(graph);
    const bias = biasName !== undefined ? graph.initializer(biasName) : undefined;
    const ownBias = key.endsWith('.weight') ? `${key.slice(0, -'.weight'.length)}.bias` : undefined;
    if (
      bias &&
      ownBias &&
      keyForName(biasName, expected) !== ownBias &&
      expected.has(ownBias) &&
      sameShape(expected.get(ownBias)!, bias.dims)
    ) {
      sharedBiases.set(ownBias, bias);
    }
  }

  // 1: every other initializer that keeps its parameter name (through Identity aliases too).
  for (const [name, tensor] of graph.namedTensors()) {
    if (weightInitializers.has(tensor.name) || !FLOAT_TYPES.has(tensor.dataType)) continue;
    const key = keyForName(name, expected);
    if (key === undefined) continue;
    // The same values in another shape that keeps the last axis (the engine stores the pos-embed
    // table as [P, P, D], diffusers' buffer is [1, P·P, D]).
    if (!sameShape(expected.get(key)!, tensor.dims) && !isReshapeKeepingLastAxis(expected.get(key)!, tensor.dims)) {
      throw new EngineError(
        'model-mismatch',
        `${path}: "${name}" has shape [${tensor.dims.join(', ')}]; transformer/config.json implies "${key}" [${expected.get(key)!.join(', ')}]`,
      );
    }
    assign(key, { source: { kind: 'float', tensor }, transposed: false, from: 'name', origin: tensor.name });
  }

  for (const [key, tensor] of sharedBiases) {
    if (!found.has(key)) assign(key, { source: { kind: 'float', tensor }, transposed: false, from: 'shared bias', origin: tensor.name });
  }

  if (unnamed.length > 0) {
    throw new EngineError(
      'model-mismatch',
      `${path}: ${unnamed.length} weight(s) could not be given a diffusers SD3Transformer2DModel name (no named bias, no module scope matching a key of that shape): ${unnamed.slice(0, 6).join('; ')}${unnamed.length > 6 ? '; …' : ''}`,
    );
  }
  const missing = [...expected.keys()].filter((key) => !found.has(key) && key !== POS_EMBED_KEY);
  if (missing.length > 0) {
    throw new EngineError(
      'model-mismatch',
      `${path}: ${missing.length} of the ${expected.size} tensors transformer/config.json implies were not found in the graph, e.g. ${missing
        .slice(0, 6)
        .map((key) => `"${key}" [${expected.get(key)!.join(', ')}]`)
        .join(', ')}; is the config the one this graph was exported with?`,
    );
  }
  return await assembleAsync(found, expected, config, options);
}

/** How a node reads a weight: which input, whether the graph holds it as [in, out], and the key of its bias. */
interface WeightUse {
  input: number;
  transposed: boolean;
  biasOf: (graph: GraphIndex) => string | undefined;
}

function weightUse(node: OnnxGraphNode): WeightUse | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  if (node.opType === 'MatMul' && node.inputs.length === 2) {
    return { input: 1, transposed: true, biasOf: (graph) => graph.addedBias(node.outputs[0]) };
  }
  if (node.opType === 'Gemm') {
    const transB = node.attributes.transB?.i ?? 0;
    return { input: 1, transposed: transB === 0, biasOf: (graph) => (node.inputs[2] ? graph.initializerName(node.inputs[2]) : undefined) };
  }
  if (node.opType === 'Conv') {
    return { input: 1, transposed: false, biasOf: (graph) => (node.inputs[2] ? graph.initializerName(node.inputs[2]) : undefined) };
  }
  return undefined;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** [out, C, kh, kw] read as the 2-D [out, C·kh·kw]. */
function isFlattenedKernel(want: number[] | undefined, shape: number[]): boolean {
  return want !== undefined && want.length === 4 && shape.length === 2 && want[0] === shape[0] && elementCount(want.slice(1)) === shape[1];
}

function isReshapeKeepingLastAxis(want: number[], dims: number[]): boolean {
  return want.length > 0 && dims.length > 0 && want.at(-1) === dims.at(-1) && elementCount(want) === elementCount(dims);
}

/** The state-dict key a tensor name stands for, once a wrapper prefix ("dit.") is dropped; the longest match wins. */
function keyForName(name: string | undefined, expected: Map<string, number[]>): string | undefined {
  if (name === undefined) return undefined;
  if (expected.has(name)) return name;
  let best: string | undefined;
  for (const key of expected.keys()) if (name.endsWith(`.${key}`) && (!best || key.length > best.length)) best = key;
  return best;
}

/** The key named by a node's module scope ("/dit/a.0/b/MatMul" → "a.0.b.<leaf>"), trying ever shorter scopes. */
function keyForScope(nodeName: string, leaf: string, expected: Map<string, number[]>, shape: number[]): string | undefined {
  const scope = nodeName.split('/').filter(Boolean).slice(0, -1);
  for (let start = 0; start < scope.length; start++) {
    const key = [...scope.slice(start), leaf].join('.');
    const want = expected.get(key);
    if (want && sameShape(want, shape)) return key;
  }
  return undefined;
}

/** The parameter an int8 weight was quantised from, by quantize.py's naming ("<parameter>_int8"). */
function parameterName(source: WeightSource): string | undefined {
  if (source.kind === 'float') return source.tensor.name;
  return source.q.name.endsWith('_int8') ? source.q.name.slice(0, -'_int8'.length) : undefined;
}

function sourceNames(source: WeightSource): string[] {
  return source.kind === 'float' ? [source.tensor.name] : [source.q.name, source.scale.name];
}

function sourceShape(source: WeightSource): number[] {
  return source.kind === 'float' ? source.tensor.dims : source.q.dims;
}

/** Producers, consumers, initializers and Identity aliases of a graph. */
class GraphIndex {
  private readonly initializers = new Map<string, OnnxTensor>();
  private readonly producers = new Map<string, OnnxGraphNode>();
  private readonly consumers = new Map<string, OnnxGraphNode[]>();
  /** Identity output → its input, for Identity nodes over initializers (torch.onnx shares equal parameters so). */
  private readonly aliases = new Map<string, string>();

  constructor(nodes: OnnxGraphNode[], initializers: OnnxTensor[]) {
    for (const tensor of initializers) this.initializers.set(tensor.name, tensor);
    for (const node of nodes) {
      for (const output of node.outputs) this.producers.set(output, node);
      for (const input of node.inputs) if (input) this.consumers.set(input, [...(this.consumers.get(input) ?? []), node]);
      if (node.opType === 'Identity') this.aliases.set(node.outputs[0], node.inputs[0]);
    }
  }

  /** The initializer a value is, through Identity aliases. */
  initializer(value: string): OnnxTensor | undefined {
    for (let name = value, hops = 0; hops < 16; hops++) {
      const tensor = this.initializers.get(name);
      if (tensor) return tensor;
      const next = this.aliases.get(name);
      if (next === undefined) return undefined;
      name = next;
    }
    return undefined;
  }

  /** The value's own name when it is an initializer or an alias of one (an alias carries its parameter's name). */
  initializerName(value: string): string | undefined {
    return this.initializer(value) ? value : undefined;
  }

  /** Every initializer under each name it is known by (its own and its Identity aliases'). */
  *namedTensors(): Generator<[string, OnnxTensor]> {
    for (const tensor of this.initializers.values()) yield [tensor.name, tensor];
    for (const alias of this.aliases.keys()) {
      const tensor = this.initializer(alias);
      if (tensor) yield [alias, tensor];
    }
  }

  /** The bias added to a MatMul's output: the one consumer is an Add whose other input is an initializer. */
  addedBias(output: string): string | undefined {
    const users = this.consumers.get(output) ?? [];
    if (users.length !== 1 || users[0].opType !== 'Add') return undefined;
    const other = users[0].inputs.find((input) => input !== output);
    return other !== undefined && this.initializer(other) ? other : undefined;
  }

  /** The weight behind a node input: an initializer, or int8 initializers dequantised in the graph. */
  weightSource(value: string): WeightSource | undefined {
    const tensor = this.initializer(value);
    if (tensor) return FLOAT_TYPES.has(tensor.dataType) ? { kind: 'float', tensor } : undefined;
    const producer = this.producers.get(value);
    if (!producer) return undefined;
    if (producer.opType === 'Mul') {
      // Cast(q int8 → float) · scale (model/flowfill/quantize.py)
      for (const [castInput, scaleInput] of [producer.inputs, [...producer.inputs].reverse()]) {
        const cast = this.producers.get(castInput);
        const scale = this.initializer(scaleInput);
        const q = cast?.opType === 'Cast' ? this.initializer(cast.inputs[0]) : undefined;
        if (!q || !scale || q.dataType !== DataType.INT8 || cast?.attributes.to?.i !== DataType.FLOAT) continue;
        if (scale.dataType !== DataType.FLOAT) continue;
        const axis = scaleAxis(q.dims, scale.dims);
        if (axis !== undefined) return { kind: 'int8', q, scale, axis };
      }
      return undefined;
    }
    if (producer.opType === 'DequantizeLinear') {
      const q = this.initializer(producer.inputs[0]);
      const scale = this.initializer(producer.inputs[1]);
      const zero = producer.inputs[2] ? this.initializer(producer.inputs[2]) : undefined;
      if (!q || !scale || scale.dataType !== DataType.FLOAT || (producer.inputs[2] && !zero)) return undefined;
      if (q.dataType !== DataType.INT8 && q.dataType !== DataType.UINT8) return undefined;
      const rawAxis = producer.attributes.axis?.i ?? 1;
      return { kind: 'dequantize', q, scale, zero, axis: rawAxis < 0 ? rawAxis + q.dims.length : rawAxis };
    }
    return undefined;
  }
}

/** The axis of `q` a scale tensor broadcasts along ('tensor' for one scale), or undefined for another layout. */
function scaleAxis(qDims: number[], scaleDims: number[]): number | 'tensor' | undefined {
  if (count(scaleDims) === 1) return 'tensor';
  const aligned = [...Array(Math.max(0, qDims.length - scaleDims.length)).fill(1), ...scaleDims];
  if (aligned.length !== qDims.length) return undefined;
  const axes = aligned.flatMap((d, i) => (d === 1 ? [] : [i]));
  return axes.length === 1 && aligned[axes[0]] === qDims[axes[0]] ? axes[0] : undefined;
}

/** Builds the WeightSet: every tensor in PyTorch's layout, laid out in one in-memory buffer. */
async function assembleAsync(
  found: Map<string, Recovered>,
  expected: Map<string, number[]>,
  config: Sd3TransformerConfig,
  options: RecoverOptions,
): Promise<RecoveredTransformerWeights> {
  const reader = new TensorReader(options);
  type Entry = { name: string; dataType: DataType; shape: number[]; bytes: Uint8Array };
  const entries: Entry[] = [];
  const from = new Map<string, RecoveredFrom>();
  const int8: string[] = [];
  for (const [key, shape] of expected) {
    const recovered = found.get(key);
    if (!recovered) {
      // Only the pos-embed buffer gets here (the rest was checked): diffusers' PatchEmbed computes it
      // with base_size = sample_size // patch_size and interpolation_scale 1.
      const dim = config.num_attention_heads * config.attention_head_dim;
      const baseSize = Math.floor(config.sample_size / config.patch_size);
      const table = get2dSinCosPosEmbed(dim, config.pos_embed_max_size, baseSize);
      entries.push({ name: key, dataType: DataType.FLOAT, shape, bytes: fromFloat32(table, DataType.FLOAT) });
      from.set(key, 'formula');
      continue;
    }
    from.set(key, recovered.from);
    const linearInt8 = await linearInt8Async(recovered, shape, reader);
    if (linearInt8 && key.endsWith('.weight') && shape.length === 2) {
      entries.push({ name: key, dataType: DataType.INT8, shape, bytes: linearInt8.q });
      entries.push({
        name: `${key}_scale`,
        dataType: DataType.FLOAT,
        shape: [shape[0]],
        bytes: fromFloat32(linearInt8.scale, DataType.FLOAT),
      });
      int8.push(key);
      continue;
    }
    let values = await floatValuesAsync(recovered.source, reader);
    if (recovered.transposed) values = transpose(values, values.length / shape[0], shape[0]);
    entries.push({ name: key, dataType: DataType.FLOAT, shape, bytes: fromFloat32(values, DataType.FLOAT) });
  }
  const total = entries.reduce((sum, entry) => sum + entry.bytes.byteLength, 0);
  const buffer = new Uint8Array(total);
  const file = bytesSource(`${options.path} (recovered state dict)`, buffer);
  const tensors = new Map<string, SafetensorsTensor>();
  let offset = 0;
  for (const entry of entries) {
    buffer.set(entry.bytes, offset);
    tensors.set(entry.name, {
      name: entry.name,
      dataType: entry.dataType,
      shape: entry.shape,
      file,
      offset,
      length: entry.bytes.byteLength,
    });
    offset += entry.bytes.byteLength;
  }
  return { weights: new WeightSet(`${options.path} (recovered state dict)`, tensors), from, int8 };
}

/** [rows, cols] → [cols, rows] of any element array. */
function transpose<T extends Float32Array | Int8Array>(values: T, rows: number, cols: number): T {
  const out = new (values.constructor as { new (length: number): T })(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

/**
 * An int8 Linear weight in PyTorch's layout ([out, in] int8 + [out] scales), when the graph stores
 * it symmetric with one scale per output channel (or one for the whole tensor); else undefined.
 */
async function linearInt8Async(
  recovered: Recovered,
  shape: number[],
  reader: TensorReader,
): Promise<{ q: Uint8Array; scale: Float32Array } | undefined> {
  const { source } = recovered;
  if (shape.length !== 2 || source.kind === 'float') return undefined;
  if (source.kind === 'dequantize') {
    if (source.q.dataType !== DataType.INT8) return undefined;
    if (source.zero && (await reader.bytesAsync(source.zero)).some((b) => b !== 0)) return undefined;
  }
  const axis = source.axis;
  // The output channel is axis 0 of [out, in], axis 1 of the transposed [in, out].
  const outAxis = recovered.transposed ? 1 : 0;
  if (axis !== 'tensor' && axis !== outAxis && count(source.scale.dims) !== 1) return undefined;
  const out = shape[0];
  const scales = toFloat32(await reader.bytesAsync(source.scale), source.scale.dataType);
  const scale = scales.length === 1 ? new Float32Array(out).fill(scales[0]) : scales;
  if (scale.length !== out) return undefined;
  let q = new Int8Array((await reader.bytesAsync(source.q)).slice().buffer);
  if (recovered.transposed) q = transpose(q, shape[1], shape[0]);
  return { q: new Uint8Array(q.buffer), scale };
}

/** Float32 values of a weight in the graph's layout (int8 dequantised). */
async function floatValuesAsync(source: WeightSource, reader: TensorReader): Promise<Float32Array> {
  if (source.kind === 'float') return toFloat32(await reader.bytesAsync(source.tensor), source.tensor.dataType);
  const qBytes = await reader.bytesAsync(source.q);
  const q = source.q.dataType === DataType.INT8 ? new Int8Array(qBytes.slice().buffer) : qBytes;
  const scales = toFloat32(await reader.bytesAsync(source.scale), source.scale.dataType);
  const zeroBytes = source.kind === 'dequantize' && source.zero ? await reader.bytesAsync(source.zero) : undefined;
  const zeros =
    zeroBytes && source.kind === 'dequantize' && source.zero!.dataType === DataType.INT8
      ? new Int8Array(zeroBytes.slice().buffer)
      : zeroBytes;
  const dims = source.q.dims;
  const axis = source.axis;
  // Index of the scale for element i: along `axis` (stride = product of the dims after it).
  const stride = axis === 'tensor' ? 1 : count(dims.slice(axis + 1));
  const size = axis === 'tensor' ? 1 : dims[axis];
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const channel = scales.length === 1 ? 0 : Math.floor(i / stride) % size;
    const zero = zeros ? zeros[zeros.length === 1 ? 0 : channel] : 0;
    out[i] = (q[i] - zero) * scales[channel];
  }
  return out;
}

/** Initializer bytes, inline or from the external-data files next to the graph. */
class TensorReader {
  private readonly files = new Map<string, Promise<ByteSource>>();
  constructor(private readonly options: RecoverOptions) {}

  async bytesAsync(tensor: OnnxTensor): Promise<Uint8Array> {
    const expectedLength = count(tensor.dims) * bytesPerElement(tensor.dataType);
    if (Number.isNaN(expectedLength)) {
      throw new EngineError(
        'model-mismatch',
        `${this.options.path}: initializer "${tensor.name}" has element type ${dataTypeName(tensor.dataType)}, which a weight cannot have`,
      );
    }
    let bytes: Uint8Array;
    if ('raw' in tensor.data) bytes = tensor.data.raw;
    else {
      const { location, offset, length } = tensor.data;
      const open = this.options.openExternalAsync;
      if (!open)
        throw new EngineError('model-missing-file', `${this.options.path} keeps "${tensor.name}" in ${location}, which was not given`);
      let file = this.files.get(location);
      if (!file) this.files.set(location, (file = open(location)));
      bytes = await (await file).readAsync(offset, length);
    }
    if (bytes.byteLength !== expectedLength) {
      throw new EngineError(
        'model-corrupt',
        `${this.options.path}: initializer "${tensor.name}" holds ${bytes.byteLength} bytes; ${dataTypeName(tensor.dataType)} [${tensor.dims.join(', ')}] needs ${expectedLength}`,
      );
    }
    return bytes;
  }
}
