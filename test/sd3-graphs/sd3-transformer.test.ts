/**
 * The MM-DiT graph built from the sd3-diffusers-tiny checkpoints, run by onnxruntime-web (WASM),
 * against diffusers' step-0 transformer output for every golden case (CFG batch order
 * [negative, prompt]; latent sizes 8×12, 10×6, 6×6, 14×8), and against bad configs and checkpoints.
 */
import { EngineError } from '../../worker/engine/engine-error.js';
import type { Precision } from '../../worker/engine/onnx/layers.js';
import { WeightSet } from '../../worker/engine/safetensors.js';
import {
  buildSd3TransformerGraph,
  checkLatentSize,
  readSd3TransformerConfig,
  type Sd3TransformerBuildOptions,
} from '../../worker/engine/sd3/graphs/sd3-transformer.js';
import {
  cases,
  f32,
  fixtureConfig,
  fixtureWeightsAsync,
  goldenArray,
  goldenCase,
  loadGraphAsync,
  maxAbsDiff,
  relativeL2,
  type GoldenCase,
} from './graph-harness.js';

/** The fixture README's WASM/CPU tolerance for the step-0 transformer output (max |difference|). */
const STEP0_TOLERANCE = 1e-4;

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function runStep0Async(c: GoldenCase, precision: Precision, options?: Sd3TransformerBuildOptions) {
  const config = readSd3TransformerConfig(fixtureConfig(c.model, 'transformer'));
  const graph = buildSd3TransformerGraph(config, await fixtureWeightsAsync(c.model, 'transformer'), precision, options);
  const { session } = await loadGraphAsync(graph);
  try {
    const x = goldenArray(c, 'step0_transformer_input');
    const batch = x.dims[0];
    const prompt = goldenArray(c, 'prompt_embeds');
    const pooled = goldenArray(c, 'pooled_prompt_embeds');
    // With CFG the pipeline batches [negative, prompt].
    const context = batch === 2 ? concat(goldenArray(c, 'negative_prompt_embeds').data, prompt.data) : prompt.data;
    const pooledBatch = batch === 2 ? concat(goldenArray(c, 'negative_pooled_prompt_embeds').data, pooled.data) : pooled.data;
    const out = await session.runAsync({
      hidden_states: f32(x.data, x.dims),
      timestep: f32(goldenArray(c, 'step0_timestep').data, [batch]),
      encoder_hidden_states: f32(context, [batch, prompt.dims[1], prompt.dims[2]]),
      pooled_projections: f32(pooledBatch, [batch, pooled.dims[1]]),
    });
    expect(out.out_hidden_states.dims).toEqual(x.dims);
    return { got: out.out_hidden_states.data as Float32Array, want: goldenArray(c, 'step0_transformer_output').data, graph };
  } finally {
    await session.releaseAsync();
  }
}

describe('SD3 transformer graph vs diffusers (WASM, fp32)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s: step-0 output within the README tolerance', async (_name, c) => {
    const { got, want } = await runStep0Async(c, 'fp32');
    const error = maxAbsDiff(got, want);
    console.log(`${c.name} (${c.model}, latent ${c.latent_height}×${c.latent_width}) fp32: max |diff| ${error.toExponential(2)}`);
    expect(error).toBeLessThan(STEP0_TOLERANCE);
  });

  it('a graph keeping only the centre of the pos-embed table gives the same output', async () => {
    const c = goldenCase('p1'); // latent 8×12 → 4×6 patches: the centre 8×8 of the 48×48 grid holds them
    const full = await runStep0Async(c, 'fp32');
    const cropped = await runStep0Async(c, 'fp32', { posEmbedGrid: 8 });
    expect(cropped.graph.initializers.find((i) => i.name === 'pos_embed.pos_embed')!.source.dims).toEqual([8, 8, 32]);
    expect(maxAbsDiff(cropped.got, full.got)).toBe(0);
  });
});

describe('SD3 transformer graph at reduced precision (WASM)', () => {
  // Bounds on the relative L2 error of the step-0 output. On WASM the CPU EP runs half-precision
  // nodes in float32 (it inserts casts and drops most round trips), so 'fp16' here measures the half
  // weights, not half arithmetic; `scripts/sd3-graphs-gpu.ts parity --f16` measures that on a GPU
  // with shader-f16.
  const BOUNDS: Record<Exclude<Precision, 'fp32'>, number> = { fp16: 1e-2, int8: 5e-3, int4: 5e-2 };
  it.each(['p1', 'p4'])('%s at fp16, int8, int4', async (prefix) => {
    const c = goldenCase(prefix);
    const lines: string[] = [];
    for (const precision of ['fp16', 'int8', 'int4'] as const) {
      const { got, want, graph } = await runStep0Async(c, precision);
      const error = relativeL2(got, want);
      lines.push(`${c.name} ${precision}: relative L2 ${error.toExponential(2)}, max |diff| ${maxAbsDiff(got, want).toExponential(2)}`);
      expect(error).toBeLessThan(BOUNDS[precision]);
      if (precision !== 'fp16') expect(error).toBeGreaterThan(0); // the weights really were quantised
      if (precision === 'fp16') {
        // Without QK-norm (SD3 Medium style) the attention runs in float32 under fp16; with it, in half.
        const mha = graph.nodes.filter((n) => n.opType === 'MultiHeadAttention');
        const producers = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
        const castTo = mha.map((n) => producers.get(n.inputs[0])?.attributes?.to);
        expect(castTo.every((to) => to === (c.model === 'sd3m_style_no_t5' ? 1 : undefined))).toBe(true);
      }
    }
    console.log(lines.join('\n'));
  });
});

