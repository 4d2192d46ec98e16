/**
 * Prompts for a model that declares what it was trained to draw (ModelInfo.vocabulary, e.g. the
 * built-in model's 400 subjects): which of its subjects a prompt names, a prompt written the way
 * its captions were for a subject the designer picks, and style chips in its own words. Models
 * without a vocabulary (SD3 checkpoints, open-ended captions) keep the general chips.
 */
import type { PromptVocabulary, VocabularyJudging, VocabularyKind, VocabularySubject } from '../../common/engine-types.js';
import { STYLE_PRESETS, type StylePreset } from './style-presets.js';

/** A line under the prompt on its subject: a warning where `weak`; `title` its tooltip. */
export interface SubjectHint {
  text: string;
  weak: boolean;
  title?: string;
}

export interface NamedSubject {
  kind: string;
  subject: VocabularySubject;
  /** The name or alias the prompt used. */
  as: string;
}

/** Lower-case words separated by single spaces, padded with one on each side, for whole-word search. */
function wordsOf(text: string): string {
  return ` ${text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()} `;
}

/** A name a prompt may use for a subject: as shown (`as`), and in wordsOf's form. */
interface SearchableName {
  as: string;
  words: string;
}

/** A subject with the names a prompt may use for it. */
interface SearchableSubject {
  kind: string;
  subject: VocabularySubject;
  names: SearchableName[];
}

/** Every name and alias of a vocabulary's subjects in wordsOf's form, made once per vocabulary (the panel asks on every keystroke). */
const searchableNames = new WeakMap<PromptVocabulary, SearchableSubject[]>();

function namesOf(vocabulary: PromptVocabulary) {
  let names = searchableNames.get(vocabulary);
  if (!names) {
    names = vocabulary.kinds.flatMap((kind) =>
      kind.subjects.map((subject) => ({
        kind: kind.kind,
        subject,
        // The kind's phrase first ("skull icon"): a prompt for the icon is not then read as the emoji of the
        // same name. An emoji's phrase is its name, searched once.
        names: [...new Set([subjectPhrase(kind, subject), subject.name, ...(subject.aliases ?? [])])]
          .map((name, i) => ({ as: i === 0 ? subject.name : name, words: wordsOf(name) }))
          .filter(({ words }) => words.trim() !== ''),
      })),
    );
    searchableNames.set(vocabulary, names);
  }
  return names;
}

/** The subjects one of whose names the prompt holds as whole words, with the match's length, the longest first. */
function subjectsIn(searchable: SearchableSubject[], prompt: string): (NamedSubject & { length: number })[] {
  const text = wordsOf(prompt);
  const found: (NamedSubject & { length: number })[] = [];
  for (const { kind, subject, names } of searchable) {
    const hit = names.find(({ words }) => text.includes(words));
    if (hit !== undefined) found.push({ kind, subject, as: hit.as, length: hit.words.length });
  }
  return found.sort((a, b) => b.length - a.length);
}

function withoutLengths(found: (NamedSubject & { length: number })[]): NamedSubject[] {
  return found.map(({ length: _, ...named }) => named);
}

/** The vocabulary's subjects the prompt names (by name or alias, as whole words), the longest match first. */
export function namedSubjects(vocabulary: PromptVocabulary, prompt: string): NamedSubject[] {
  return withoutLengths(subjectsIn(namesOf(vocabulary), prompt));
}

/** Plurals no suffix rule makes, of words subject names end in. */
const IRREGULAR_PLURALS: Record<string, string> = {
  child: 'children',
  foot: 'feet',
  goose: 'geese',
  man: 'men',
  mouse: 'mice',
  person: 'people',
  tooth: 'teeth',
  woman: 'women',
};

/** A name with its last word in the plural, each way English writes it ("shopping carts", "butterflies", "knives"). */
export function pluralsOf(name: string): string[] {
  const words = wordsOf(name).trim().split(' ');
  const last = words.pop() ?? '';
  const forms = new Set<string>();
  if (IRREGULAR_PLURALS[last]) forms.add(IRREGULAR_PLURALS[last]);
  if (/(s|x|z|ch|sh)$/.test(last)) forms.add(`${last}es`);
  else forms.add(`${last}s`);
  if (/[^aeiou]y$/.test(last)) forms.add(`${last.slice(0, -1)}ies`);
  if (/[^aeiou]o$/.test(last)) forms.add(`${last}es`);
  if (/fe$/.test(last)) forms.add(`${last.slice(0, -2)}ves`);
  else if (/[^f]f$/.test(last)) forms.add(`${last.slice(0, -1)}ves`);
  return [...forms].map((form) => [...words, form].join(' '));
}

/** Every name's plurals that are not themselves a subject's name ("glasses" is a subject, not two glasses). */
const searchablePlurals = new WeakMap<PromptVocabulary, SearchableSubject[]>();

