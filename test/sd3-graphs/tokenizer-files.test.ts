/**
 * Tokenisers from a diffusers folder: tokenizer.json where it exists, else a CLIP tokenizer built
 * from vocab.json + merges.txt + tokenizer_config.json. Checked against the tokenizer.json that
 * transformers wrote for the same files, and against the exact ids the pipeline used in every
 * golden case (p4: "!!" becomes two pad ids in CLIP-G).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { clipTokenizerJson, readTokenizerFilesAsync } from '../../worker/engine/sd3/tokenizer-files.js';
import { PromptTokenizer } from '../../worker/engine/sd3/tokenize.js';
import { rejectionOf } from '../engine-runtime/helpers.js';
import { CASES, FIXTURE, folderReader, goldenIds, GRAPH_TEST_TIMEOUT_MS } from './text-encoder-fixture.js';

const TOKENIZERS = ['tokenizer', 'tokenizer_2', 'tokenizer_3'] as const;

/** The model folder's files, with `hidden` files treated as absent. */
function readerWithout(model: string, ...hidden: string[]) {
  const read = folderReader(model);
  return (relative: string) => (hidden.includes(relative) ? Promise.resolve(undefined) : read(relative));
}

function fixtureText(model: string, relative: string): string {
  return readFileSync(path.join(FIXTURE, model, relative), 'utf8');
}

