/**
 * The tokenizer of one tokenizer folder of a diffusers SD3 checkpoint, as PromptTokenizer takes it:
 * a tokenizer.json object (the Hugging Face `tokenizers` format) and tokenizer_config.json.
 *
 * CLIP tokenizer folders on the Hub often hold only `vocab.json` + `merges.txt` +
 * `tokenizer_config.json`. For those, the tokenizer.json object is built here the way
 * transformers' CLIPConverter builds it (transformers 5.x convert_slow_tokenizer.py):
 * byte-level BPE with "</w>" word ends and no unknown-merging, an NFC + collapse-whitespace +
 * lowercase normaliser, CLIP's split pattern then ByteLevel pre-tokenisation, and
 * "<|startoftext|> … <|endoftext|>" added by RobertaProcessing. Every special token that
 * tokenizer_config.json names (bos, eos, unk, pad and its added_tokens_decoder) becomes a special
 * added token, as transformers registers them: SD3's CLIP-G pads with "!", so "!" is then matched
 * before BPE and "!!" in a prompt becomes two pad ids.
 */
import { EngineError } from '../engine-error.js';

export interface TokenizerFiles {
  /** A tokenizer.json object. */
  tokenizerJson: Record<string, unknown>;
  /** Parsed tokenizer_config.json. */
  tokenizerConfig: Record<string, unknown>;
  /** Which files it came from, for messages and model notes. */
  builtFrom: 'tokenizer.json' | 'vocab.json + merges.txt';
}

/** Reads a file of the model folder; undefined when it does not exist. */
export type ReadOptionalFile = (path: string) => Promise<Uint8Array | undefined>;

/**
 * Loads `<folder>/tokenizer.json` + `tokenizer_config.json`, or builds the tokenizer.json object
 * from a CLIP tokenizer's `vocab.json` + `merges.txt` when tokenizer.json is absent.
 * @param folder e.g. "tokenizer_2"
 */
export async function readTokenizerFilesAsync(read: ReadOptionalFile, folder: string): Promise<TokenizerFiles> {
  const configPath = `${folder}/tokenizer_config.json`;
  const configBytes = await read(configPath);
  if (!configBytes)
    throw new EngineError('model-missing-file', `${configPath} is missing; every tokenizer folder needs it (model_max_length, pad_token)`);
  const tokenizerConfig = parseJsonObject(configPath, configBytes);

  const tokenizerBytes = await read(`${folder}/tokenizer.json`);
  if (tokenizerBytes) {
    return { tokenizerJson: parseJsonObject(`${folder}/tokenizer.json`, tokenizerBytes), tokenizerConfig, builtFrom: 'tokenizer.json' };
  }
  const vocabBytes = await read(`${folder}/vocab.json`);
  const mergesBytes = await read(`${folder}/merges.txt`);
  if (!vocabBytes || !mergesBytes) {
    const missing = [vocabBytes ? undefined : 'vocab.json', mergesBytes ? undefined : 'merges.txt'].filter(Boolean).join(' and ');
    throw new EngineError(
      'model-missing-file',
      `${folder}/ has no tokenizer.json and no ${missing}; Flowfill reads tokenizer.json, or builds a CLIP tokenizer from vocab.json + merges.txt`,
    );
  }
  const vocab = parseJsonObject(`${folder}/vocab.json`, vocabBytes);
  const merges = new TextDecoder().decode(mergesBytes);
  return {
    tokenizerJson: clipTokenizerJson(vocab, merges, tokenizerConfig, folder),
    tokenizerConfig,
    builtFrom: 'vocab.json + merges.txt',
  };
}

const CLIP_TOKENIZER_CLASSES = ['CLIPTokenizer', 'CLIPTokenizerFast'];

/** CLIP's pre-tokenisation pattern (openai/CLIP simple_tokenizer.py, as transformers' CLIPConverter writes it). */
const CLIP_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/**
 * A CLIP tokenizer.json object from the contents of `vocab.json` (token → id), `merges.txt`
 * ("#version" header, then one "left right" pair per line, in priority order) and
 * tokenizer_config.json. Token ids (also of <|startoftext|> and <|endoftext|>) come from the vocab.
 * @param folder the tokenizer folder, for messages
 */