function pluralsIn(vocabulary: PromptVocabulary) {
  let plurals = searchablePlurals.get(vocabulary);
  if (!plurals) {
    const named = namesOf(vocabulary);
    const taken = new Set(named.flatMap(({ names }) => names.map(({ words }) => words)));
    plurals = named.map(({ kind, subject, names }) => ({
      kind,
      subject,
      names: names
        .flatMap(({ words }) => pluralsOf(words))
        .map((plural) => ({ as: plural, words: wordsOf(plural) }))
        .filter(({ words }) => !taken.has(words)),
    }));
    searchablePlurals.set(vocabulary, plurals);
  }
  return plurals;
}

/**
 * The subjects a prompt names only in the plural ("rockets"), the longest first: its captions named
 * one in the singular, so the model was never taught the plural as that subject.
 */
export function pluralNamedSubjects(vocabulary: PromptVocabulary, prompt: string): NamedSubject[] {
  return withoutLengths(subjectsIn(pluralsIn(vocabulary), prompt));
}

/**
 * The subject a prompt is about, for the panel's hint: the longest name it holds, or a plural where
 * that is longer than any name it holds whole ("skull icons" is about the icon, not the emoji "skull").
 */
export function promptSubject(vocabulary: PromptVocabulary, prompt: string): { named: NamedSubject; plural: boolean } | undefined {
  const [named] = subjectsIn(namesOf(vocabulary), prompt);
  const [plural] = subjectsIn(pluralsIn(vocabulary), prompt);
  const pluralWins = plural !== undefined && (named === undefined || plural.length > named.length);
  const best = pluralWins ? plural : named;
  if (best === undefined) return undefined;
  const { length: _, ...subject } = best;
  return { named: subject, plural: pluralWins };
}

/** The hint for a subject named only in the plural: the singular its captions used, to write instead. */
export function pluralHint({ kind, subject, as }: NamedSubject, vocabulary: PromptVocabulary): SubjectHint {
  const ofKind = vocabulary.kinds.find((k) => k.kind === kind);
  const phrase = ofKind ? subjectPhrase(ofKind, subject) : subject.name;
  return { text: `Trained on ${subject.name} (${kind}) in the singular: write “${phrase}”, not “${as}”.`, weak: true };
}

/** How prompts name a subject of this kind: the template's words around {subject}, e.g. "shopping cart icon". */
export function subjectPhrase(kind: VocabularyKind, subject: VocabularySubject): string {
  const after = /\{subject\}( [a-z]+)?/.exec(kind.prompt)?.[1] ?? '';
  return `${subject.name}${after}`;
}

/** Every subject as the picker lists it: the phrase a prompt uses, its kind and styles. */
export function subjectChoices(vocabulary: PromptVocabulary): { phrase: string; kind: string; subject: VocabularySubject }[] {
  return vocabulary.kinds.flatMap((kind) =>
    kind.subjects.map((subject) => ({ phrase: subjectPhrase(kind, subject), kind: kind.kind, subject })),
  );
}

/** The known colours the prompt names, longest first where one contains another ("dark blue" before "blue"), in prompt order. */
function coloursIn(vocabulary: PromptVocabulary, text: string): string[] {
  const hits: { at: number; colour: string }[] = [];
  const byLength = [...vocabulary.colours].sort((a, b) => b.length - a.length);
  let rest = text;
  for (const colour of byLength) {
    const needle = wordsOf(colour);
    let at = rest.indexOf(needle);
    while (at >= 0) {
      hits.push({ at, colour });
      rest = rest.slice(0, at) + ' '.repeat(needle.length - 1) + rest.slice(at + needle.length - 1);
      at = rest.indexOf(needle);
    }
  }
  return hits.sort((a, b) => a.at - b.at).map((hit) => hit.colour);
}

const DEFAULT_BACKGROUND = 'white';
const DEFAULT_ICON_COLOUR = 'dark blue';

/**
 * A prompt for `phrase` (from subjectChoices) worded as the model's captions of its kind are,
 * keeping what the current prompt already chose where it fits: a style the subject has, the
 * background, and for kinds with a {colour} the colour. Undefined for a phrase the vocabulary lacks.
 */
export function promptForSubject(vocabulary: PromptVocabulary, phrase: string, current: string): string | undefined {
  const choice = subjectChoices(vocabulary).find((c) => c.phrase === phrase);
  const kind = vocabulary.kinds.find((k) => k.kind === choice?.kind);
  if (!choice || !kind) return undefined;
  const text = wordsOf(current);
  const style = choice.subject.styles.find((s) => text.includes(wordsOf(`${s} style`))) ?? choice.subject.styles[0];
  const colours = coloursIn(vocabulary, text);
  const wantsColour = kind.prompt.includes('{colour}');
  // A prompt names its subject's colour first and its background last ("dark blue on white", "on a teal background").
  const background = colours.at(-1) ?? DEFAULT_BACKGROUND;
  let colour = colours.length > 1 ? colours[0] : DEFAULT_ICON_COLOUR;
  if (colour === background) colour = vocabulary.colours.find((c) => c !== background && c !== DEFAULT_BACKGROUND) ?? colour;
  return kind.prompt
    .replace('{subject}', choice.subject.name)
    .replace('{style}', style)
    .replace('{background}', background)
    .replace('{colour}', wantsColour ? colour : '');
}

