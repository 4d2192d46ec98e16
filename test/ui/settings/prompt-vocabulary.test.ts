import type { PromptVocabulary } from '../../../common/engine-types.js';
import { namedSubjects, presetsFor, promptForSubject, subjectChoices, subjectCounts } from '../../../ui/settings/prompt-vocabulary.js';
import { STYLE_PRESETS, togglePreset } from '../../../ui/settings/style-presets.js';

// Shaped as model/flowfill/vocabulary.py writes it (and worker/engine/prompt-vocabulary.ts reads it).
const vocabulary: PromptVocabulary = {
  kinds: [
    {
      kind: 'emoji',
      prompt: '{subject}, {style} style, on a {background} background',
      styles: ['flat', 'glossy', 'twemoji'],
      subjects: [
        { name: 'heart', styles: ['flat', 'glossy'] },
        { name: 'heart with arrow', aliases: ['cupid'], styles: ['twemoji'] },
        { name: 'rocket', styles: ['flat', 'glossy', 'twemoji'] },
      ],
    },
    {
      kind: 'icon',
      prompt: '{subject} icon, {style} style, {colour} on {background}',
      styles: ['line', 'filled', 'bold', 'thin'],
      subjects: [{ name: 'shopping cart', aliases: ['trolley'], styles: ['line', 'bold'] }],
    },
  ],
  colours: ['blue', 'dark blue', 'white', 'teal', 'orange', 'red'],
  otherSubjects: 12,
};

describe('namedSubjects', () => {
  test('finds names and aliases as whole words, case and punctuation aside, longest first', () => {
    expect(namedSubjects(vocabulary, 'Heart with arrow, twemoji style').map((n) => n.as)).toEqual(['heart with arrow', 'heart']);
    expect(namedSubjects(vocabulary, 'a TROLLEY icon!').map((n) => [n.kind, n.subject.name])).toEqual([['icon', 'shopping cart']]);
    expect(namedSubjects(vocabulary, 'hearts and rockets')).toEqual([]);
    expect(namedSubjects(vocabulary, '')).toEqual([]);
  });
});

describe('subject choices and prompts', () => {
  test('each subject is listed as its kind names it in prompts', () => {
    expect(subjectChoices(vocabulary).map((c) => c.phrase)).toEqual(['heart', 'heart with arrow', 'rocket', 'shopping cart icon']);
    expect(subjectCounts(vocabulary)).toBe('3 emoji and 1 icon');
  });

  test('a picked subject is written in its kind’s caption, with defaults when the prompt chose nothing', () => {
    expect(promptForSubject(vocabulary, 'rocket', '')).toBe('rocket, flat style, on a white background');
    expect(promptForSubject(vocabulary, 'shopping cart icon', '')).toBe('shopping cart icon, line style, dark blue on white');
    expect(promptForSubject(vocabulary, 'no such thing', 'rocket')).toBeUndefined();
  });

  test('it keeps a style the subject has, the background, and an icon’s colour (longest colour name first)', () => {
    expect(promptForSubject(vocabulary, 'heart', 'rocket, glossy style, on a teal background')).toBe(
      'heart, glossy style, on a teal background',
    );
    // twemoji is not one of this heart's styles: its first style instead.
    expect(promptForSubject(vocabulary, 'heart', 'rocket, twemoji style')).toBe('heart, flat style, on a white background');
    expect(promptForSubject(vocabulary, 'shopping cart icon', 'x icon, bold style, red on dark blue')).toBe(
      'shopping cart icon, bold style, red on dark blue',
    );
    // One colour is the background; the icon's colour then differs from it.
    expect(promptForSubject(vocabulary, 'shopping cart icon', 'on a dark blue background')).toBe(
      'shopping cart icon, line style, blue on dark blue',
    );
  });
});

describe('presetsFor', () => {
  test('without a vocabulary, the general chips', () => {
    expect(presetsFor(undefined)).toBe(STYLE_PRESETS);
  });

  test('the styles of the named subject’s kind (all while none is named) and backgrounds among the colours', () => {
    const texts = (prompt: string) => presetsFor(vocabulary, prompt).map((p) => p.text);
    expect(texts('')).toEqual([
      'flat style',
      'glossy style',
      'twemoji style',
      'line style',
      'filled style',
      'bold style',
      'thin style',
      'on a white background',
      'on a teal background',
      'on a orange background',
      'on a dark blue background',
    ]);
    expect(texts('shopping cart icon').slice(0, 4)).toEqual(['line style', 'filled style', 'bold style', 'thin style']);
    expect(texts('rocket')).toHaveLength(3 + 4);
  });

  test('a chip replaces its rival of the same group', () => {
    const presets = presetsFor(vocabulary, 'rocket');
    const glossy = presets.find((p) => p.id === 'glossy')!;
    expect(togglePreset('rocket, flat style, on a teal background', glossy, presets)).toBe('rocket, on a teal background, glossy style');
  });
});
