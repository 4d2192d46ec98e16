/**
 * The tokenizer each SD3 text encoder is fed through, and the token lengths that follow from them:
 * what the transformer attends to is known from the package alone, before any session exists (the
 * memory plan and the GPU attention checks need it), so this module depends on no runtime.
 */
import type { PromptCheck } from '../../../common/engine-types.js';
import { EngineError } from '../engine-error.js';
import { tokenizerFolderOf, type Sd3Package, type TextEncoderComponent } from './package.js';
import { PromptTokenizer } from './tokenize.js';

/** diffusers StableDiffusion3Pipeline's default max_sequence_length (the T5 block length). */
const DIFFUSERS_MAX_SEQUENCE_LENGTH = 256;

/** Length of the T5 block (or its zeros): flowfill.json max_sequence_length, else diffusers' 256. */
export function t5SequenceLength(pkg: Sd3Package): number {
  return pkg.manifest?.max_sequence_length ?? DIFFUSERS_MAX_SEQUENCE_LENGTH;
}

/** Token length one text encoder is fed: tokenizer_config model_max_length (CLIP), max_sequence_length (T5). */
export function encoderSequenceLength(pkg: Sd3Package, component: TextEncoderComponent): number {
  return tokenizerFor(pkg, component).maxLength;
}

/** Number of text tokens the transformer will attend to, for memory checks before encoding. */
export function conditioningSequenceLength(pkg: Sd3Package): number {
  const clipLengths = pkg.textEncoders.filter((encoder) => encoder.kind === 'clip').map((encoder) => encoderSequenceLength(pkg, encoder));
  // CLIP encoders share one token axis (concatenated on channels); T5 (or its zeros) follows it.
  return (clipLengths.length > 0 ? Math.max(...clipLengths) : 0) + t5SequenceLength(pkg);
}

/** The token ids `component` is fed for `text` (padded/truncated as SD3 does), e.g. for parity checks. */
export function promptTokenIds(pkg: Sd3Package, component: TextEncoderComponent, text: string): Int32Array {
  return tokenizerFor(pkg, component).encode(text).ids;
}

const tokenizers = new WeakMap<TextEncoderComponent, PromptTokenizer>();

export function tokenizerFor(pkg: Sd3Package, component: TextEncoderComponent): PromptTokenizer {
  let tokenizer = tokenizers.get(component);
  if (!tokenizer) {
    const folder = tokenizerFolderOf(component.name);
    try {
      tokenizer = new PromptTokenizer(
        component.tokenizerJson,
        component.tokenizerConfig,
        component.kind === 't5' ? { maxLength: t5SequenceLength(pkg) } : {},
      );
    } catch (error) {
      throw new EngineError('model-corrupt', `${folder}/tokenizer.json: ${(error as Error).message}`, { cause: error });
    }
    tokenizers.set(component, tokenizer);
  }
  return tokenizer;
}

/** The words of `text` no text encoder of the package knows (a word one encoder knows still reaches the transformer through it). */
export function wordsNoEncoderKnows(pkg: Sd3Package, text: string): string[] {
  const [first = [], ...rest] = pkg.textEncoders.map((encoder) => tokenizerFor(pkg, encoder).unknownWords(text));
  return first.filter((word) => rest.every((others) => others.includes(word)));
}

/** What the package's tokenizers make of a prompt: the words none of them knows, and whether any encoder cuts it short. */
export function checkPromptWords(pkg: Sd3Package, prompt: string): PromptCheck {
  if (typeof prompt !== 'string') throw new EngineError('invalid-request', `prompt must be a string, got ${typeof prompt}`);
  return {
    unknownWords: wordsNoEncoderKnows(pkg, prompt),
    truncated: pkg.textEncoders.some((encoder) => tokenizerFor(pkg, encoder).encode(prompt).truncated),
  };
}
