/**
 * Builds ONNX graphs in TypeScript: values, nodes, constants and initializers, with readable
 * unique names (`scope('transformer_blocks.3', …)` prefixes everything built inside). Each value
 * knows its element type, so precision policies (fp16 compute with fp32 islands) can insert casts.
 * The result is a plain description serialised by serialize-graph.ts; nothing here runs a model.
 */
import { DataType, dataTypeName, floatToHalf } from './data-types.js';
import type { InitializerSource } from './initializer-source.js';
import type { AttributeValue, OnnxNode, OnnxValue } from './onnx-model-writer.js';

export interface Value {
  readonly name: string;
  readonly type: DataType;
}

export interface NodeOptions {
  attrs?: Record<string, AttributeValue | undefined>;
  domain?: string;
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Element type of each output; default: the type of the first non-empty input. */
  outputTypes?: DataType[];
}

export interface BuiltGraph {
  name: string;
  nodes: OnnxNode[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  initializers: { name: string; source: InitializerSource }[];
  opsets: { domain: string; version: number }[];
  /** Element type of every node output (for debugging tools that expose intermediates). */
  valueTypes: Record<string, DataType>;
}

export const MS_DOMAIN = 'com.microsoft';
/** Opset of the default domain: LayerNormalization needs 17. */
export const DEFAULT_OPSET = 17;

export class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly inputs: OnnxValue[] = [];
  private readonly outputs: OnnxValue[] = [];
  private readonly initializers: { name: string; source: InitializerSource }[] = [];
  private readonly used = new Set<string>();
  private readonly scopes: string[] = [];
  private readonly constants = new Map<string, Value>();
  private usesMsDomain = false;
  private readonly types = new Map<string, DataType>();

  constructor(readonly name: string) {}

