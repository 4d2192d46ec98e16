/**
 * A small ONNX protobuf writer for tests: builds real graphs (run by onnxruntime) for package
 * parts the golden fixtures lack — a VAE encoder, a CLIP-style text encoder, external data.
 * Field numbers follow onnx/onnx.proto3.
 */

class Writer {
  private readonly bytes: number[] = [];

  varint(value: number): this {
    let v = value;
    while (v >= 0x80) {
      this.bytes.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.bytes.push(v);
    return this;
  }

  key(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  int(field: number, value: number): this {
    // Negative int64 as 10-byte two's complement varint is not needed by these graphs.
    if (value < 0) throw new Error('negative ints not supported here');
    return this.key(field, 0).varint(value);
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const b = new Uint8Array(new Float32Array([value]).buffer);
    this.bytes.push(...b);
    return this;
  }

  raw(field: number, data: Uint8Array): this {
    this.key(field, 2).varint(data.length);
    for (const byte of data) this.bytes.push(byte);
    return this;
  }

  string(field: number, value: string): this {
    return this.raw(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: Writer) => void): this {
    const inner = new Writer();
    build(inner);
    return this.raw(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

export const FLOAT = 1;
export const INT64 = 7;

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number | number[]>;
}

export interface ValueSpec {
  name: string;
  elemType: number;
  shape: (number | string)[];
}

export interface InitializerSpec {
  name: string;
  dims: number[];
  values: Float32Array;
  /** Store the data in this external file (at offset 0) instead of inside the graph. */
  externalLocation?: string;
}

function writeValue(w: Writer, value: ValueSpec): void {
  w.string(1, value.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, value.elemType);
      tensor.message(2, (shape) => {
        for (const dim of value.shape) {
          shape.message(1, (d) => (typeof dim === 'number' ? d.int(1, dim) : d.string(2, dim)));
        }
      });
    }),
  );
}

/** Serialises a model; returns the graph bytes and the external-data files it refers to. */
export function buildOnnxModel(spec: { inputs: ValueSpec[]; outputs: ValueSpec[]; nodes: NodeSpec[]; initializers: InitializerSpec[] }): {
  model: Uint8Array;
  external: Record<string, Uint8Array>;
} {
  const external: Record<string, Uint8Array> = {};
  const model = new Writer()
    .int(1, 8) // ir_version
    .string(2, 'flowfill-test')
    .message(8, (opset) => opset.string(1, '').int(2, 17))
    .message(7, (graph) => {
      spec.nodes.forEach((node, index) =>
        graph.message(1, (n) => {
          for (const input of node.inputs) n.string(1, input);
          for (const output of node.outputs) n.string(2, output);
          n.string(3, `${node.op}_${index}`);
          n.string(4, node.op);
          for (const [name, value] of Object.entries(node.attributes ?? {})) {
            n.message(5, (a) => {
              a.string(1, name);
              if (Array.isArray(value)) {
                for (const v of value) a.int(8, v);
                a.int(20, 7); // INTS
              } else {
                a.int(3, value);
                a.int(20, 2); // INT
              }
            });
          }
        }),
      );
      graph.string(2, 'test-graph');
      for (const init of spec.initializers) {
        graph.message(5, (t) => {
          for (const d of init.dims) t.int(1, d);
          t.int(2, FLOAT);
          t.string(8, init.name);
          const data = new Uint8Array(init.values.buffer, init.values.byteOffset, init.values.byteLength);
          if (init.externalLocation) {
            external[init.externalLocation] = data.slice();
            t.message(13, (e) => e.string(1, 'location').string(2, init.externalLocation!));
            t.message(13, (e) => e.string(1, 'offset').string(2, '0'));
            t.message(13, (e) => e.string(1, 'length').string(2, String(data.length)));
            t.int(14, 1); // data_location = EXTERNAL
          } else {
            t.raw(9, data);
          }
        });
      }
      for (const input of spec.inputs) graph.message(11, (v) => writeValue(v, input));
      for (const output of spec.outputs) graph.message(12, (v) => writeValue(v, output));
    })
    .finish();
  return { model, external };
}

/** Deterministic small weights (no Math.random): a fixed sine pattern scaled by `scale`. */
export function weights(count: number, scale: number, phase = 0): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = Math.fround(scale * Math.sin(0.7 * i + phase));
  return out;
}
