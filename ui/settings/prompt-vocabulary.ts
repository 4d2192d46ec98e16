/**
 * Prompts for a model that declares what it was trained to draw (ModelInfo.vocabulary, e.g. the
 * built-in model's 400 subjects): which of its subjects a prompt names, a prompt written the way
 * its captions were for a subject the designer picks, and style chips in its own words. Models
 * without a vocabulary (SD3 checkpoints, open-ended captions) keep the general chips.
 */
import type { PromptVocabulary, VocabularyJudging, VocabularyKind, VocabularySubject } from '../../common/engine-types.js';
import { STYLE_PRESETS, type StylePreset } from './style-presets.js';

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

/** Every name and alias of a vocabulary's subjects in wordsOf's form, made once per vocabulary (the panel asks on every keystroke). */
const searchableNames = new WeakMap<PromptVocabulary, { kind: string; subject: VocabularySubject; names: SearchableName[] }[]>();

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

/** The vocabulary's subjects the prompt names (by name or alias, as whole words), the longest match first. */
export function namedSubjects(vocabulary: PromptVocabulary, prompt: string): NamedSubject[] {
  const text = wordsOf(prompt);
  const found: (NamedSubject & { length: number })[] = [];
  for (const { kind, subject, names } of namesOf(vocabulary)) {
    const hit = names.find(({ words }) => text.includes(words));
    if (hit !== undefined) found.push({ kind, subject, as: hit.as, length: hit.words.length });
  }
  return found.sort((a, b) => b.length - a.length).map(({ length: _, ...named }) => named);
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
  const named = namedSubjects(vocabulary, prompt)[0];
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
export function subjectHint(
  { kind, subject, as }: NamedSubject,
  judging?: VocabularyJudging,
): { text: string; weak: boolean; title?: string } {
  const styles = subject.styles.join(', ');
  if (!subject.judged) return { text: `Draws ${as} (${kind}), trained in ${styles}.`, weak: false };
  const { recognised, images } = subject.judged;
  const weak = recognised < RELIABLE_SHARE * images;
  return {
    text: weak
      ? `Trained on ${as} (${kind}), but recognised in only ${recognised} of ${images} test images: expect a loose likeness.`
      : `Draws ${as} (${kind}), trained in ${styles}; recognised in ${recognised} of ${images} test images.`,
    weak,
    title: judging?.about,
  };
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
