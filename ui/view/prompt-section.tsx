/** The prompt, the style presets that edit it, and the negative prompt. */
import type { GenerationSettings } from '../settings/settings.js';
import { STYLE_PRESETS, isPresetActive, togglePreset } from '../settings/style-presets.js';

export function PromptSection({
  settings,
  update,
}: {
  settings: GenerationSettings;
  update: (patch: Partial<GenerationSettings>) => void;
}) {
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
      <div class="ff-chips" id="ff-presets">
        {STYLE_PRESETS.map((preset) => (
          <button
            key={preset.id}
            class={`ff-chip${isPresetActive(settings.prompt, preset) ? ' is-active' : ''}`}
            type="button"
            title={`Adds "${preset.text}" to the prompt`}
            data-preset={preset.id}
            onClick={() => update({ prompt: togglePreset(settings.prompt, preset) })}
          >
            {preset.label}
          </button>
        ))}
      </div>
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
