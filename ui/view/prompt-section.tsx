/** The prompt, what the model makes of it, the style presets that edit it, and the negative prompt. */
import type { ModelInfo, PromptVocabulary } from '../../common/engine-types.js';
import type { CheckedPrompt } from '../panel-state.js';
import {
  pluralHint,
  presetsFor,
  promptForSubject,
  promptSubject,
  styleHint,
  subjectChoices,
  subjectCounts,
  subjectHint,
  subjectLabel,
} from '../settings/prompt-vocabulary.js';
import type { GenerationSettings } from '../settings/settings.js';
import { isPresetActive, togglePreset } from '../settings/style-presets.js';

export function PromptSection({
  settings,
  update,
  model,
  check,
}: {
  settings: GenerationSettings;
  update: (patch: Partial<GenerationSettings>) => void;
  /** The model in use, once ready. */
  model?: ModelInfo;
  /** Its check of the prompt on screen, once it has arrived. */
  check?: CheckedPrompt;
}) {
  const presets = presetsFor(model?.vocabulary, settings.prompt);
  return (
    <section class="ff-section">
      <label>
        <span class="ff-label">Prompt</span>
        <textarea
          class="ff-textarea"
          id="ff-prompt"
          rows={3}
          placeholder="Describe the image, e.g. rocket, flat style, on a teal background"
          spellcheck
          value={settings.prompt}
          onInput={(e) => update({ prompt: e.currentTarget.value })}
        />
      </label>
      {model && <PromptHints model={model} prompt={settings.prompt} check={check} />}
      <div class="ff-chips" id="ff-presets">
        {presets.map((preset) => (
          <button
            key={preset.id}
            class={`ff-chip${isPresetActive(settings.prompt, preset) ? ' is-active' : ''}`}
            type="button"
            title={`Adds "${preset.text}" to the prompt`}
            data-preset={preset.id}
            onClick={() => update({ prompt: togglePreset(settings.prompt, preset, presets) })}
          >
            {preset.label}
          </button>
        ))}
      </div>
      {model?.vocabulary && <SubjectPicker vocabulary={model.vocabulary} prompt={settings.prompt} update={update} />}
      <label>
        <span class="ff-label">Negative prompt</span>
        <input
          class="ff-input"
          id="ff-negative"
          type="text"
          placeholder="What to avoid (optional)"
          value={settings.negativePrompt}
          onInput={(e) => update({ negativePrompt: e.currentTarget.value })}
        />
      </label>
    </section>
  );
}

/** What the model will make of the prompt: words it does not know, and whether it names a subject it was trained on. */
function PromptHints({ model, prompt, check }: { model: ModelInfo; prompt: string; check?: CheckedPrompt }) {
  const vocabulary = model.vocabulary;
  const about = vocabulary && prompt.trim() !== '' ? promptSubject(vocabulary, prompt) : undefined;
  const hint =
    about && vocabulary ? (about.plural ? pluralHint(about.named, vocabulary) : subjectHint(about.named, vocabulary.judged)) : undefined;
  const style = vocabulary && prompt.trim() !== '' ? styleHint(vocabulary, prompt, about?.named) : undefined;
  const unknown = check?.unknownWords ?? [];
  return (
    <div class="ff-prompt-hints" id="ff-prompt-hints">
      {unknown.length > 0 && (
        <p class="ff-hint is-warning" id="ff-unknown-words" title={`${model.name} reads them as unknown tokens`}>
          This model does not know {unknown.map((w) => `“${w}”`).join(', ')}: it cannot follow{' '}
          {unknown.length > 1 ? 'these words' : 'this word'}.
        </p>
      )}
      {check?.truncated && (
        <p class="ff-hint is-warning" id="ff-prompt-truncated">
          The prompt is longer than this model reads; the end is cut off.
        </p>
      )}
      {vocabulary && prompt.trim() !== '' && (
        <p
          class={`ff-hint${!hint || hint.weak ? ' is-warning' : ''}`}
          id="ff-subject-hint"
          title={
            hint
              ? hint.title
              : vocabulary.otherSubjects > 0
                ? `${vocabulary.otherSubjects} more subject names are known words, drawn poorly`
                : undefined
          }
        >
          {hint
            ? hint.text
            : `Names none of the subjects this model was trained on (${subjectCounts(vocabulary)}): pick one under Subject.`}
        </p>
      )}
      {style && (
        <p class="ff-hint is-warning" id="ff-style-hint" title={style.title}>
          {style.text}
        </p>
      )}
    </div>
  );
}

/** A searchable list of the model's subjects; picking one writes a prompt the way its captions read. */
function SubjectPicker({
  vocabulary,
  prompt,
  update,
}: {
  vocabulary: PromptVocabulary;
  /** The prompt now: a picked subject keeps the style, colour and background it chose. */
  prompt: string;
  update: (patch: Partial<GenerationSettings>) => void;
}) {
  const choices = subjectChoices(vocabulary);
  const pick = (field: HTMLInputElement) => {
    const written = promptForSubject(vocabulary, field.value, prompt);
    if (written === undefined) return;
    update({ prompt: written });
    field.value = '';
  };
  return (
    <label class="ff-subject-picker">
      <span class="ff-label">Subject ({choices.length} this model draws)</span>
      <input
        class="ff-input"
        id="ff-subject"
        type="search"
        list="ff-subject-list"
        placeholder="Type to find one, e.g. rocket or shopping cart icon"
        // A choice from the list arrives as one replacing input; typed text waits for Enter or leaving
        // the field, so that "heart" does not take over while "heart with arrow" is being typed.
        onInput={(e) => {
          if ((e as InputEvent).inputType === 'insertReplacementText' || !(e instanceof InputEvent)) pick(e.currentTarget);
        }}
        onChange={(e) => pick(e.currentTarget)}
      />
      <datalist id="ff-subject-list">
        {choices.map((c) => (
          <option key={c.phrase} value={c.phrase} label={subjectLabel(c.kind, c.subject)} />
        ))}
      </datalist>
    </label>
  );
}