  /** Runs `build` with `name` added to every generated name (e.g. "transformer_blocks.3/attn/MatMul_0"). */
  scope<T>(name: string, build: () => T): T {
    this.scopes.push(name);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  private unique(base: string): string {
    const prefix = this.scopes.length ? `${this.scopes.join('/')}/` : '';
    let name = `${prefix}${base}`;
    for (let n = 1; this.used.has(name); n++) name = `${prefix}${base}_${n}`;
    this.used.add(name);
    return name;
  }

  input(name: string, type: DataType, shape: (number | string)[]): Value {
    if (this.used.has(name)) throw new Error(`graph ${this.name}: value name ${name} is taken`);
    this.used.add(name);
    this.inputs.push({ name, elemType: type, shape });
    return { name, type };
  }

  /** Declares `value` as the graph output `name` (through an Identity when it has another name). */
  output(value: Value, name: string, shape: (number | string)[]): void {
    let out = value;
    if (value.name !== name) {
      if (this.used.has(name)) throw new Error(`graph ${this.name}: output name ${name} is taken`);
      this.used.add(name);
      this.nodes.push({ opType: 'Identity', name: this.unique(`${name}_Identity`), inputs: [value.name], outputs: [name] });
      out = { name, type: value.type };
    }
    this.outputs.push({ name: out.name, elemType: out.type, shape });
  }

  /** A node with any number of outputs. Empty inputs ('') stand for omitted optional inputs. */
  node(opType: string, inputs: (Value | '')[], options: NodeOptions = {}): Value[] {
    const count = options.outputs ?? 1;
    const firstType = inputs.find((v): v is Value => v !== '')?.type;
    const types = options.outputTypes ?? Array.from({ length: count }, () => firstType);
    if (types.length !== count || types.some((t) => t === undefined)) {
      throw new Error(`${opType}: give outputTypes (no typed input to take the type from)`);
    }
    const nodeName = this.unique(opType);
    const outputs = types.map((type, i) => ({ name: count === 1 ? nodeName : `${nodeName}:${i}`, type: type! }));
    for (const output of outputs) {
      this.used.add(output.name);
      this.types.set(output.name, output.type);
    }
    const attrs: Record<string, AttributeValue> = {};
    for (const [key, value] of Object.entries(options.attrs ?? {})) if (value !== undefined) attrs[key] = value;
    if (options.domain === MS_DOMAIN) this.usesMsDomain = true;
    this.nodes.push({
      opType,
      domain: options.domain,
      name: nodeName,
      inputs: inputs.map((v) => (v === '' ? '' : v.name)),
      outputs: outputs.map((v) => v.name),
      attributes: attrs,
    });
    return outputs;
  }

  /** A single-output node. */
  op(opType: string, inputs: (Value | '')[], attrs?: NodeOptions['attrs'], outputType?: DataType): Value {
    return this.node(opType, inputs, { attrs, outputTypes: outputType === undefined ? undefined : [outputType] })[0];
  }

  /** A single-output com.microsoft contrib node. */
  msOp(opType: string, inputs: (Value | '')[], attrs?: NodeOptions['attrs'], outputType?: DataType): Value {
    return this.node(opType, inputs, { attrs, domain: MS_DOMAIN, outputTypes: outputType === undefined ? undefined : [outputType] })[0];
  }

  /** Registers an initializer (weights); its bytes are produced when the graph is written. */
  initializer(name: string, source: InitializerSource): Value {
    if (this.used.has(name)) throw new Error(`graph ${this.name}: initializer name ${name} is taken`);
    this.used.add(name);
    return this.addInitializer(name, source);
  }

  private addInitializer(name: string, source: InitializerSource): Value {
    this.initializers.push({ name, source });
    return { name, type: source.dataType };
  }

  /** A 1-D int64 constant (shapes, axes, starts/ends), shared between uses. */
  int64(values: number | readonly number[]): Value {
    const list = typeof values === 'number' ? [values] : [...values];
    const dims = typeof values === 'number' ? [] : [list.length];
    const key = `i64:${dims.length}:${list.join(',')}`;
    const cached = this.constants.get(key);
    if (cached) return cached;
    const bytes = new Uint8Array(list.length * 8);
    const view = new DataView(bytes.buffer);
    list.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    const value = this.addInitializer(
      this.unique(`const_i64_${list.length <= 4 ? list.join('_').replace(/-/g, 'm') : 'n' + list.length}`),
      {
        kind: 'bytes',
        dataType: DataType.INT64,
        dims,
        bytes,
      },
    );
    this.constants.set(key, value);
    return value;
  }

  /** A float constant of `type` (float32 or float16): a scalar, or a tensor with `dims`. */
  float(values: number | Float32Array | readonly number[], type: DataType = DataType.FLOAT, dims?: number[]): Value {
    const list = typeof values === 'number' ? [values] : Array.from(values);
    const shape = dims ?? (typeof values === 'number' ? [] : [list.length]);
    const key = list.length <= 16 ? `f:${type}:${shape.join('x')}:${list.join(',')}` : undefined;
    const cached = key ? this.constants.get(key) : undefined;
    if (cached) return cached;
    if (type !== DataType.FLOAT && type !== DataType.FLOAT16) throw new Error(`float constant of ${dataTypeName(type)}`);
    const width = type === DataType.FLOAT ? 4 : 2;
    const bytes = new Uint8Array(list.length * width);
    const view = new DataView(bytes.buffer);
    list.forEach((v, i) => (width === 4 ? view.setFloat32(i * 4, v, true) : view.setUint16(i * 2, floatToHalf(v), true)));
    const value = this.addInitializer(this.unique(`const_f${width * 8}`), { kind: 'bytes', dataType: type, dims: shape, bytes });
    if (key) this.constants.set(key, value);
    return value;
  }

  /** Casts `value` to `type` (no node when it already has it). */
  cast(value: Value, type: DataType): Value {
    if (value.type === type) return value;
    return this.op('Cast', [value], { to: type }, type);
  }

  /**
   * A copy of `graph` whose every node output is also a graph output (rank unknown), in node
   * order: for finding the first node where two backends disagree.
   */
  static exposeIntermediates(graph: BuiltGraph): BuiltGraph {
    const typeOf = (name: string) => graph.valueTypes[name];
    const declared = new Set(graph.outputs.map((o) => o.name));
    const extra: OnnxValue[] = [];
    for (const node of graph.nodes) {
      for (const name of node.outputs) {
        const type = typeOf(name);
        if (name && !declared.has(name) && type !== undefined) extra.push({ name, elemType: type, shape: undefined });
      }
    }
    return { ...graph, outputs: [...graph.outputs, ...extra] };
  }

  build(): BuiltGraph {
    if (this.outputs.length === 0) throw new Error(`graph ${this.name} has no outputs`);
    const opsets = [{ domain: '', version: DEFAULT_OPSET }];
    if (this.usesMsDomain) opsets.push({ domain: MS_DOMAIN, version: 1 });
    return {
      name: this.name,
      nodes: [...this.nodes],
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      initializers: [...this.initializers],
      opsets,
      valueTypes: Object.fromEntries(this.types),
    };
  }
}
