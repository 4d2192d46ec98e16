import type { PromptVocabulary } from '../../../common/engine-types.js';
import {
  namedSubjects,
  pluralHint,
  pluralNamedSubjects,
  pluralsOf,
  presetsFor,
  promptForSubject,
  promptSubject,
  styleHint,
  subjectChoices,
  subjectCounts,
  subjectHint,
  subjectLabel,
} from '../../../ui/settings/prompt-vocabulary.js';
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
        { name: 'rocket', styles: ['flat', 'glossy', 'twemoji'], judged: { recognised: 9, images: 10 } },
        { name: 'skull', styles: ['flat'] },
      ],
    },
    {
      kind: 'icon',
      prompt: '{subject} icon, {style} style, {colour} on {background}',
      styles: ['line', 'filled', 'bold', 'thin'],
      subjects: [
        { name: 'shopping cart', aliases: ['trolley'], styles: ['line', 'bold'], judged: { recognised: 1, images: 5 } },
        { name: 'skull', styles: ['line'] },
      ],
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

  test('an icon named as its kind names it ("skull icon") is read as the icon, not the emoji of the same name', () => {
    expect(namedSubjects(vocabulary, 'skull icon, line style').map((n) => [n.kind, n.as])).toEqual([
      ['icon', 'skull'],
      ['emoji', 'skull'],
    ]);
    expect(namedSubjects(vocabulary, 'skull, flat style')[0].kind).toBe('emoji');
  });
});

describe('subjects named in the plural', () => {
  test('a name gets its last word in each plural English writes', () => {
    expect(pluralsOf('rocket')).toEqual(['rockets']);
    expect(pluralsOf('shopping cart')).toEqual(['shopping carts']);
    expect(pluralsOf('bus')).toEqual(['buses']);
    expect(pluralsOf('butterfly')).toEqual(['butterflys', 'butterflies']);
    expect(pluralsOf('key')).toEqual(['keys']);
    expect(pluralsOf('tomato')).toEqual(['tomatos', 'tomatoes']);
    expect(pluralsOf('knife')).toEqual(['knifes', 'knives']);
    expect(pluralsOf('leaf')).toEqual(['leafs', 'leaves']);
    expect(pluralsOf('computer mouse')).toEqual(['computer mice', 'computer mouses']);
    expect(pluralsOf('T-Shirt')).toEqual(['t shirts']);
  });

  test('a prompt naming subjects only in the plural finds them; a plural that is itself a name does not', () => {
    expect(pluralNamedSubjects(vocabulary, 'hearts and rockets').map((n) => [n.subject.name, n.as])).toEqual([
      ['rocket', 'rockets'],
      ['heart', 'hearts'],
    ]);
    expect(pluralNamedSubjects(vocabulary, 'two shopping carts, line style').map((n) => [n.kind, n.as])).toEqual([
      ['icon', 'shopping carts'],
    ]);
    const withGlasses = structuredClone(vocabulary);
    withGlasses.kinds[0].subjects.push({ name: 'glass', styles: ['flat'] }, { name: 'glasses', styles: ['flat'] });
    expect(pluralNamedSubjects(withGlasses, 'glasses, flat style')).toEqual([]);
    expect(namedSubjects(withGlasses, 'glasses, flat style').map((n) => n.as)).toEqual(['glasses']);
  });

  test('the hint names the singular to write, for an icon in its kind’s phrase', () => {
    const about = promptSubject(vocabulary, 'rockets, flat style, on a teal background');
    expect(about?.plural).toBe(true);
    expect(pluralHint(about!.named, vocabulary)).toEqual({
      text: 'Trained on rocket (emoji) in the singular: write “rocket”, not “rockets”.',
      weak: true,
    });
    const carts = promptSubject(vocabulary, 'shopping carts, line style')!;
    expect(pluralHint(carts.named, vocabulary).text).toBe(
      'Trained on shopping cart (icon) in the singular: write “shopping cart icon”, not “shopping carts”.',
    );
  });

  test('a name held whole wins over a plural no longer than it; a longer plural phrase wins ("skull icons")', () => {
    expect(promptSubject(vocabulary, 'a rocket among hearts')).toEqual({
      named: { kind: 'emoji', subject: vocabulary.kinds[0].subjects[2], as: 'rocket' },
      plural: false,
    });
    expect(promptSubject(vocabulary, 'skull icons, line style')).toMatchObject({
      named: { kind: 'icon', as: 'skull icons' },
      plural: true,
    });
    expect(promptSubject(vocabulary, 'a misty forest')).toBeUndefined();
    // The chips follow the subject the hint is about.
    expect(
      presetsFor(vocabulary, 'shopping carts')
        .filter((p) => p.group === 'style')
        .map((p) => p.id),
    ).toEqual(['line', 'filled', 'bold', 'thin']);
  });
});

