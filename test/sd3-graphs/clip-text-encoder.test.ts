/**
 * The CLIPTextModelWithProjection graph built from config.json + safetensors: every precision on
 * WASM against diffusers' golden outputs, the EOS rule transformers uses for the pooled output,
 * and the errors a bad config or checkpoint gets.
 */
import { readFloat32Async, WeightSet, type SafetensorsTensor } from '../../worker/engine/safetensors.js';
import { PRECISIONS, type Precision } from '../../worker/engine/onnx/layers.js';
import { buildClipTextEncoderGraph, readClipTextConfig, type ClipTextConfig } from '../../worker/engine/sd3/graphs/clip-text-encoder.js';
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
  runIdsAsync,
  runTextEncoderAsync,
  sliceTokens,
  textEncoderSessionAsync,
} from './text-encoder-fixture.js';

const ENCODERS = [
  ['text_encoder', 'tokenizer', 0],
  ['text_encoder_2', 'tokenizer_2', 1],
] as const;

/**
 * Relative L2 error bounds against the float32 reference, per precision. fp16 on WASM: half
 * weights and activations where onnxruntime's CPU kernels keep them (it widens many half ops to
 * float32), so WebGPU's error is measured separately. int8/int4: weight-only block quantisation
 * of every layer's Linear weights; with these tiny random models (width 32, one block per row)
 * the quantisation error is larger than real checkpoints show.
 */
const BOUNDS: Record<Exclude<Precision, 'fp32'>, number> = { fp16: 1e-3, int8: 2e-2, int4: 0.3 };

