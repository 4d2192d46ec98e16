/**
 * The AutoencoderKL decoder and encoder graphs built from the sd3-diffusers-tiny checkpoints (fp32
 * and fp16 weights), run by onnxruntime-web (WASM), against diffusers' vae_decoder_output and the
 * encoder's latent mean for every golden case, and against bad configs and checkpoints.
 */
import type { Precision } from '../../worker/engine/onnx/layers.js';
import { WeightSet } from '../../worker/engine/safetensors.js';
import {
  buildVaeDecoderGraph,
  buildVaeEncoderGraph,
  checkVaeImageSize,
  readAutoencoderKlConfig,
  vaePrecision,
} from '../../worker/engine/sd3/graphs/vae.js';
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

/** The fixture README's WASM/CPU tolerances (max |difference|): decoded image and encoder mean. */
const DECODER_TOLERANCE = 5e-4;
const ENCODER_TOLERANCE = 1e-4;

async function runAsync(c: GoldenCase, part: 'decoder' | 'encoder', precision: Precision) {
  const config = readAutoencoderKlConfig(fixtureConfig(c.model, 'vae'));
  const weights = await fixtureWeightsAsync(c.model, 'vae');
  const graph = part === 'decoder' ? buildVaeDecoderGraph(config, weights, precision) : buildVaeEncoderGraph(config, weights, precision);
  const { session } = await loadGraphAsync(graph);
  try {
    if (part === 'decoder') {
      const input = goldenArray(c, 'vae_decoder_input');
      const out = await session.runAsync({ latent_sample: f32(input.data, input.dims) });
      const want = goldenArray(c, 'vae_decoder_output');
      expect(out.sample.dims).toEqual(want.dims);
      return { got: out.sample.data as Float32Array, want: want.data, graph };
    }
    const input = goldenArray(c, 'vae_encoder_input');
    const out = await session.runAsync({ sample: f32(input.data, input.dims) });
    const want = goldenArray(c, 'vae_encoder_mean');
    const [batch, channels, h, w] = want.dims;
    expect(out.latent_parameters.dims).toEqual([batch, 2 * channels, h, w]);
    // Batch 1: the mean is the first `channels` channels (then the log-variance).
    return { got: (out.latent_parameters.data as Float32Array).subarray(0, want.data.length), want: want.data, graph };
  } finally {
    await session.releaseAsync();
  }
}

describe('VAE graphs vs diffusers (WASM, fp32)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s: decoder output and encoder mean within the README tolerances', async (_name, c) => {
    const decoder = await runAsync(c, 'decoder', 'fp32');
    const encoder = await runAsync(c, 'encoder', 'fp32');
    const decoderError = maxAbsDiff(decoder.got, decoder.want);
    const encoderError = maxAbsDiff(encoder.got, encoder.want);
    console.log(
      `${c.name} (${c.model} VAE): decoder max |diff| ${decoderError.toExponential(2)}, encoder mean max |diff| ${encoderError.toExponential(2)}`,
    );
    expect(decoderError).toBeLessThan(DECODER_TOLERANCE);
    expect(encoderError).toBeLessThan(ENCODER_TOLERANCE);
  });
});