describe('subject hints', () => {
  const named = (prompt: string) => namedSubjects(vocabulary, prompt)[0];

  test('a subject recognised in most of its test images is drawn; one seldom recognised is a warning', () => {
    const judging = { size: 256, images: 15, about: 'How the test images were made' };
    expect(subjectHint(named('rocket'), judging)).toEqual({
      text: 'Draws rocket (emoji), trained in flat, glossy, twemoji; recognised in 9 of 10 test images.',
      weak: false,
      title: 'How the test images were made',
    });
    expect(subjectHint(named('trolley icon'))).toEqual({
      text: 'Trained on trolley (icon), but recognised in only 1 of 5 test images: expect a loose likeness.',
      weak: true,
      title: undefined,
    });
    // A subject never recognised says so in words, not as "only 0".
    const never = { ...named('trolley icon'), subject: { ...named('trolley icon').subject, judged: { recognised: 0, images: 5 } } };
    expect(subjectHint(never).text).toBe(
      'Trained on trolley (icon), but recognised in none of its 5 test images: expect a loose likeness.',
    );
    // Without counts the hint says what it was trained in, and promises nothing more.
    expect(subjectHint(named('heart'))).toEqual({ text: 'Draws heart (emoji), trained in flat, glossy.', weak: false });
  });

  test("the picker's label carries the count where there is one", () => {
    const [, , rocket] = vocabulary.kinds[0].subjects;
    expect(subjectLabel('emoji', rocket)).toBe('emoji · flat, glossy, twemoji · 9/10 recognised');
    expect(subjectLabel('emoji', vocabulary.kinds[0].subjects[0])).toBe('emoji · flat, glossy');
  });
});

describe('style hints', () => {
  // The built-in model's counts (v2.4, 1,000 icon and 2,000 emoji test images).
  const [emoji, icon] = vocabulary.kinds;
  const counted: PromptVocabulary = {
    ...vocabulary,
    kinds: [
      {
        ...emoji,
        judgedByStyle: {
          flat: { recognised: 558, images: 610 },
          glossy: { recognised: 670, images: 740 },
          twemoji: { recognised: 582, images: 650 },
        },
      },
      {
        ...icon,
        judgedByStyle: {
          line: { recognised: 106, images: 215 },
          filled: { recognised: 165, images: 295 },
          bold: { recognised: 129, images: 270 },
          thin: { recognised: 67, images: 220 },
        },
      },
    ],
    judged: { size: 256, images: 3000, about: 'How the test images were made' },
  };
  const hint = (prompt: string) => styleHint(counted, prompt, promptSubject(counted, prompt)?.named);

  test('a style drawn far less reliably than its kind’s others is a warning naming the best', () => {
    expect(hint('shopping cart icon, thin style, dark blue on white')).toEqual({
      text: 'Icons in thin style are recognised least often: 30 % of test images, against 47 % over all icon styles (filled: 56 %).',
      weak: true,
      title: 'How the test images were made',
    });
    // With no subject named, the kind that has the style.
    expect(hint('something, Thin Style')?.text).toMatch(/^Icons in thin style/);
  });

  test('no hint for a style near its kind’s rate, a style the named kind lacks, no style, or no counts', () => {
    expect(hint('shopping cart icon, bold style, red on white')).toBeUndefined();
    expect(hint('rocket, twemoji style, on a teal background')).toBeUndefined();
    expect(hint('skull, thin style')).toBeUndefined(); // the emoji skull: emoji have no thin style
    expect(hint('shopping cart icon, dark blue on white')).toBeUndefined();
    expect(hint('thinking, line style')).toBeUndefined();
    expect(styleHint(vocabulary, 'shopping cart icon, thin style')).toBeUndefined();
  });
});

describe('subject choices and prompts', () => {
  test('each subject is listed as its kind names it in prompts', () => {
    expect(subjectChoices(vocabulary).map((c) => c.phrase)).toEqual([
      'heart',
      'heart with arrow',
      'rocket',
      'skull',
      'shopping cart icon',
      'skull icon',
    ]);
    expect(subjectCounts(vocabulary)).toBe('4 emoji and 2 icons');
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
