/**
 * The built-in model's prompt vocabulary (flowfill.json "vocabulary", model/flowfill/vocabulary.py) as
 * the engine reads it, against the model's own tokenizer: every subject, style, colour, caption
 * template and panel chip the panel offers for it must be words the model knows, and the words it
 * does not know are named before anything is generated, and in the notes of what is.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PromptVocabulary } from '../../common/engine-types.js';
import { presetsFor, promptForSubject, subjectChoices } from '../../ui/settings/prompt-vocabulary.js';
import { STYLE_PRESETS } from '../../ui/settings/style-presets.js';
import { modelFolderSourceAsync } from '../../worker/cli/node-host.js';
import { createEngine } from '../../worker/engine/engine.js';
import { loadModelPackageAsync } from '../../worker/engine/load-model-package.js';
import type { FamilyPackage } from '../../worker/engine/model-family.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

let pkg: FamilyPackage;
let vocabulary: PromptVocabulary;

beforeAll(async () => {
  pkg = await loadModelPackageAsync(await modelFolderSourceAsync(path.join(repoRoot, 'models/default')));
  vocabulary = pkg.summary.vocabulary!;
}, 60_000);

test('the built-in model declares the 400 subjects it was trained on, by kind, and the other names it knows', () => {
  expect(vocabulary.kinds.map((k) => [k.kind, k.subjects.length])).toEqual([
    ['emoji', 200],
    ['icon', 200],
  ]);
  expect(vocabulary.otherSubjects).toBe(2477);
  expect(vocabulary.colours).toHaveLength(36);
  const phrases = subjectChoices(vocabulary).map((c) => c.phrase);
  expect(new Set(phrases).size).toBe(400);
  expect(phrases).toContain('shopping cart icon');
});

test("each subject's test count adds up to the committed sampler checks of this very transformer", () => {
  // model/flowfill/vocabulary.py --checks: v1_emoji (the 200 emoji) and icons at seeds 5–9, 256², drawn by v2.10 (the
  // mean of teacher calls 23 and 24, v2.9's weights) at its sampler, 10 steps with guidance 2.5 at shift 6
  // (model/README.md "Session 52"; v2.8's counts stay in models/v2.8).
  const checks = ['avg23-24-t256-sh6-g2.5-n1000-s5-steps10.json', 'avg23-24-icons-t256-sh6-g2.5-n1000-s5-steps10.json'].map(
    (name) =>
      JSON.parse(readFileSync(path.join(repoRoot, 'model/eval/v2-deep16/sampler-checks', name), 'utf8')) as {
        model: string;
        set: string;
        sampler: { shift: number; guidance: number };
        steps: number;
        scores: { per_image: { subject_top1_vocab: number[] } };
      },
  );
  const recognised = (set: string) =>
    checks
      .filter((c) => c.set === set)
      .flatMap((c) => c.scores.per_image.subject_top1_vocab)
      .reduce((a, b) => a + b, 0);
  const total = (kind: string) => {
    const subjects = vocabulary.kinds.find((k) => k.kind === kind)!.subjects;
    expect(subjects.every((s) => s.judged !== undefined)).toBe(true);
    return subjects.reduce((sum, s) => [sum[0] + s.judged!.recognised, sum[1] + s.judged!.images], [0, 0]);
  };
  expect(total('emoji')).toEqual([recognised('v1_emoji'), 1000]);
  expect(total('icon')).toEqual([recognised('icons'), 1000]);
  // The same images by the style their prompts asked for: thin icons the weakest (the panel's style hint).
  const byStyle = (kind: string) => vocabulary.kinds.find((k) => k.kind === kind)!.judgedByStyle!;
  const sum = (counts: Record<string, { recognised: number; images: number }>) =>
    Object.values(counts).reduce((s, c) => [s[0] + c.recognised, s[1] + c.images], [0, 0]);
  expect(sum(byStyle('emoji'))).toEqual(total('emoji'));
  expect(sum(byStyle('icon'))).toEqual(total('icon'));
  expect(byStyle('icon').thin).toEqual({ recognised: 106, images: 220 });
  expect(vocabulary.judged).toMatchObject({ size: 256, images: 2000 });
  // The checks are of the shipped transformer (its DiT steps) at the sampler and step count it recommends, and give the
  // README's rates: 95.0 % and 65.9 % among the 400.
  const flowfill = JSON.parse(readFileSync(path.join(repoRoot, 'models/default/flowfill.json'), 'utf8')) as {
    training: { dit_steps: number };
    recommended: { shift: number; guidance: number; steps: number };
  };
  const ditSteps = flowfill.training.dit_steps;
  for (const c of checks) {
    expect(c.model).toContain(`(${ditSteps} DiT steps)`);
    expect(c.sampler).toEqual({ shift: flowfill.recommended.shift, guidance: flowfill.recommended.guidance });
    expect(c.steps).toBe(flowfill.recommended.steps);
  }
  expect([recognised('v1_emoji') / 1000, recognised('icons') / 1000]).toEqual([0.95, 0.659]);
});

test('every subject name and alias, style, colour and caption template is a word the model knows', () => {
  const texts = [
    ...vocabulary.kinds.flatMap((k) => [k.prompt.replace(/\{\w+\}/g, ''), ...k.styles.map((s) => `${s} style`)]),
    ...vocabulary.kinds.flatMap((k) => k.subjects.flatMap((s) => [s.name, ...(s.aliases ?? [])])),
    ...vocabulary.colours,
  ];
  const unknown = texts.filter((text) => pkg.checkPrompt(text).unknownWords.length > 0);
  expect(unknown).toEqual([]);
});

test("the panel's chips and picked-subject prompts for it use only known words; the general chips would not", () => {
  for (const preset of presetsFor(vocabulary)) expect([preset.text, pkg.checkPrompt(preset.text).unknownWords]).toEqual([preset.text, []]);
  for (const { phrase } of subjectChoices(vocabulary)) {
    const prompt = promptForSubject(vocabulary, phrase, 'on a teal background, glossy style')!;
    expect([prompt, pkg.checkPrompt(prompt).unknownWords]).toEqual([prompt, []]);
  }
  // What the panel offered before the model declared its vocabulary: words it reads as unknown.
  const general = STYLE_PRESETS.flatMap((preset) => pkg.checkPrompt(preset.text).unknownWords);
  expect(general.sort()).toEqual(['an', 'modern']);
});

test('unknown words are named as written, once, without the punctuation around them; known ones are not', () => {
  expect(pkg.checkPrompt('rocket, modern style, on an orange background').unknownWords).toEqual(['modern', 'an']);
  expect(pkg.checkPrompt('Shopping cart icon, LINE style, dark blue on white!').unknownWords).toEqual([]);
  expect(pkg.checkPrompt('a Zorbly, zorbly (🚀) rocket').unknownWords).toEqual(['zorbly', '🚀']);
  expect(pkg.checkPrompt('')).toEqual({ unknownWords: [], truncated: false });
});

test('a prompt longer than the text encoder reads is reported as cut off', () => {
  const long = Array.from({ length: 80 }, () => 'rocket').join(' ');
  expect(pkg.checkPrompt(long).truncated).toBe(true);
  expect(pkg.checkPrompt('rocket').truncated).toBe(false);
});

test('a generation with words the model does not know says so in its notes, naming them', async () => {
  const engine = createEngine({ backend: 'wasm' });
  try {
    await engine.loadModel(await modelFolderSourceAsync(path.join(repoRoot, 'models/default')));
    const request = { prompt: 'rocket, modern style', negativePrompt: 'zorbly', width: 128, height: 128, steps: 1, guidance: 2, seed: 1 };
    const result = await engine.generate({ jobId: 'unknown-words', ...request });
    expect(result.notes).toContain('the prompt has words this model does not know (read as unknown tokens): modern');
    expect(result.notes).toContain('the negative prompt has words this model does not know (read as unknown tokens): zorbly');
    const known = await engine.generate({ jobId: 'known-words', ...request, prompt: 'rocket, flat style', negativePrompt: '' });
    expect(known.notes.filter((note) => note.includes('does not know'))).toEqual([]);
  } finally {
    await engine.dispose();
  }
}, 120_000);