describe('VAE graphs at reduced precision (WASM)', () => {
  it('fp16 (half convolutions, float32 GroupNorm statistics) stays within its bound; int8/int4 build the float32 VAE', async () => {
    const c = goldenCase('p4');
    const lines: string[] = [];
    for (const part of ['decoder', 'encoder'] as const) {
      const half = await runAsync(c, part, 'fp16');
      const error = relativeL2(half.got, half.want);
      lines.push(
        `${c.name} ${part} fp16: relative L2 ${error.toExponential(2)}, max |diff| ${maxAbsDiff(half.got, half.want).toExponential(2)}`,
      );
      expect(error).toBeLessThan(1e-2);
      expect(error).toBeGreaterThan(1e-5); // really computed in half
      const full = await runAsync(c, part, 'fp32');
      for (const precision of ['int8', 'int4'] as const) {
        const quantized = await runAsync(c, part, precision);
        expect(quantized.graph.nodes.map((n) => n.opType)).toEqual(full.graph.nodes.map((n) => n.opType));
        expect(maxAbsDiff(quantized.got, full.got)).toBe(0);
      }
    }
    console.log(lines.join('\n'));
  });

  it('vaePrecision follows force_upcast', () => {
    const config = readAutoencoderKlConfig(fixtureConfig('sd35m_style', 'vae'));
    expect(config.force_upcast).toBe(true);
    expect(vaePrecision(config, 'fp16')).toBe('fp32');
    expect(vaePrecision({ ...config, force_upcast: false }, 'fp16')).toBe('fp16');
    expect(vaePrecision({ ...config, force_upcast: false }, 'int4')).toBe('fp32');
  });
});

describe('VAE: bad configs and checkpoints are refused with the file and field named', () => {
  const base = () => structuredClone(fixtureConfig('sd3m_style_no_t5', 'vae')) as Record<string, unknown>;

  it.each([
    [{ norm_num_groups: 5 }, /vae\/config\.json: norm_num_groups is 5, which does not divide block_out_channels entry 16/],
    [{ act_fn: 'relu' }, /vae\/config\.json: act_fn is "relu"; Flowfill builds "silu"/],
    [{ up_block_types: ['UpDecoderBlock2D'] }, /up_block_types is \["UpDecoderBlock2D"\]; Flowfill builds 4 × "UpDecoderBlock2D"/],
    [{ block_out_channels: [] }, /block_out_channels is empty/],
    [{ layers_per_block: -1 }, /layers_per_block is -1; it must be an integer from 1 to 64/],
    [{ latents_mean: [0, 1] }, /latents_mean is set/],
    [{ _class_name: 'AutoencoderTiny' }, /_class_name is "AutoencoderTiny"; Flowfill builds AutoencoderKL/],
  ])('%j', (change, message) => {
    expect(() => readAutoencoderKlConfig({ ...base(), ...change })).toThrow(message);
  });

  it('a missing tensor, a wrong shape and tensors the config does not describe are named', async () => {
    const weights = await fixtureWeightsAsync('sd3m_style_no_t5', 'vae');
    const config = readAutoencoderKlConfig(base());
    const without = new WeightSet(
      weights.description,
      new Map([...weights.tensors].filter(([name]) => name !== 'decoder.mid_block.attentions.0.to_v.bias')),
    );
    expect(() => buildVaeDecoderGraph(config, without, 'fp32')).toThrow(
      /vae\/diffusion_pytorch_model\*\.safetensors: tensor "decoder\.mid_block\.attentions\.0\.to_v\.bias" is missing/,
    );
    expect(() => buildVaeEncoderGraph(readAutoencoderKlConfig({ ...base(), latent_channels: 8 }), weights, 'fp32')).toThrow(
      /diffusion_pytorch_model-000\d\d-of-00015\.safetensors: tensor "encoder\.conv_out\.weight" has shape \[32, 32, 3, 3\]; a Conv2d\(32 → 16, kernel 3\) per config\.json: \[16, 32, 3, 3\]/,
    );
    expect(() => buildVaeDecoderGraph(readAutoencoderKlConfig({ ...base(), mid_block_add_attention: false }), weights, 'fp32')).toThrow(
      /tensor "decoder\.mid_block\.attentions\.0\.[\w.]+" \(and 9 more\) is not part of the model vae\/config\.json describes/,
    );
  });

  it('image sizes the encoder cannot take are refused', () => {
    const config = readAutoencoderKlConfig(base());
    expect(() => checkVaeImageSize(config, 64, 96)).not.toThrow();
    expect(() => checkVaeImageSize(config, 60, 96)).toThrow(/image height 60 must be a positive multiple of the VAE's scale factor 8/);
  });
});
