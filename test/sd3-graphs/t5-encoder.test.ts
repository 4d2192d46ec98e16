/**
 * The T5EncoderModel graph built from config.json + safetensors: the relative-position buckets,
 * every precision on WASM against diffusers' golden T5 embeddings (sequence length 256, so every
 * bucket boundary is exercised), the original T5's relu feed-forward against a plain-JavaScript
 * forward pass, and the errors a bad config or checkpoint gets.
 */
import { bytesSource } from '../../worker/engine/byte-source.js';
import { DataType } from '../../worker/engine/onnx/data-types.js';
import { PRECISIONS, type Precision } from '../../worker/engine/onnx/layers.js';
import {
  buildT5EncoderGraph,
  readT5EncoderConfig,
  t5BucketTable,
  t5RelativePositionBucket,
  type T5EncoderConfig,
} from '../../worker/engine/sd3/graphs/t5-encoder.js';
import { openWeightSetAsync, WeightSet } from '../../worker/engine/safetensors.js';
import { f32, pattern, writeSafetensors, type TestTensor } from '../onnx/safetensors-writer.js';
import {
  CASES,
  componentConfig,
  float32Output,
  goldenFloat32,
  goldenIds,
  GRAPH_TEST_TIMEOUT_MS,
  maxAbsDiff,
  openComponentWeightsAsync,
  relativeL2,
  runTextEncoderAsync,
  sliceTokens,
} from './text-encoder-fixture.js';

describe('T5 relative position buckets (bidirectional), as PyTorch computes them in float32', () => {
  // [|relative position|, bucket] for 32 buckets and max distance 128 (T5 v1.1): exact up to 7,
  // then logarithmic. 16, 32 and 64 are where log(n/8)/log(16)·8 is a whole number.
  const edges: [number, number][] = [
    [0, 0],
    [1, 1],
    [7, 7],
    [8, 8],
    [11, 8],
    [12, 9],
    [15, 9],
    [16, 10],
    [22, 10],
    [23, 11],
    [31, 11],
    [32, 12],
    [45, 12],
    [46, 13],
    [63, 13],
    [64, 14],
    [90, 14],
    [91, 15],
    [127, 15],
    [128, 15],
    [5000, 15],
  ];

  it.each(edges)('|r| = %i → bucket %i (keys before the query), +16 for keys after it', (n, bucket) => {
    expect(t5RelativePositionBucket(-n, 32, 128)).toBe(bucket);
    if (n > 0) expect(t5RelativePositionBucket(n, 32, 128)).toBe(bucket + 16);
  });

  it('the table spans −max_distance … +max_distance and the buckets are constant beyond it', () => {
    const table = t5BucketTable(32, 128);
    expect(table).toHaveLength(257);
    expect(table[128]).toBe(0);
    expect(table[0]).toBe(t5RelativePositionBucket(-100_000, 32, 128));
    expect(table[256]).toBe(t5RelativePositionBucket(100_000, 32, 128));
    // Every bucket but 16 (a key after the query at distance 0 cannot exist).
    expect([...new Set(table)].sort((a, b) => a - b)).toEqual([...Array(32).keys()].filter((bucket) => bucket !== 16));
  });
});