const BACKGROUND_CHIPS = ['white', 'teal', 'orange', 'purple', 'dark blue'];

function capitalised(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/**
 * Style chips in the model's words: the styles of the kind of subject the prompt names (all its
 * styles while it names none), and backgrounds among its colours worded as its captions are ("on a
 * orange background": the model learned "a", not "an"). Without a vocabulary, the general chips.
 */
export function presetsFor(vocabulary: PromptVocabulary | undefined, prompt = ''): readonly StylePreset[] {
  if (!vocabulary) return STYLE_PRESETS;
  const named = promptSubject(vocabulary, prompt)?.named;
  const kinds = named ? vocabulary.kinds.filter((kind) => kind.kind === named.kind) : vocabulary.kinds;
  const styles = [...new Set(kinds.flatMap((kind) => kind.styles))];
  return [
    ...styles.map((style): StylePreset => ({ id: style, label: capitalised(style), text: `${style} style`, group: 'style' })),
    ...BACKGROUND_CHIPS.filter((colour) => vocabulary.colours.includes(colour)).map((colour): StylePreset => ({
      id: `bg-${colour.replace(/ /g, '-')}`,
      label: `${capitalised(colour)} bg`,
      text: `on a ${colour} background`,
      group: 'background',
    })),
  ];
}

/** Below this share of its test images recognised, a subject is drawn as a loose likeness at best. */
const RELIABLE_SHARE = 0.5;

/**
 * The hint for a subject the prompt names: what it was trained in and, when the package carries
 * test counts (`judging` says how they were made: the tooltip), how often its drawings were
 * recognised, worded as a warning where that was seldom.
 */
export function subjectHint({ kind, subject, as }: NamedSubject, judging?: VocabularyJudging): SubjectHint {
  const styles = subject.styles.join(', ');
  if (!subject.judged) return { text: `Draws ${as} (${kind}), trained in ${styles}.`, weak: false };
  const { recognised, images } = subject.judged;
  const weak = recognised < RELIABLE_SHARE * images;
  const seldom = recognised === 0 ? `in none of its ${images}` : `in only ${recognised} of ${images}`;
  return {
    text: weak
      ? `Trained on ${as} (${kind}), but recognised ${seldom} test images: expect a loose likeness.`
      : `Draws ${as} (${kind}), trained in ${styles}; recognised in ${recognised} of ${images} test images.`,
    weak,
    title: judging?.about,
  };
}

/** A style whose test images were recognised at under this share of its kind's rate over all styles is worth a warning. */
const WEAK_STYLE_RATIO = 0.75;

function rate({ recognised, images }: { recognised: number; images: number }): number {
  return recognised / images;
}

function percent(share: number): string {
  return `${Math.round(share * 100)} %`;
}

/**
 * A warning when the prompt asks for a style the model draws its kind in much less reliably than its
 * others (the built-in model's thin icons: 31 % of test images recognised, against 47 % over all icon
 * styles), naming the style that reads best; undefined otherwise, or without per-style test counts.
 * The kind is the named subject's, or any kind that has the style.
 */
export function styleHint(vocabulary: PromptVocabulary, prompt: string, named?: NamedSubject): SubjectHint | undefined {
  const text = wordsOf(prompt);
  const kinds = named ? vocabulary.kinds.filter((kind) => kind.kind === named.kind) : vocabulary.kinds;
  for (const kind of kinds) {
    const counts = kind.judgedByStyle;
    const style = kind.styles.find((s) => text.includes(wordsOf(`${s} style`)));
    if (!counts || style === undefined || !counts[style]) continue;
    const all = Object.values(counts).reduce((sum, c) => ({ recognised: sum.recognised + c.recognised, images: sum.images + c.images }), {
      recognised: 0,
      images: 0,
    });
    if (rate(counts[style]) >= WEAK_STYLE_RATIO * rate(all)) return undefined;
    const [best] = Object.entries(counts).sort(([, a], [, b]) => rate(b) - rate(a));
    const plural = kind.kind === 'icon' ? 'icons' : kind.kind;
    return {
      text:
        `${capitalised(plural)} in ${style} style are recognised least often: ${percent(rate(counts[style]))} of test images, ` +
        `against ${percent(rate(all))} over all ${kind.kind} styles (${best[0]}: ${percent(rate(best[1]))}).`,
      weak: true,
      title: vocabulary.judged?.about,
    };
  }
  return undefined;
}

/** The picker's note on a subject: its kind, styles and test count ("icon · line, filled · 4/5 recognised"). */
export function subjectLabel(kind: string, subject: VocabularySubject): string {
  const judged = subject.judged ? ` · ${subject.judged.recognised}/${subject.judged.images} recognised` : '';
  return `${kind} · ${subject.styles.join(', ')}${judged}`;
}

/** "200 emoji and 200 icons" style counts of a vocabulary's subjects. */
export function subjectCounts(vocabulary: PromptVocabulary): string {
  const parts = vocabulary.kinds.map(({ kind, subjects: { length } }) => `${length} ${kind === 'icon' && length !== 1 ? 'icons' : kind}`);
  return parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : parts[0];
}