describe('CLIP tokenizer.json built from vocab.json + merges.txt', () => {
  it.each(['tokenizer', 'tokenizer_2'])(
    'equals the tokenizer.json transformers wrote for sd3m_style_no_t5/%s',
    async (folder) => {
      const built = await readTokenizerFilesAsync(readerWithout('sd3m_style_no_t5', `${folder}/tokenizer.json`), folder);
      expect(built.builtFrom).toBe('vocab.json + merges.txt');
      expect(built.tokenizerJson).toEqual(JSON.parse(fixtureText('sd3m_style_no_t5', `${folder}/tokenizer.json`)));
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it(
    'reads tokenizer.json when the folder has one',
    async () => {
      const files = await readTokenizerFilesAsync(folderReader('sd3m_style_no_t5'), 'tokenizer_2');
      expect(files.builtFrom).toBe('tokenizer.json');
      expect(files.tokenizerConfig.pad_token).toBe('!');
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it(
    'takes added_tokens_decoder as the Hub configs write it, and ids from the vocab',
    () => {
      const vocab = JSON.parse(fixtureText('sd35m_style', 'tokenizer_2/vocab.json'));
      const merges = fixtureText('sd35m_style', 'tokenizer_2/merges.txt');
      const config = JSON.parse(fixtureText('sd35m_style', 'tokenizer_2/tokenizer_config.json'));
      const flags = { lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
      const hubConfig = {
        ...config,
        added_tokens_decoder: {
          '0': { content: '!', ...flags },
          '49406': { content: '<|startoftext|>', ...flags },
          '49407': { content: '<|endoftext|>', ...flags },
        },
      };
      expect(clipTokenizerJson(vocab, merges, hubConfig, 'tokenizer_2')).toEqual(clipTokenizerJson(vocab, merges, config, 'tokenizer_2'));
      // Start and end ids come from the vocabulary, not from constants (here swapped with "(" and ")").
      const json = clipTokenizerJson({ ...vocab, '<|startoftext|>': 7, '<|endoftext|>': 8, '(': 49406, ')': 49407 }, merges, config) as {
        post_processor: object;
      };
      expect(json.post_processor).toEqual({
        type: 'RobertaProcessing',
        sep: ['<|endoftext|>', 8],
        cls: ['<|startoftext|>', 7],
        trim_offsets: false,
        add_prefix_space: false,
      });
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it(
    '"!" is a special token only where it is the pad token (CLIP-G), so "!!" is two pad ids there',
    async () => {
      const ids: Record<string, number[]> = {};
      for (const folder of ['tokenizer', 'tokenizer_2']) {
        const files = await readTokenizerFilesAsync(folderReader('sd35m_style'), folder);
        ids[folder] = Array.from(new PromptTokenizer(files.tokenizerJson, files.tokenizerConfig).encode('lake!!').ids.subarray(0, 5));
      }
      expect(ids).toEqual({ tokenizer: [49406, 2553, 748, 49407, 49407], tokenizer_2: [49406, 2553, 0, 0, 49407] });
    },
    GRAPH_TEST_TIMEOUT_MS,
  );
});

describe('token ids exactly as the SD3 pipeline tokenised every golden case', () => {
  it.each(CASES.map((c) => [c.name, c] as const))(
    '%s',
    async (_name, c) => {
      for (const folder of TOKENIZERS) {
        const golden = c.arrays[`${folder}_prompt_ids`];
        if (!golden) continue; // no T5 in this folder
        // Both sources where the folder has a tokenizer.json: it, and the vocab.json + merges.txt build.
        const readers = [folderReader(c.model), ...(folder === 'tokenizer_3' ? [] : [readerWithout(c.model, `${folder}/tokenizer.json`)])];
        for (const read of readers) {
          const files = await readTokenizerFilesAsync(read, folder);
          const tokenizer = new PromptTokenizer(
            files.tokenizerJson,
            files.tokenizerConfig,
            folder === 'tokenizer_3' ? { maxLength: c.max_sequence_length } : {},
          );
          for (const [which, text] of [
            ['prompt', c.prompt],
            ['negative', c.negative],
          ] as const) {
            const ids = Array.from(tokenizer.encode(text).ids);
            expect({ folder, from: files.builtFrom, which, ids }).toEqual({
              folder,
              from: files.builtFrom,
              which,
              ids: goldenIds(c.arrays[`${folder}_${which}_ids`]),
            });
          }
        }
      }
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it(
    'a prompt longer than 77 CLIP tokens is cut to 75 text tokens between <|startoftext|> and <|endoftext|>',
    async () => {
      // p2's 49 words give 66 tokens, so the pipeline did not cut it; twice p2 must be cut.
      const p2 = CASES.find((c) => c.name.startsWith('p2'))!;
      const files = await readTokenizerFilesAsync(folderReader(p2.model), 'tokenizer_2');
      const tokenizer = new PromptTokenizer(files.tokenizerJson, files.tokenizerConfig);
      const once = Array.from(tokenizer.encode(p2.prompt).ids);
      expect(once.indexOf(49407)).toBe(65);
      const twice = tokenizer.encode(`${p2.prompt} ${p2.prompt}`);
      expect(twice.truncated).toBe(true);
      expect(Array.from(twice.ids)).toEqual([...once.slice(0, 65), ...once.slice(1, 12), 49407]);
    },
    GRAPH_TEST_TIMEOUT_MS,
  );
});

describe('tokenizer folders that cannot be read are named', () => {
  it(
    'a folder without tokenizer_config.json',
    async () => {
      const error = await rejectionOf(
        readTokenizerFilesAsync(readerWithout('sd35m_style', 'tokenizer/tokenizer_config.json'), 'tokenizer'),
      );
      expect(error).toEqual({ code: 'model-missing-file', message: expect.stringContaining('tokenizer/tokenizer_config.json is missing') });
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it(
    'a CLIP folder with vocab.json but no merges.txt (and no tokenizer.json)',
    async () => {
      const error = await rejectionOf(readTokenizerFilesAsync(readerWithout('sd35m_style', 'tokenizer_2/merges.txt'), 'tokenizer_2'));
      expect(error.code).toBe('model-missing-file');
      expect(error.message).toContain(
        'tokenizer_2/ has no tokenizer.json and no merges.txt; Flowfill reads tokenizer.json, or builds a CLIP tokenizer from vocab.json + merges.txt',
      );
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it(
    'a T5 folder without tokenizer.json',
    async () => {
      const error = await rejectionOf(readTokenizerFilesAsync(readerWithout('sd35m_style', 'tokenizer_3/tokenizer.json'), 'tokenizer_3'));
      expect(error.message).toContain('tokenizer_3/ has no tokenizer.json and no vocab.json and merges.txt');
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it(
    'invalid JSON, another tokenizer class, a pad token outside the vocabulary, a malformed merge',
    () => {
      const vocab = JSON.parse(fixtureText('sd35m_style', 'tokenizer/vocab.json'));
      const merges = fixtureText('sd35m_style', 'tokenizer/merges.txt');
      const config = JSON.parse(fixtureText('sd35m_style', 'tokenizer/tokenizer_config.json'));
      expect(() => clipTokenizerJson(vocab, merges, { ...config, tokenizer_class: 'GPT2Tokenizer' }, 'tokenizer')).toThrow(
        'tokenizer/tokenizer_config.json: tokenizer_class is "GPT2Tokenizer"; without tokenizer.json Flowfill builds CLIPTokenizer or CLIPTokenizerFast from vocab.json + merges.txt',
      );
      expect(() => clipTokenizerJson(vocab, merges, { ...config, pad_token: '<pad>' }, 'tokenizer')).toThrow(
        'tokenizer/tokenizer_config.json: pad_token "<pad>" is not in tokenizer/vocab.json',
      );
      expect(() => clipTokenizerJson(vocab, `#version: 0.2\ni n\nthree parts here\n`, config, 'tokenizer')).toThrow(
        'tokenizer/merges.txt line 3 is "three parts here"; expected two tokens separated by one space',
      );
      expect(() => clipTokenizerJson({ ...vocab, a: -1 }, merges, config, 'tokenizer')).toThrow(
        'tokenizer/vocab.json: token "a" has id -1',
      );
    },
    GRAPH_TEST_TIMEOUT_MS,
  );

  it(
    'a tokenizer_config.json that is not JSON',
    async () => {
      const read = folderReader('sd35m_style');
      const broken = (relative: string) =>
        relative === 'tokenizer/tokenizer_config.json' ? Promise.resolve(new TextEncoder().encode('{"pad_token": ')) : read(relative);
      const error = await rejectionOf(readTokenizerFilesAsync(broken, 'tokenizer'));
      expect(error).toEqual({
        code: 'model-corrupt',
        message: expect.stringContaining('tokenizer/tokenizer_config.json is not valid JSON'),
      });
    },
    GRAPH_TEST_TIMEOUT_MS,
  );
});
