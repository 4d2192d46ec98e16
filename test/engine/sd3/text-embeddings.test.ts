import { assembleSd3Conditioning, concatBatch, zeroEmbeddings, type Tensor32 } from '../../../worker/engine/sd3/text-embeddings.js';
import { readF32, readJson } from '../golden.js';

const t = (dims: number[], f: (i: number) => number): Tensor32 => {
  const n = dims.reduce((a, b) => a * b, 1);
  return { data: Float32Array.from({ length: n }, (_, i) => f(i)), dims };
};

describe('assembleSd3Conditioning (diffusers encode_prompt layout)', () => {
  // Two CLIP-style encoders (widths 2 and 3), joint_attention_dim 8, pooled 2 + 3 = 5.
  const clipL = { hiddenStates: t([2, 2, 2], (i) => 100 + i), pooled: t([2, 2], (i) => 10 + i) };
  const clipG = { hiddenStates: t([2, 2, 3], (i) => 200 + i), pooled: t([2, 3], (i) => 20 + i) };
  const geometry = { jointAttentionDim: 8, pooledProjectionDim: 5 };

  test('without T5: CLIP tokens concatenated per token, zero-padded to D, then maxSequenceLength zero tokens', () => {
    const { promptEmbeds, pooledEmbeds } = assembleSd3Conditioning([clipL, clipG], { ...geometry, maxSequenceLength: 3 });
    expect(promptEmbeds.dims).toEqual([2, 5, 8]);
    const row = (b: number, s: number) => Array.from(promptEmbeds.data.subarray((b * 5 + s) * 8, (b * 5 + s + 1) * 8));
    expect(row(0, 0)).toEqual([100, 101, 200, 201, 202, 0, 0, 0]);
    expect(row(0, 1)).toEqual([102, 103, 203, 204, 205, 0, 0, 0]);
    expect(row(1, 1)).toEqual([106, 107, 209, 210, 211, 0, 0, 0]);
    for (const s of [2, 3, 4]) expect(row(1, s)).toEqual(new Array(8).fill(0));
    expect(pooledEmbeds.dims).toEqual([2, 5]);
    expect(Array.from(pooledEmbeds.data)).toEqual([10, 11, 20, 21, 22, 12, 13, 23, 24, 25]);
  });

  test('with T5: its tokens follow the CLIP tokens unchanged', () => {
    const t5 = t([2, 3, 8], (i) => -i);
    const { promptEmbeds } = assembleSd3Conditioning([clipL, clipG], { ...geometry, t5, maxSequenceLength: 256 });
    expect(promptEmbeds.dims).toEqual([2, 5, 8]);
    expect(Array.from(promptEmbeds.data.subarray((1 * 5 + 2) * 8, (1 * 5 + 5) * 8))).toEqual(Array.from(t5.data.subarray(24, 48)));
  });

  test('a single CLIP-style encoder (the default Flowfill model) works the same way', () => {
    const one = { hiddenStates: t([1, 3, 8], (i) => i), pooled: t([1, 5], (i) => i) };
    const { promptEmbeds } = assembleSd3Conditioning([one], { ...geometry, maxSequenceLength: 0 });
    expect(promptEmbeds.dims).toEqual([1, 3, 8]);
    expect(promptEmbeds.data).toEqual(one.hiddenStates.data);
  });

  test('mismatched widths fail naming the numbers', () => {
    expect(() => assembleSd3Conditioning([clipL], { ...geometry, maxSequenceLength: 1 })).toThrow(
      /pooled widths sum to 2 but transformer pooled_projection_dim is 5/,
    );
    expect(() => assembleSd3Conditioning([clipL, clipG], { jointAttentionDim: 4, pooledProjectionDim: 5, maxSequenceLength: 1 })).toThrow(
      /CLIP hidden widths sum to 5, more than joint_attention_dim 4/,
    );
    expect(() => assembleSd3Conditioning([clipL, clipG], { ...geometry, t5: t([2, 3, 7], () => 0), maxSequenceLength: 3 })).toThrow(
      /t5 hidden states are \[2, 3, 7\]; expected \[2, S, 8\]/,
    );
    const shortSeq = { hiddenStates: t([2, 1, 3], () => 0), pooled: t([2, 3], () => 0) };
    expect(() => assembleSd3Conditioning([clipL, shortSeq], { ...geometry, maxSequenceLength: 1 })).toThrow(
      /clip hiddenStates\[1\] has dims \[2, 1, 3\]; every encoder must share the leading dims \[2, 2\]/,
    );
    expect(() => assembleSd3Conditioning([], { ...geometry, maxSequenceLength: 1 })).toThrow(/use zeroEmbeddings\(\)/);
    expect(() =>
      assembleSd3Conditioning([{ hiddenStates: { data: new Float32Array(3), dims: [1, 2, 2] }, pooled: t([1, 5], () => 0) }], {
        ...geometry,
        maxSequenceLength: 1,
      }),
    ).toThrow(/clip\[0\].hiddenStates has 3 values but dims \[1, 2, 2\] need 4/);
  });
});

describe('zeroEmbeddings and CFG batching', () => {
  test('zeros shaped by the transformer config', () => {
    const cfg = readJson('transformer/config.json');
    const z = zeroEmbeddings({ jointAttentionDim: cfg.joint_attention_dim, pooledProjectionDim: cfg.pooled_projection_dim }, 7);
    expect(z.promptEmbeds.dims).toEqual([1, 7, 32]);
    expect(z.pooledEmbeds.dims).toEqual([1, 64]);
    expect(z.promptEmbeds.data.every((v) => v === 0)).toBe(true);
    expect(() => zeroEmbeddings({ jointAttentionDim: 32, pooledProjectionDim: 64 }, 0)).toThrow(
      /sequenceLength must be a positive integer, got 0/,
    );
  });

  test('concatBatch puts the negative first, matching the fixture CFG layout', () => {
    const neg = { data: readF32('negative_prompt_embeds.bin'), dims: [1, 7, 32] };
    const pos = { data: readF32('prompt_embeds.bin'), dims: [1, 7, 32] };
    const both = concatBatch(neg, pos);
    expect(both.dims).toEqual([2, 7, 32]);
    expect(both.data.subarray(0, 224)).toEqual(neg.data);
    expect(both.data.subarray(224)).toEqual(pos.data);
    expect(() => concatBatch(neg, { data: new Float32Array(8 * 32), dims: [1, 8, 32] })).toThrow(/trailing dims differ/);
  });
});