describe('T5 encoder graph (WASM) vs diffusers golden T5 embeddings', () => {
  /** Relative L2 bounds per precision (see the CLIP test for why fp16 on WASM is this small). */
  const BOUNDS: Record<Exclude<Precision, 'fp32'>, number> = { fp16: 1e-3, int8: 2e-2, int4: 0.3 };

  it.each(CASES.filter((c) => c.arrays.tokenizer_3_prompt_ids).map((c) => [c.name, c] as const))(
    '%s: last_hidden_state of [negative, prompt] at every precision',
    async (_name, c) => {
      const config = readT5EncoderConfig(componentConfig(c.model, 'text_encoder_3'), 'text_encoder_3/config.json');
      const weights = await openComponentWeightsAsync(c.model, 'text_encoder_3');
      const ids = [goldenIds(c.arrays.tokenizer_3_negative_ids), goldenIds(c.arrays.tokenizer_3_prompt_ids)];
      const S = ids[0].length;
      const clipTokens = c.arrays.prompt_embeds.shape[1] - S;
      const reference = [c.arrays.negative_prompt_embeds, c.arrays.prompt_embeds].flatMap((spec) =>
        Array.from(sliceTokens(goldenFloat32(spec), config.d_model, clipTokens, clipTokens + S, 0, config.d_model)),
      );
      const lines: string[] = [];
      for (const precision of PRECISIONS) {
        const out = await runTextEncoderAsync(buildT5EncoderGraph(config, weights, precision), ids);
        const hidden = float32Output(out, 'last_hidden_state');
        expect(out.last_hidden_state.dims).toEqual([2, S, config.d_model]);
        const error = relativeL2(hidden, reference);
        lines.push(`${precision}: rel. L2 ${error.toExponential(2)}, max |err| ${maxAbsDiff(hidden, reference).toExponential(2)}`);
        if (precision === 'fp32') expect(maxAbsDiff(hidden, reference)).toBeLessThan(1e-4);
        else expect(error).toBeLessThan(BOUNDS[precision]);
        if (precision === 'int8' || precision === 'int4') expect(error).toBeGreaterThan(1e-6);
      }
      console.log(`${c.name} ${c.model}/text_encoder_3 (sequence ${S})\n  ${lines.join('\n  ')}`);
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it('fp16 keeps attention and the wo projection in float32; int4 quantises every large matrix', async () => {
    const config = readT5EncoderConfig(componentConfig('sd35m_style', 'text_encoder_3'), 'text_encoder_3/config.json');
    const weights = await openComponentWeightsAsync('sd35m_style', 'text_encoder_3');
    const toFloat = `Cast to ${DataType.FLOAT}`;
    for (const attention of ['fused', 'unfused'] as const) {
      const half = buildT5EncoderGraph(config, weights, 'fp16', { attention });
      const typeOf = (name: string) => half.initializers.find((i) => i.name === name)?.source.dataType;
      expect(typeOf('encoder.block.1.layer.1.DenseReluDense.wo.weight')).toBe(DataType.FLOAT);
      expect(typeOf('encoder.block.1.layer.1.DenseReluDense.wi_0.weight')).toBe(DataType.FLOAT16);
      expect(typeOf('encoder.block.1.layer.0.SelfAttention.q.weight')).toBe(DataType.FLOAT16);
      expect(typeOf('shared.weight')).toBe(DataType.FLOAT16);
      // q, k and v enter attention as float32 (a Cast to float), and so does the float32 position bias.
      const producers = new Map(half.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
      const source = (input: string) => {
        const producer = producers.get(input)!;
        return producer.opType === 'Cast' ? `Cast to ${producer.attributes?.to}` : producer.opType;
      };
      if (attention === 'fused') {
        const kernels = half.nodes.filter((n) => n.opType === 'MultiHeadAttention');
        expect(kernels).toHaveLength(config.num_layers);
        for (const node of kernels) expect(node.inputs.filter((i) => i !== '').map(source)).toEqual([toFloat, toFloat, toFloat, 'Expand']);
      } else {
        expect(half.nodes.filter((n) => n.opType === 'MultiHeadAttention')).toHaveLength(0);
        expect(half.nodes.filter((n) => n.opType === 'Softmax')).toHaveLength(config.num_layers);
        const heads = half.nodes.filter(
          (n) => n.opType === 'Reshape' && n.name.includes('/Reshape') && producers.get(n.inputs[0])?.opType === 'Cast',
        );
        expect(heads.map((n) => source(n.inputs[0]))).toEqual(Array(3 * config.num_layers).fill(toFloat));
      }
    }
    const int4 = buildT5EncoderGraph(config, weights, 'int4');
    const quantised = int4.nodes.filter((n) => n.opType === 'MatMulNBits').length;
    expect(quantised).toBe(config.num_layers * 7); // q, k, v, o, wi_0, wi_1, wo
    // The only MatMuls left are attention's QKᵀ and PV, in float32.
    expect(int4.nodes.filter((n) => n.opType === 'MatMul')).toHaveLength(2 * config.num_layers);
  });
});

/** T5 with relu feed-forward (the original T5) in float64, for a synthetic checkpoint. */
function referenceT5(config: T5EncoderConfig, w: Record<string, Float32Array>, ids: number[]): Float64Array {
  const { d_model: D, d_ff: F, num_heads: heads, d_kv: dk } = config;
  const inner = heads * dk;
  const S = ids.length;
  const rms = (h: Float64Array, weight: Float32Array) => {
    const out = new Float64Array(h.length);
    for (let s = 0; s < S; s++) {
      let ms = 0;
      for (let d = 0; d < D; d++) ms += h[s * D + d] ** 2;
      const inv = 1 / Math.sqrt(ms / D + config.layer_norm_epsilon);
      for (let d = 0; d < D; d++) out[s * D + d] = h[s * D + d] * inv * weight[d];
    }
    return out;
  };
  const matmul = (x: Float64Array, weight: Float32Array, k: number, n: number) => {
    const out = new Float64Array(S * n);
    for (let s = 0; s < S; s++) for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) out[s * n + j] += x[s * k + i] * weight[j * k + i];
    return out;
  };
  const h = new Float64Array(S * D);
  ids.forEach((id, s) => h.set(w['shared.weight'].subarray(id * D, (id + 1) * D), s * D));
  const relBias = w['encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'];
  for (let layer = 0; layer < config.num_layers; layer++) {
    const p = `encoder.block.${layer}.layer`;
    const x = rms(h, w[`${p}.0.layer_norm.weight`]);
    const [q, k, v] = ['q', 'k', 'v'].map((m) => matmul(x, w[`${p}.0.SelfAttention.${m}.weight`], D, inner));
    const attended = new Float64Array(S * inner);
    for (let head = 0; head < heads; head++) {
      for (let i = 0; i < S; i++) {
        const scores = Array.from({ length: S }, (_, j) => {
          let dot = 0;
          for (let d = 0; d < dk; d++) dot += q[i * inner + head * dk + d] * k[j * inner + head * dk + d];
          const bucket = t5RelativePositionBucket(j - i, config.relative_attention_num_buckets, config.relative_attention_max_distance);
          return dot + relBias[bucket * heads + head];
        });
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, e) => a + e, 0);
        for (let d = 0; d < dk; d++)
          attended[i * inner + head * dk + d] = exps.reduce((a, e, j) => a + (e / total) * v[j * inner + head * dk + d], 0);
      }
    }
    const o = matmul(attended, w[`${p}.0.SelfAttention.o.weight`], inner, D);
    for (let i = 0; i < h.length; i++) h[i] += o[i];
    const y = rms(h, w[`${p}.1.layer_norm.weight`]);
    const up = matmul(y, w[`${p}.1.DenseReluDense.wi.weight`], D, F).map((value) => Math.max(0, value));
    const down = matmul(up, w[`${p}.1.DenseReluDense.wo.weight`], F, D);
    for (let i = 0; i < h.length; i++) h[i] += down[i];
  }
  return rms(h, w['encoder.final_layer_norm.weight']);
}

