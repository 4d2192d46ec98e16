import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PromptTokenizer, toInt64 } from '../../../worker/engine/sd3/tokenize.js';

// A hand-written CLIP-style tokenizer: lowercase, whitespace split, BPE with "</w>" word ends,
// "<|startoftext|> $A <|endoftext|>" template, ids: a</w> 9, red</w> 20, cat</w> 18, on</w> 21, BOS 22, EOS 23, "!" 0.
const here = path.dirname(fileURLToPath(import.meta.url));
const tokenizerJson = JSON.parse(fs.readFileSync(path.join(here, 'fixtures/tiny-clip-tokenizer.json'), 'utf8'));
const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(here, 'fixtures/tiny-clip-tokenizer_config.json'), 'utf8'));
const BOS = 22;
const EOS = 23;

describe('PromptTokenizer (CLIPTokenizer padding="max_length", truncation=True)', () => {
  const tok = new PromptTokenizer(tokenizerJson, tokenizerConfig);

  test('reads max length and pad token from tokenizer_config', () => {
    expect(tok.maxLength).toBe(8);
    expect(tok.padToken).toBe('<|endoftext|>');
    expect(tok.padTokenId).toBe(EOS);
  });

  test('BOS + BPE tokens + EOS, padded to max length with the pad token', () => {
    const out = tok.encode('A red cat');
    expect(Array.from(out.ids)).toEqual([BOS, 9, 20, 18, EOS, EOS, EOS, EOS]);
    expect(Array.from(out.attentionMask)).toEqual([1, 1, 1, 1, 1, 0, 0, 0]);
    expect(out.truncated).toBe(false);
    // Unmerged pieces and unknown characters (unk = <|endoftext|> as in CLIP).
    expect(Array.from(tok.encode('rat z').ids)).toEqual([BOS, 7, 1, 12, EOS, EOS, EOS, EOS]);
  });

  test("the empty prompt (SD3's default negative) is BOS, EOS, padding", () => {
    expect(Array.from(tok.encode('').ids)).toEqual([BOS, EOS, EOS, EOS, EOS, EOS, EOS, EOS]);
    expect(Array.from(tok.encode('').attentionMask)).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
  });

  test('long prompts are cut so the end token survives', () => {
    const out = tok.encode('a red cat on a red cat on');
    expect(Array.from(out.ids)).toEqual([BOS, 9, 20, 18, 21, 9, 20, EOS]);
    expect(out.truncated).toBe(true);
    expect(Array.from(out.attentionMask)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  test('CLIP-G style pad token "!" and an explicit max length (SD3 T5 uses 256)', () => {
    const g = new PromptTokenizer(tokenizerJson, { ...tokenizerConfig, pad_token: { content: '!', special: true } }, { maxLength: 6 });
    expect(g.padTokenId).toBe(0);
    expect(Array.from(g.encode('red cat').ids)).toEqual([BOS, 20, 18, EOS, 0, 0]);
    expect(Array.from(g.encode('a red cat on a').ids)).toEqual([BOS, 9, 20, 18, 21, EOS]);
  });

  test('encodeBatch stacks rows; toInt64 converts for int64 encoder inputs', () => {
    const batch = tok.encodeBatch(['', 'red cat']);
    expect(batch.dims).toEqual([2, 8]);
    expect(Array.from(batch.ids.subarray(8, 12))).toEqual([BOS, 20, 18, EOS]);
    expect(batch.truncated).toEqual([false, false]);
    const ids64 = toInt64(batch.ids);
    expect(ids64).toBeInstanceOf(BigInt64Array);
    expect(ids64[9]).toBe(20n);
  });

  test('missing or unusable settings are explained', () => {
    expect(() => new PromptTokenizer(tokenizerJson, { ...tokenizerConfig, pad_token: undefined })).toThrow(
      /pad_token is missing.*CLIP-L: "<\|endoftext\|>"/,
    );
    expect(() => new PromptTokenizer(tokenizerJson, { ...tokenizerConfig, model_max_length: 1e30 })).toThrow(
      /max length is 1e\+30; set tokenizer_config.model_max_length \(CLIP: 77\) or pass maxLength/,
    );
    expect(() => new PromptTokenizer(tokenizerJson, { ...tokenizerConfig, pad_token: '<pad>' })).toThrow(
      /pad token "<pad>" is not in the tokenizer vocabulary/,
    );
    expect(() => new PromptTokenizer(tokenizerJson, tokenizerConfig, { maxLength: 2 })).toThrow(
      /leaves no room for text after 2 special tokens/,
    );
  });
});
