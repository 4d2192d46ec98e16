/**
 * SD3 prompt conditioning from a diffusers folder, end to end without any exported ONNX: the
 * tokenisers (built from vocab.json + merges.txt where tokenizer.json is absent), CLIP-L, CLIP-G and
 * T5 graphs built in TypeScript from config.json + safetensors at fp32, run by onnxruntime-web
 * (WASM), assembled by assembleSd3Conditioning, against what diffusers' encode_prompt gave for
 * every golden case (fixture README: prompt embeds and pooled within 1e-4 on WASM/CPU).
 */
import type { AttentionForm } from '../../worker/engine/onnx/layers.js';
import { buildClipTextEncoderGraph, readClipTextConfig } from '../../worker/engine/sd3/graphs/clip-text-encoder.js';
import { buildT5EncoderGraph, readT5EncoderConfig } from '../../worker/engine/sd3/graphs/t5-encoder.js';
import { readTokenizerFilesAsync } from '../../worker/engine/sd3/tokenizer-files.js';
import { assembleSd3Conditioning, type ClipStyleOutput, type Tensor32 } from '../../worker/engine/sd3/text-embeddings.js';
import { PromptTokenizer } from '../../worker/engine/sd3/tokenize.js';
import {
  CASES,
  componentConfig,
  float32Output,
  folderReader,
  goldenFloat32,
  goldenIds,
  GRAPH_TEST_TIMEOUT_MS,
  maxAbsDiff,
  openComponentWeightsAsync,
  runTextEncoderAsync,
  type GoldenCase,
} from './text-encoder-fixture.js';

const WASM_TOLERANCE = 1e-4;

interface TransformerGeometry {
  joint_attention_dim: number;
  pooled_projection_dim: number;
}

/**
 * Encodes [negative, prompt] as one batch of 2 through every encoder the case's folder has (the
 * batch shape the engine uses with guidance), checking the token ids on the way.
 */
async function encodeCaseAsync(c: GoldenCase, attention: AttentionForm) {
  const read = folderReader(c.model);
  const geometry = componentConfig(c.model, 'transformer') as unknown as TransformerGeometry;
  const clip: ClipStyleOutput[] = [];
  let t5: Tensor32 | undefined;
  for (const [encoder, tokenizerFolder] of [
    ['text_encoder', 'tokenizer'],
    ['text_encoder_2', 'tokenizer_2'],
    ['text_encoder_3', 'tokenizer_3'],
  ] as const) {
    if (encoder === 'text_encoder_3' && !c.arrays.tokenizer_3_prompt_ids) continue; // no T5 in this folder: diffusers uses zeros
    const files = await readTokenizerFilesAsync(read, tokenizerFolder);
    const tokenizer = new PromptTokenizer(
      files.tokenizerJson,
      files.tokenizerConfig,
      encoder === 'text_encoder_3' ? { maxLength: c.max_sequence_length } : {},
    );
    const ids = [Array.from(tokenizer.encode(c.negative).ids), Array.from(tokenizer.encode(c.prompt).ids)];
    expect({ tokenizerFolder, ids }).toEqual({
      tokenizerFolder,
      ids: [goldenIds(c.arrays[`${tokenizerFolder}_negative_ids`]), goldenIds(c.arrays[`${tokenizerFolder}_prompt_ids`])],
    });

    const weights = await openComponentWeightsAsync(c.model, encoder);
    const path = `${encoder}/config.json`;
    const S = ids[0].length;
    if (encoder === 'text_encoder_3') {
      const config = readT5EncoderConfig(componentConfig(c.model, encoder), path);
      const out = await runTextEncoderAsync(buildT5EncoderGraph(config, weights, 'fp32', { attention }), ids);
      t5 = { data: float32Output(out, 'last_hidden_state'), dims: [2, S, config.d_model] };
    } else {
      const config = readClipTextConfig(componentConfig(c.model, encoder), path);
      const out = await runTextEncoderAsync(buildClipTextEncoderGraph(config, weights, 'fp32', { attention }), ids);
      clip.push({
        // SD3 takes hidden_states[-2], the graph's hidden_states.{L-1}.
        hiddenStates: { data: float32Output(out, `hidden_states.${config.num_hidden_layers - 1}`), dims: [2, S, config.hidden_size] },
        pooled: { data: float32Output(out, 'text_embeds'), dims: [2, config.projection_dim] },
      });
    }
  }
  const both = assembleSd3Conditioning(clip, {
    jointAttentionDim: geometry.joint_attention_dim,
    pooledProjectionDim: geometry.pooled_projection_dim,
    t5,
    maxSequenceLength: c.max_sequence_length,
  });
  const row = (t: Tensor32, b: number) => {
    const size = t.data.length / 2;
    return { data: t.data.subarray(b * size, (b + 1) * size), dims: [1, ...t.dims.slice(1)] };
  };
  return {
    negative: { promptEmbeds: row(both.promptEmbeds, 0), pooledEmbeds: row(both.pooledEmbeds, 0) },
    positive: { promptEmbeds: row(both.promptEmbeds, 1), pooledEmbeds: row(both.pooledEmbeds, 1) },
  };
}

describe('SD3 conditioning from TypeScript-built CLIP-L, CLIP-G and T5 graphs (fp32, WASM) vs diffusers encode_prompt', () => {
  it.each(CASES.flatMap((c) => (['unfused', 'fused'] as const).map((attention) => [c.name, attention, c] as const)))(
    '%s, %s attention',
    async (_name, attention, c) => {
      const { positive, negative } = await encodeCaseAsync(c, attention);
      const errors = {
        prompt_embeds: maxAbsDiff(positive.promptEmbeds.data, goldenFloat32(c.arrays.prompt_embeds)),
        pooled_prompt_embeds: maxAbsDiff(positive.pooledEmbeds.data, goldenFloat32(c.arrays.pooled_prompt_embeds)),
        negative_prompt_embeds: maxAbsDiff(negative.promptEmbeds.data, goldenFloat32(c.arrays.negative_prompt_embeds)),
        negative_pooled_prompt_embeds: maxAbsDiff(negative.pooledEmbeds.data, goldenFloat32(c.arrays.negative_pooled_prompt_embeds)),
      };
      console.log(
        `${c.name} (${attention} attention): max |error| ${Object.entries(errors)
          .map(([k, v]) => `${k} ${v.toExponential(2)}`)
          .join(', ')}`,
      );
      expect(positive.promptEmbeds.dims).toEqual(c.arrays.prompt_embeds.shape);
      expect(negative.pooledEmbeds.dims).toEqual(c.arrays.negative_pooled_prompt_embeds.shape);
      for (const error of Object.values(errors)) expect(error).toBeLessThan(WASM_TOLERANCE);
    },
    GRAPH_TEST_TIMEOUT_MS,
  );
});