describe('T5 encoder graph: relu feed-forward (original T5) and other configurations', () => {
  // Few buckets and a short max distance, so a 20-token sequence runs past the clamped range.
  const config = readT5EncoderConfig(
    {
      vocab_size: 50,
      d_model: 16,
      d_kv: 6,
      d_ff: 24,
      num_layers: 2,
      num_heads: 3,
      feed_forward_proj: 'relu',
      relative_attention_num_buckets: 8,
      relative_attention_max_distance: 6,
      layer_norm_epsilon: 1e-6,
    },
    'text_encoder_3/config.json',
  );
  const { d_model: D, d_ff: F } = config;
  const inner = config.num_heads * config.d_kv;
  const shapes: Record<string, number[]> = {
    'shared.weight': [config.vocab_size, D],
    'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight': [config.relative_attention_num_buckets, config.num_heads],
    'encoder.final_layer_norm.weight': [D],
  };
  for (let layer = 0; layer < config.num_layers; layer++) {
    const p = `encoder.block.${layer}.layer`;
    for (const m of ['q', 'k', 'v']) shapes[`${p}.0.SelfAttention.${m}.weight`] = [inner, D];
    shapes[`${p}.0.SelfAttention.o.weight`] = [D, inner];
    shapes[`${p}.0.layer_norm.weight`] = [D];
    shapes[`${p}.1.layer_norm.weight`] = [D];
    shapes[`${p}.1.DenseReluDense.wi.weight`] = [F, D];
    shapes[`${p}.1.DenseReluDense.wo.weight`] = [D, F];
  }
  const values = Object.fromEntries(
    Object.entries(shapes).map(([name, shape], i) => {
      const count = shape.reduce((a, b) => a * b, 1);
      const scale = name.includes('layer_norm') ? 0.3 : name.includes('relative') ? 1.5 : 0.4;
      const v = pattern(count, scale, i);
      return [name, name.includes('layer_norm') ? v.map((x) => 1 + x) : v];
    }),
  );
  const ids = Array.from({ length: 20 }, (_, i) => (i * 7 + 3) % config.vocab_size);

  async function weightsFrom(tensors: Record<string, TestTensor>): Promise<WeightSet> {
    const bytes = writeSafetensors(tensors);
    return openWeightSetAsync(
      async (path) => (path === 'text_encoder_3/model.safetensors' ? bytesSource(path, bytes) : undefined),
      'text_encoder_3',
      'model',
    );
  }
  const tensors = () => Object.fromEntries(Object.entries(values).map(([name, v]) => [name, f32(v, shapes[name])]));

  it('matches a float64 forward pass, past the relative distance where buckets saturate', async () => {
    const out = await runTextEncoderAsync(buildT5EncoderGraph(config, await weightsFrom(tensors()), 'fp32'), [ids]);
    const reference = referenceT5(config, values, ids);
    expect(maxAbsDiff(float32Output(out, 'last_hidden_state'), reference)).toBeLessThan(1e-4);
  });

  it('takes encoder.embed_tokens.weight when a checkpoint stores the tied embedding under that name only', async () => {
    const { 'shared.weight': shared, ...rest } = tensors();
    const out = await runTextEncoderAsync(
      buildT5EncoderGraph(config, await weightsFrom({ ...rest, 'encoder.embed_tokens.weight': shared }), 'fp32'),
      [ids],
    );
    expect(maxAbsDiff(float32Output(out, 'last_hidden_state'), referenceT5(config, values, ids))).toBeLessThan(1e-4);
  });

  it.each([
    [
      'feed_forward_proj "gated-silu"',
      { feed_forward_proj: 'gated-silu' },
      'text_encoder_3/config.json: feed_forward_proj is "gated-silu"; Flowfill builds gated-gelu, relu',
    ],
    [
      '4 buckets and max distance 1',
      { relative_attention_num_buckets: 4, relative_attention_max_distance: 1 },
      'text_encoder_3/config.json: relative_attention_max_distance is 1; expected more than 1',
    ],
    [
      '2 buckets',
      { relative_attention_num_buckets: 2 },
      'text_encoder_3/config.json: relative_attention_num_buckets is 2; expected an integer ≥ 4',
    ],
    ['no d_kv', { d_kv: undefined }, 'text_encoder_3/config.json: d_kv is missing; expected an integer ≥ 1'],
    [
      'layer_norm_epsilon "1e-6"',
      { layer_norm_epsilon: '1e-6' },
      'text_encoder_3/config.json: layer_norm_epsilon is "1e-6"; expected a number > 0',
    ],
  ])('config with %s is refused', (_title, change, message) => {
    const json = componentConfig('sd35m_style', 'text_encoder_3');
    expect(() => readT5EncoderConfig({ ...json, ...change }, 'text_encoder_3/config.json')).toThrow(message);
  });

  it('reads transformers defaults for fields a config may omit', () => {
    const { feed_forward_proj, relative_attention_num_buckets, relative_attention_max_distance, layer_norm_epsilon, ...rest } =
      componentConfig('sd35m_style', 'text_encoder_3');
    expect([feed_forward_proj, relative_attention_num_buckets, relative_attention_max_distance, layer_norm_epsilon]).toEqual([
      'gated-gelu',
      32,
      128,
      1e-6,
    ]);
    const defaults = readT5EncoderConfig(rest, 'text_encoder_3/config.json');
    expect([
      defaults.feed_forward_proj,
      defaults.relative_attention_num_buckets,
      defaults.relative_attention_max_distance,
      defaults.layer_norm_epsilon,
    ]).toEqual(['relu', 32, 128, 1e-6]);
  });

  it('a missing tensor, a wrong shape and a relative bias outside block 0 are named', async () => {
    const { 'encoder.block.1.layer.1.DenseReluDense.wo.weight': _wo, ...withoutWo } = tensors();
    const missing = await weightsFrom(withoutWo);
    expect(() => buildT5EncoderGraph(config, missing, 'int8')).toThrow(
      'text_encoder_3/model*.safetensors: tensor "encoder.block.1.layer.1.DenseReluDense.wo.weight" is missing (a Linear(24 → 16) per config.json)',
    );
    const wrong = await weightsFrom({
      ...tensors(),
      'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight': f32(pattern(24, 1), [3, 8]),
    });
    expect(() => buildT5EncoderGraph(config, wrong, 'fp32')).toThrow(
      'text_encoder_3/model.safetensors: tensor "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" has shape [3, 8]; relative_attention_num_buckets × num_heads per config.json: [8, 3]',
    );
    const umt5 = await weightsFrom({
      ...tensors(),
      'encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight': f32(pattern(24, 1), [8, 3]),
    });
    expect(() => buildT5EncoderGraph(config, umt5, 'fp32')).toThrow(
      /tensor "encoder\.block\.1\.layer\.0\.SelfAttention\.relative_attention_bias\.weight" exists, but T5EncoderModel uses block 0's/,
    );
    const gated = readT5EncoderConfig({ ...config, feed_forward_proj: 'gated-gelu' }, 'text_encoder_3/config.json');
    const relu = await weightsFrom(tensors());
    expect(() => buildT5EncoderGraph(gated, relu, 'fp32')).toThrow(
      /tensor "encoder\.block\.0\.layer\.1\.DenseReluDense\.wi_0\.weight" is missing/,
    );
  });
});