describe('SD3 transformer: bad configs and checkpoints are refused with the file and field named', () => {
  const base = () => structuredClone(fixtureConfig('sd35m_style', 'transformer')) as Record<string, unknown>;

  it.each([
    [{ num_layers: 0 }, /transformer\/config\.json: num_layers is 0; it must be an integer from 1/],
    [{ qk_norm: 'layer_norm' }, /transformer\/config\.json: qk_norm is "layer_norm"; Flowfill builds null, "rms_norm"/],
    [
      { dual_attention_layers: [0, 5] },
      /transformer\/config\.json: dual_attention_layers is \[0,5\]; it must be a list of integers from 0 to 2/,
    ],
    [{ caption_projection_dim: 48 }, /caption_projection_dim is 48; it must equal num_attention_heads · attention_head_dim = 2 · 16 = 32/],
    [{ patch_size: 2.5 }, /patch_size is 2\.5; it must be an integer/],
    [{ _class_name: 'FluxTransformer2DModel' }, /_class_name is "FluxTransformer2DModel"; Flowfill builds SD3Transformer2DModel/],
  ])('%j', (change, message) => {
    expect(() => readSd3TransformerConfig({ ...base(), ...change })).toThrow(message);
  });

  it('a missing tensor is named with the checkpoint', async () => {
    const weights = await fixtureWeightsAsync('sd35m_style', 'transformer');
    const without = new WeightSet(
      weights.description,
      new Map([...weights.tensors].filter(([name]) => name !== 'transformer_blocks.1.attn2.to_k.weight')),
    );
    const config = readSd3TransformerConfig(base());
    expect(() => buildSd3TransformerGraph(config, without, 'fp32')).toThrow(
      /transformer\/diffusion_pytorch_model\*\.safetensors: tensor "transformer_blocks\.1\.attn2\.to_k\.weight" is missing/,
    );
  });

  it('a tensor whose shape disagrees with config.json is named with its shard', async () => {
    const config = readSd3TransformerConfig({ ...base(), joint_attention_dim: 128 });
    const build = async () => buildSd3TransformerGraph(config, await fixtureWeightsAsync('sd35m_style', 'transformer'), 'fp32');
    await expect(build()).rejects.toThrow(
      /diffusion_pytorch_model-0000\d-of-00006\.safetensors: tensor "context_embedder\.weight" has shape \[32, 96\]; a Linear\(128 → 32\) per config\.json: \[32, 128\]/,
    );
    await expect(build()).rejects.toBeInstanceOf(EngineError);
  });

  it('tensors the config does not account for (dual attention left out of the config) are refused', async () => {
    const config = readSd3TransformerConfig({ ...base(), dual_attention_layers: [0] });
    const weights = await fixtureWeightsAsync('sd35m_style', 'transformer');
    expect(() => buildSd3TransformerGraph(config, weights, 'fp32')).toThrow(
      /norm1\.linear\.weight" has shape \[288, 32\]; a Linear\(32 → 192\)/,
    );
    const noQkNorm = readSd3TransformerConfig({ ...base(), qk_norm: null });
    expect(() => buildSd3TransformerGraph(noQkNorm, weights, 'fp32')).toThrow(
      /tensor "transformer_blocks\.\d\.attn2?\.norm_\w+\.weight" \(and 15 more\) is not part of the model transformer\/config\.json describes/,
    );
  });

  it('latent sizes the graph cannot take are refused before a run', () => {
    const config = readSd3TransformerConfig(base());
    expect(() => checkLatentSize(config, 8, 12)).not.toThrow();
    expect(() => checkLatentSize(config, 98, 12)).toThrow(/latent height 98 must be a multiple of patch_size 2 from 2 to 96/);
    expect(() => checkLatentSize(config, 8, 7)).toThrow(/latent width 7/);
    expect(() => checkLatentSize(config, 20, 8, { posEmbedGrid: 8 })).toThrow(/from 2 to 16 \(a pos-embed grid of 8 patches\)/);
    expect(() => buildSd3TransformerGraph(config, new WeightSet('x', new Map()), 'fp32', { posEmbedGrid: 7 })).toThrow(
      /posEmbedGrid 7 must be/,
    );
  });
});