export function clipTokenizerJson(
  vocab: Record<string, unknown>,
  mergesText: string,
  tokenizerConfig: Record<string, unknown>,
  folder = 'tokenizer',
): Record<string, unknown> {
  const tokenizerClass = tokenizerConfig.tokenizer_class;
  if (tokenizerClass !== undefined && !CLIP_TOKENIZER_CLASSES.includes(tokenizerClass as string)) {
    throw new EngineError(
      'model-mismatch',
      `${folder}/tokenizer_config.json: tokenizer_class is ${JSON.stringify(tokenizerClass)}; without tokenizer.json Flowfill builds ${CLIP_TOKENIZER_CLASSES.join(' or ')} from vocab.json + merges.txt (add the folder's tokenizer.json instead)`,
    );
  }
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new EngineError(
        'model-corrupt',
        `${folder}/vocab.json: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; expected a non-negative integer`,
      );
    }
  }
  const ids = vocab as Record<string, number>;
  const idOf = (field: string, fallback: string): [string, number] => {
    const token = tokenText(tokenizerConfig[field]) ?? fallback;
    const id = ids[token];
    if (id === undefined) {
      throw new EngineError(
        'model-mismatch',
        `${folder}/tokenizer_config.json: ${field} ${JSON.stringify(token)} is not in ${folder}/vocab.json`,
      );
    }
    return [token, id];
  };
  // CLIPTokenizer's defaults for tokens the config does not name.
  const bos = idOf('bos_token', '<|startoftext|>');
  const eos = idOf('eos_token', '<|endoftext|>');
  const unk = idOf('unk_token', '<|endoftext|>');
  const pad = idOf('pad_token', '<|endoftext|>');

  const merges: [string, string][] = [];
  mergesText.split(/\r?\n/).forEach((line, index) => {
    if (line.length === 0 || (index === 0 && line.startsWith('#version'))) return;
    const pair = line.split(' ');
    if (pair.length !== 2 || pair[0] === '' || pair[1] === '') {
      throw new EngineError(
        'model-corrupt',
        `${folder}/merges.txt line ${index + 1} is ${JSON.stringify(line)}; expected two tokens separated by one space`,
      );
    }
    merges.push(pair as [string, string]);
  });
  if (merges.length === 0) throw new EngineError('model-corrupt', `${folder}/merges.txt has no merges`);

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens(tokenizerConfig, [bos, eos, unk, pad], ids, folder),
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      ],
    },
    post_processor: { type: 'RobertaProcessing', sep: eos, cls: bos, trim_offsets: false, add_prefix_space: false },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk[0],
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: ids,
      merges,
    },
  };
}

interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** tokenizer_config's added_tokens_decoder entries plus the named special tokens, by id. */
function addedTokens(
  config: Record<string, unknown>,
  named: [string, number][],
  vocab: Record<string, number>,
  folder: string,
): AddedToken[] {
  const byId = new Map<number, AddedToken>();
  const declared = config.added_tokens_decoder;
  if (declared !== undefined) {
    if (typeof declared !== 'object' || declared === null) {
      throw new EngineError(
        'model-corrupt',
        `${folder}/tokenizer_config.json: added_tokens_decoder is ${JSON.stringify(declared)}; expected an object of id → token`,
      );
    }
    for (const [key, entry] of Object.entries(declared as Record<string, unknown>)) {
      const e = (entry ?? {}) as Record<string, unknown>;
      const id = Number(key);
      if (!Number.isInteger(id) || id < 0 || typeof e.content !== 'string') {
        throw new EngineError(
          'model-corrupt',
          `${folder}/tokenizer_config.json: added_tokens_decoder["${key}"] is ${JSON.stringify(entry)}; expected {"content": "…"} under a token id`,
        );
      }
      byId.set(id, {
        id,
        content: e.content,
        single_word: e.single_word === true,
        lstrip: e.lstrip === true,
        rstrip: e.rstrip === true,
        normalized: e.normalized === true,
        special: e.special !== false,
      });
    }
  }
  for (const [content, id] of named) {
    const existing = byId.get(id);
    if (existing) existing.special = true;
    else byId.set(id, { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  }
  for (const token of byId.values()) {
    if (vocab[token.content] !== undefined && vocab[token.content] !== token.id) {
      throw new EngineError(
        'model-mismatch',
        `${folder}/tokenizer_config.json gives ${JSON.stringify(token.content)} id ${token.id}, but ${folder}/vocab.json gives it ${vocab[token.content]}`,
      );
    }
  }
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

/** Token text from a tokenizer_config field that is a string or an AddedToken object. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Record<string, unknown>).content === 'string')
    return (value as { content: string }).content;
  return undefined;
}

function parseJsonObject(path: string, bytes: Uint8Array): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new EngineError('model-corrupt', `${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EngineError('model-corrupt', `${path} holds ${Array.isArray(parsed) ? 'an array' : String(parsed)}; expected a JSON object`);
  }
  return parsed as Record<string, unknown>;
}
