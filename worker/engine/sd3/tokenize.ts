/**
 * Prompt tokenisation for SD3-style text encoders, on top of @huggingface/tokenizers (pure JS, runs
 * in Node and workers). It adds what the library leaves to transformers: the call diffusers makes,
 * `tokenizer(prompt, padding="max_length", max_length=L, truncation=True)`:
 *   1. tokenise without special tokens;
 *   2. truncate the content so that content + special tokens ≤ L (special tokens survive, so a long
 *      CLIP prompt still ends in its end-of-text token);
 *   3. add the special tokens with the tokenizer's own post-processor (e.g. BOS … EOS for CLIP);
 *   4. pad on the right with the pad token to exactly L.
 * L defaults to tokenizer_config.json `model_max_length` (CLIP: 77); SD3's T5 uses max_sequence_length
 * (256), passed as `maxLength`. The pad token is the tokenizer's (`pad_token`), as CLIPTokenizer uses it.
 */

import { Tokenizer } from '@huggingface/tokenizers';

export interface TokenizerOptions {
  /** Padded/truncated length; defaults to tokenizer_config.model_max_length. */
  maxLength?: number;
}

export interface TokenizedPrompt {
  /** Token ids, length maxLength. */
  ids: Int32Array;
  /** 1 for real tokens (content and specials), 0 for padding. */
  attentionMask: Int32Array;
  /** True when the prompt was cut to fit. */
  truncated: boolean;
}

export interface TokenizedBatch {
  /** [batch, maxLength] row-major. */
  ids: Int32Array;
  attentionMask: Int32Array;
  dims: [number, number];
  truncated: boolean[];
}

type JsonObject = Record<string, unknown>;

/** Token text from a tokenizer_config field that may be a string or an AddedToken dict. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as JsonObject).content === 'string') {
    return (value as JsonObject).content as string;
  }
  return undefined;
}

// transformers uses a huge sentinel (int(1e30)) for "no limit"; such a tokenizer needs an explicit length.
const UNBOUNDED_MODEL_MAX_LENGTH = 1e12;

export class PromptTokenizer {
  readonly maxLength: number;
  readonly padTokenId: number;
  readonly padToken: string;
  private readonly tokenizer: Tokenizer;
  private readonly vocab: Map<string, number>;
  private readonly unkId: number | undefined;
  private readonly specialCount: number;

  /**
   * @param tokenizerJson parsed tokenizer.json
   * @param tokenizerConfig parsed tokenizer_config.json (model_max_length, pad_token, …)
   */
  constructor(tokenizerJson: object, tokenizerConfig: object, options: TokenizerOptions = {}) {
    const config = tokenizerConfig as JsonObject;
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.vocab = this.tokenizer.get_vocab(true);

    const configured = options.maxLength ?? (config.model_max_length as number | undefined);
    if (typeof configured !== 'number' || !Number.isInteger(configured) || configured <= 0 || configured >= UNBOUNDED_MODEL_MAX_LENGTH) {
      throw new RangeError(
        `tokenizer max length is ${JSON.stringify(configured)}; set tokenizer_config.model_max_length (CLIP: 77) or pass maxLength (SD3's T5: 256)`,
      );
    }
    this.maxLength = configured;

    const pad = tokenContent(config.pad_token);
    if (pad === undefined) {
      throw new RangeError(
        'tokenizer_config.pad_token is missing; SD3 pads every prompt to max length, so the tokenizer must name its pad token (CLIP-L: "<|endoftext|>", CLIP-G: "!", T5: "<pad>")',
      );
    }
    const padId = this.vocab.get(pad);
    if (padId === undefined) throw new RangeError(`pad token ${JSON.stringify(pad)} is not in the tokenizer vocabulary`);
    this.padToken = pad;
    this.padTokenId = padId;

    const unk = tokenContent(config.unk_token);
    this.unkId = unk !== undefined ? this.vocab.get(unk) : undefined;
    this.specialCount = this.addSpecialTokens([]).length;
    if (this.specialCount >= this.maxLength) {
      throw new RangeError(`max length ${this.maxLength} leaves no room for text after ${this.specialCount} special tokens`);
    }
  }

  private addSpecialTokens(tokens: string[]): string[] {
    const post = this.tokenizer.post_processor;
    return post ? post(tokens, null, true).tokens : tokens;
  }

  private idOf(token: string): number {
    const id = this.vocab.get(token) ?? this.unkId;
    if (id === undefined) {
      throw new RangeError(`token ${JSON.stringify(token)} is not in the vocabulary and the tokenizer has no unk_token`);
    }
    return id;
  }

  /** One prompt → ids padded/truncated to maxLength. */
  encode(text: string): TokenizedPrompt {
    if (typeof text !== 'string') throw new TypeError(`prompt must be a string, got ${typeof text}`);
    const content = this.tokenizer.tokenize(text, { add_special_tokens: false });
    const room = this.maxLength - this.specialCount;
    const truncated = content.length > room;
    const tokens = this.addSpecialTokens(truncated ? content.slice(0, room) : content);
    const ids = new Int32Array(this.maxLength).fill(this.padTokenId);
    const attentionMask = new Int32Array(this.maxLength);
    tokens.forEach((t, i) => {
      ids[i] = this.idOf(t);
      attentionMask[i] = 1;
    });
    return { ids, attentionMask, truncated };
  }

  /**
   * The words of `text` this tokenizer reads as its unknown token, as written (lower-case, without
   * the punctuation around them; an emoji is a word), each once. Byte-level BPE (CLIP) knows every word; a word-piece
   * vocabulary such as the built-in model's knows only its captions' words.
   */
  unknownWords(text: string): string[] {
    if (this.unkId === undefined) return [];
    const unknown = new Set<string>();
    for (const chunk of text.split(/\s+/)) {
      const word = chunk.replace(/^\p{P}+|\p{P}+$/gu, '');
      if (word === '') continue;
      const tokens = this.tokenizer.tokenize(word, { add_special_tokens: false });
      if (tokens.some((t) => (this.vocab.get(t) ?? this.unkId) === this.unkId)) unknown.add(word.toLowerCase());
    }
    return [...unknown];
  }

  /** Several prompts → [batch, maxLength] (e.g. [negative, positive] for CFG). */
  encodeBatch(texts: readonly string[]): TokenizedBatch {
    const L = this.maxLength;
    const ids = new Int32Array(texts.length * L);
    const attentionMask = new Int32Array(texts.length * L);
    const truncated: boolean[] = [];
    texts.forEach((text, b) => {
      const one = this.encode(text);
      ids.set(one.ids, b * L);
      attentionMask.set(one.attentionMask, b * L);
      truncated.push(one.truncated);
    });
    return { ids, attentionMask, dims: [texts.length, L], truncated };
  }
}

/** int64 copy of token ids, for ONNX text encoders exported with int64 `input_ids`. */
export function toInt64(ids: Int32Array): BigInt64Array {
  const out = new BigInt64Array(ids.length);
  for (let i = 0; i < ids.length; i++) out[i] = BigInt(ids[i]);
  return out;
}
