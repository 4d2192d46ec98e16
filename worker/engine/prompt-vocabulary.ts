/**
 * flowfill.json "vocabulary": what a model trained on a closed set of captions was trained to draw
 * (model/flowfill/vocabulary.py writes it). Read into ModelInfo.vocabulary so the panel can offer
 * those subjects and word its chips as the captions were worded; a malformed block is refused with
 * the field named, like every other flowfill.json field.
 */
import type { PromptVocabulary, VocabularyJudging, VocabularyKind, VocabularySubject } from '../../common/engine-types.js';
import { EngineError } from './engine-error.js';

type Json = Record<string, unknown>;

function fail(field: string, value: unknown, expected: string): never {
  const shown = JSON.stringify(value);
  throw new EngineError(
    'model-mismatch',
    `flowfill.json: ${field ? `vocabulary.${field}` : 'vocabulary'} is ${shown === undefined ? 'missing' : shown.slice(0, 80)}; expected ${expected}`,
  );
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function words(value: unknown, field: string, allowEmpty = false): string[] {
  if (!Array.isArray(value) || (!allowEmpty && value.length === 0) || !value.every((w) => typeof w === 'string' && w.trim() !== '')) {
    fail(field, value, `a list of${allowEmpty ? '' : ' at least one'} non-empty string${allowEmpty ? 's' : ''}`);
  }
  return [...value] as string[];
}

function wholeNumber(value: unknown, least: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= least;
}

/** A subject's "judged": [recognised, images], from model/flowfill/vocabulary.py --checks. */
function judgedOf(value: unknown, field: string): { recognised: number; images: number } {
  if (!Array.isArray(value) || value.length !== 2 || !wholeNumber(value[1], 1) || !wholeNumber(value[0], 0) || value[0] > value[1]) {
    fail(field, value, '[recognised, images]: whole numbers, at least one image, no more recognised than drawn');
  }
  return { recognised: value[0], images: value[1] };
}

function judgingOf(value: unknown): VocabularyJudging {
  if (
    !isObject(value) ||
    !wholeNumber(value.size, 1) ||
    !wholeNumber(value.images, 1) ||
    typeof value.about !== 'string' ||
    value.about.trim() === ''
  ) {
    fail('judged', value, 'an object such as {"size": 256, "images": 3000, "about": "how the images were drawn and judged"}');
  }
  return { size: value.size, images: value.images, about: value.about };
}

function subjectOf(value: unknown, field: string, kindStyles: readonly string[]): VocabularySubject {
  if (!isObject(value) || typeof value.name !== 'string' || value.name.trim() === '') {
    fail(field, value, 'an object such as {"name": "rocket", "styles": ["flat"]}');
  }
  const styles = words(value.styles, `${field}.styles`);
  const stray = styles.find((style) => !kindStyles.includes(style));
  if (stray !== undefined) fail(`${field}.styles`, value.styles, `styles of its kind (${kindStyles.join(', ')})`);
  return {
    name: value.name,
    ...(value.aliases !== undefined ? { aliases: words(value.aliases, `${field}.aliases`, true) } : {}),
    styles,
    ...(value.judged !== undefined ? { judged: judgedOf(value.judged, `${field}.judged`) } : {}),
  };
}

/** A kind's "judged_by_style": {style: [recognised, images]}, each key one of its styles. */
function judgedByStyleOf(value: unknown, field: string, styles: readonly string[]): VocabularyKind['judgedByStyle'] {
  if (!isObject(value) || Object.keys(value).length === 0) fail(field, value, 'an object such as {"line": [106, 215]}');
  const stray = Object.keys(value).find((style) => !styles.includes(style));
  if (stray !== undefined) fail(`${field}.${stray}`, value[stray], `counts of its kind's styles (${styles.join(', ')})`);
  return Object.fromEntries(Object.entries(value).map(([style, counts]) => [style, judgedOf(counts, `${field}.${style}`)]));
}

function kindOf(value: unknown, field: string): VocabularyKind {
  if (!isObject(value) || typeof value.kind !== 'string' || value.kind === '') {
    fail(field, value, 'an object such as {"kind": "emoji", "prompt": "{subject}, {style} style", "styles": [...], "subjects": [...]}');
  }
  if (typeof value.prompt !== 'string' || !value.prompt.includes('{subject}')) {
    fail(`${field}.prompt`, value.prompt, 'a caption template naming {subject}');
  }
  const styles = words(value.styles, `${field}.styles`);
  if (!Array.isArray(value.subjects) || value.subjects.length === 0) fail(`${field}.subjects`, value.subjects, 'a list of subjects');
  return {
    kind: value.kind,
    prompt: value.prompt,
    styles,
    ...(value.judged_by_style !== undefined
      ? { judgedByStyle: judgedByStyleOf(value.judged_by_style, `${field}.judged_by_style`, styles) }
      : {}),
    subjects: value.subjects.map((subject: unknown, i) => subjectOf(subject, `${field}.subjects[${i}]`, styles)),
  };
}

/** The vocabulary block of flowfill.json, checked; EngineError('model-mismatch') naming the field otherwise. */
export function readPromptVocabulary(raw: unknown): PromptVocabulary {
  if (!isObject(raw)) fail('', raw, 'an object with kinds, colours and other_subjects');
  if (!Array.isArray(raw.kinds) || raw.kinds.length === 0) fail('kinds', raw.kinds, 'a list of at least one kind');
  const otherSubjects = raw.other_subjects ?? 0;
  if (!wholeNumber(otherSubjects, 0)) fail('other_subjects', raw.other_subjects, 'a whole number of subjects, 0 or more');
  const kinds = raw.kinds.map((kind: unknown, i) => kindOf(kind, `kinds[${i}]`));
  const judged = raw.judged !== undefined ? judgingOf(raw.judged) : undefined;
  // Counts without the test they came from would be numbers nobody can read.
  if (!judged && kinds.some((kind) => kind.judgedByStyle || kind.subjects.some((subject) => subject.judged))) {
    fail('judged', raw.judged, "how the subjects' judged counts were made, since subjects carry them");
  }
  return {
    kinds,
    colours: words(raw.colours, 'colours'),
    otherSubjects,
    ...(judged ? { judged } : {}),
  };
}