describe('CLIP text encoder graph (WASM) vs diffusers golden outputs', () => {
  // p2: a 70-word prompt cut at 77 tokens; p4: "!!" as two pad ids in CLIP-G. Both CFG cases.
  const cases = CASES.filter((c) => c.name.startsWith('p2') || c.name.startsWith('p4'));

  it.each(cases.flatMap((c) => ENCODERS.map(([encoder, tokenizer, column]) => [c.name, encoder, c, tokenizer, column] as const)))(
    '%s %s: penultimate hidden state and text_embeds at every precision',
    async (_name, encoder, c, tokenizer, column) => {
      const config = readClipTextConfig(componentConfig(c.model, encoder), `${encoder}/config.json`);
      const weights = await openComponentWeightsAsync(c.model, encoder);
      const ids = [goldenIds(c.arrays[`${tokenizer}_negative_ids`]), goldenIds(c.arrays[`${tokenizer}_prompt_ids`])];
      const S = ids[0].length;
      const H = config.hidden_size;
      const P = config.projection_dim;
      // The golden conditioning holds this encoder's penultimate states in channels [column·H, (column+1)·H) of the first S tokens.
      const referenceHidden = [c.arrays.negative_prompt_embeds, c.arrays.prompt_embeds].flatMap((spec) =>
        Array.from(sliceTokens(goldenFloat32(spec), spec.shape[2], 0, S, column * H, (column + 1) * H)),
      );
      const referencePooled = [c.arrays.negative_pooled_prompt_embeds, c.arrays.pooled_prompt_embeds].flatMap((spec) =>
        Array.from(goldenFloat32(spec).subarray(column * P, (column + 1) * P)),
      );
      const lines: string[] = [];
      for (const precision of PRECISIONS) {
        const out = await runTextEncoderAsync(buildClipTextEncoderGraph(config, weights, precision), ids);
        const hidden = float32Output(out, `hidden_states.${config.num_hidden_layers - 1}`);
        const pooled = float32Output(out, 'text_embeds');
        expect(out[`hidden_states.${config.num_hidden_layers}`].dims).toEqual([2, S, H]);
        expect(out.last_hidden_state.dims).toEqual([2, S, H]);
        const errors = { hidden: relativeL2(hidden, referenceHidden), pooled: relativeL2(pooled, referencePooled) };
        lines.push(
          `${precision}: rel. L2 hidden ${errors.hidden.toExponential(2)}, pooled ${errors.pooled.toExponential(2)}; max |err| hidden ${maxAbsDiff(hidden, referenceHidden).toExponential(2)}`,
        );
        if (precision === 'fp32') {
          expect(maxAbsDiff(hidden, referenceHidden)).toBeLessThan(1e-4);
          expect(maxAbsDiff(pooled, referencePooled)).toBeLessThan(1e-4);
        } else {
          expect(errors.hidden).toBeLessThan(BOUNDS[precision]);
          expect(errors.pooled).toBeLessThan(BOUNDS[precision]);
          if (precision !== 'fp16') expect(errors.hidden).toBeGreaterThan(1e-6); // really quantised
        }
      }
      console.log(
        `${c.name} ${c.model}/${encoder} (${weights.tensors.get('text_projection.weight')!.dataType === 10 ? 'fp16' : 'bf16'} weights)\n  ${lines.join('\n  ')}`,
      );
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it(
    'pools at the first eos_token_id when it is not the legacy id 2, else at argmax(ids)',
    async () => {
      const model = 'sd35m_style';
      const json = componentConfig(model, 'text_encoder');
      const weights = await openComponentWeightsAsync(model, 'text_encoder');
      const projection = await readFloat32Async(weights.get('text_projection.weight'));
      // "a red fox in the snow, flat illustration": 320 ("a") sits at position 1; the largest id, 49407, first at 10.
      const ids = goldenIds(CASES[0].arrays.tokenizer_prompt_ids);
      expect([ids.indexOf(320), ids.indexOf(Math.max(...ids))]).toEqual([1, 10]);
      for (const [eos, position] of [
        [2, 10],
        [320, 1],
        [49407, 10],
      ] as const) {
        const config = readClipTextConfig({ ...json, eos_token_id: eos }, 'text_encoder/config.json');
        const out = await runTextEncoderAsync(buildClipTextEncoderGraph(config, weights, 'fp32'), [ids]);
        const last = float32Output(out, 'last_hidden_state');
        const H = config.hidden_size;
        const expected = Array.from({ length: config.projection_dim }, (_, n) =>
          last.subarray(position * H, (position + 1) * H).reduce((sum, v, k) => sum + v * projection[n * H + k], 0),
        );
        expect({ eos, error: maxAbsDiff(float32Output(out, 'text_embeds'), expected) < 1e-5 }).toEqual({ eos, error: true });
      }
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it(
    'a batch gives each row what it gives alone (per-row EOS, causal mask per row)',
    async () => {
      const c = CASES[1];
      const config = readClipTextConfig(componentConfig(c.model, 'text_encoder_2'), 'text_encoder_2/config.json');
      const session = await textEncoderSessionAsync(
        buildClipTextEncoderGraph(config, await openComponentWeightsAsync(c.model, 'text_encoder_2'), 'fp32'),
      );
      try {
        const rows = [
          goldenIds(c.arrays.tokenizer_2_prompt_ids),
          goldenIds(c.arrays.tokenizer_2_negative_ids),
          goldenIds(CASES[0].arrays.tokenizer_2_prompt_ids),
        ];
        const together = await runIdsAsync(session, rows);
        for (const [r, row] of rows.entries()) {
          const alone = await runIdsAsync(session, [row]);
          for (const name of ['text_embeds', 'last_hidden_state', `hidden_states.${config.num_hidden_layers - 1}`]) {
            const size = float32Output(alone, name).length;
            expect(maxAbsDiff(float32Output(together, name).subarray(r * size, (r + 1) * size), float32Output(alone, name))).toBeLessThan(
              1e-5,
            );
          }
        }
        // Shorter sequences run too: the causal mask and positions follow the input length.
        const short = await runIdsAsync(session, [rows[0].slice(0, 9)]);
        expect(short.last_hidden_state.dims).toEqual([1, 9, config.hidden_size]);
      } finally {
        await session.releaseAsync();
      }
    },
    GRAPH_TEST_TIMEOUT_MS,
  );
});

describe('CLIP text encoder: bad configs and checkpoints are named', () => {
  const json = componentConfig('sd35m_style', 'text_encoder_2');
  const path = 'text_encoder_2/config.json';

  it.each([
    ['hidden_act "relu"', { hidden_act: 'relu' }, 'text_encoder_2/config.json: hidden_act is "relu"; Flowfill builds quick_gelu, gelu'],
    ['num_hidden_layers 0', { num_hidden_layers: 0 }, 'text_encoder_2/config.json: num_hidden_layers is 0; expected an integer ≥ 1'],
    ['no hidden_size', { hidden_size: undefined }, 'text_encoder_2/config.json: hidden_size is missing; expected an integer ≥ 1'],
    [
      '5 heads for width 32',
      { num_attention_heads: 5 },
      'text_encoder_2/config.json: num_attention_heads is 5; hidden_size 32 must split evenly into heads',
    ],
    ['layer_norm_eps −1', { layer_norm_eps: -1 }, 'text_encoder_2/config.json: layer_norm_eps is -1; expected a number > 0'],
    [
      'eos_token_id past the vocabulary',
      { eos_token_id: 49408 },
      'text_encoder_2/config.json: eos_token_id is 49408; expected an id below vocab_size 49408',
    ],
    ['hidden_size 32.5', { hidden_size: 32.5 }, 'text_encoder_2/config.json: hidden_size is 32.5; expected an integer ≥ 1'],
  ])('config with %s', (_title, change, message) => {
    expect(() => readClipTextConfig({ ...json, ...change }, path)).toThrow(message);
  });

  it('reads transformers defaults for fields a config may omit', () => {
    const { hidden_act, layer_norm_eps, eos_token_id, ...rest } = json;
    expect([hidden_act, layer_norm_eps, eos_token_id]).toEqual(['gelu', 1e-5, 2]);
    const config = readClipTextConfig(rest, path);
    expect([config.hidden_act, config.layer_norm_eps, config.eos_token_id]).toEqual(['quick_gelu', 1e-5, 49407]);
  });

  async function buildWith(
    change: (tensors: Map<string, SafetensorsTensor>) => void,
    config: ClipTextConfig = readClipTextConfig(json, path),
  ) {
    const weights = await openComponentWeightsAsync('sd35m_style', 'text_encoder_2');
    const tensors = new Map(weights.tensors);
    change(tensors);
    return () => buildClipTextEncoderGraph(config, new WeightSet(weights.description, tensors), 'fp32');
  }

  it('a missing tensor names the checkpoint and the tensor', async () => {
    const build = await buildWith((t) => t.delete('text_model.encoder.layers.2.mlp.fc1.weight'));
    expect(build).toThrow(
      /sd35m_style\/text_encoder_2\/model\*\.safetensors: tensor "text_model\.encoder\.layers\.2\.mlp\.fc1\.weight" is missing \(a Linear\(32 → 64\) per config\.json\)/,
    );
  });

  it('a tensor of the wrong shape names the shard, the tensor and the shape config.json implies', async () => {
    const build = await buildWith((t) => {
      const tensor = t.get('text_projection.weight')!;
      t.set('text_projection.weight', { ...tensor, shape: [16, 64] });
    });
    expect(build).toThrow(
      /model-0000\d-of-00002\.safetensors: tensor "text_projection\.weight" has shape \[16, 64\]; a Linear\(32 → 32\) per config\.json: \[32, 32\]/,
    );
  });

  it('a config that disagrees with the checkpoint (more layers than stored) names the first absent tensor', async () => {
    const build = await buildWith(() => undefined, readClipTextConfig({ ...json, num_hidden_layers: 4 }, path));
    expect(build).toThrow(/tensor "text_model\.encoder\.layers\.3\.layer_norm1\.weight" is missing/);
  });

  it('a token table of another vocabulary size is refused', async () => {
    const build = await buildWith(() => undefined, readClipTextConfig({ ...json, vocab_size: 49000 }, path));
    expect(build).toThrow(
      /tensor "text_model\.embeddings\.token_embedding\.weight" has shape \[49408, 32\]; vocab_size × hidden_size per config\.json: \[49000, 32\]/,
    );
  });
});
