/** Steps, guidance, seed, variations, strength, insert size and fill mode, behind a disclosure. */
import { useState } from 'preact/hooks';
import type { BackendPreference, ModelInfo } from '../../common/engine-types.js';
import type { FillMode } from '../../common/host-rpc.js';
import { CUSTOM_INSERT_SIZE_ID, INSERT_SIZE_PRESETS } from '../settings/insert-size-presets.js';
import {
  CUSTOM_SIDE_RANGE,
  GUIDANCE_RANGE,
  STEPS_RANGE,
  STRENGTH_RANGE,
  VARIATIONS_RANGE,
  parseSeed,
  recommendationAdvice,
  type GenerationSettings,
} from '../settings/settings.js';
import { NumberField, SideInput } from './fields.js';
import { Icon } from './icons.js';

const SIZES = [
  ...INSERT_SIZE_PRESETS.map((p) => ({ id: p.id, label: p.label, title: `${p.width}×${p.height}` })),
  { id: CUSTOM_INSERT_SIZE_ID, label: 'Custom', title: 'Your own size' },
];

function SeedField({
  settings,
  update,
  onRoll,
}: {
  settings: GenerationSettings;
  update: (patch: Partial<GenerationSettings>) => void;
  onRoll: () => void;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const invalid = draft !== null && parseSeed(draft) === undefined;
  return (
    <label>
      <span class="ff-label">Seed</span>
      <div class="ff-inline">
        <input
          class={`ff-input${invalid ? ' is-invalid' : ''}`}
          id="ff-seed"
          type="text"
          inputMode="numeric"
          aria-label="Seed"
          title={invalid ? 'A seed is a whole number from 0 to 4294967295' : ''}
          value={draft ?? String(settings.seed)}
          onInput={(e) => {
            const text = e.currentTarget.value;
            setDraft(text);
            const parsed = parseSeed(text);
            // Typing a seed means the user wants that seed: lock it so Generate does not replace it.
            if (parsed !== undefined) update({ seed: parsed, seedLocked: true });
          }}
          onBlur={() => setDraft(null)}
        />
        <button class="ff-icon-button" type="button" id="ff-seed-roll" title="New random seed" onClick={onRoll}>
          <Icon name="dice" />
        </button>
        <button
          class={`ff-icon-button${settings.seedLocked ? ' is-active' : ''}`}
          type="button"
          id="ff-seed-lock"
          aria-pressed={settings.seedLocked}
          title={
            settings.seedLocked
              ? 'Seed locked: every Generate reuses it (click to unlock)'
              : 'Seed unlocked: a new one is drawn after each Generate (click to lock)'
          }
          onClick={() => update({ seedLocked: !settings.seedLocked })}
        >
          <Icon name={settings.seedLocked ? 'locked' : 'unlocked'} />
        </button>
      </div>
    </label>
  );
}

interface Choice<T extends string> {
  id: T;
  label: string;
  title: string;
}

/** A row of buttons of which one is active; each carries `data-<dataKey>` = its id. */
function Segmented<T extends string>({
  id,
  dataKey,
  options,
  value,
  onChoose,
}: {
  id?: string;
  dataKey: string;
  options: ReadonlyArray<Choice<T>>;
  value: T;
  onChoose: (id: T) => void;
}) {
  return (
    <div class="ff-segmented" id={id}>
      {options.map((option) => (
        <button
          key={option.id}
          type="button"
          title={option.title}
          {...{ [`data-${dataKey}`]: option.id }}
          class={value === option.id ? 'is-active' : ''}
          onClick={() => onChoose(option.id)}
        >
          {option.label}
        </button>
      ))}
    </div>
  );
}

const FILL_MODES: Array<Choice<FillMode>> = [
  { id: 'replace', label: 'Replace fills', title: 'The image replaces the existing fills' },
  { id: 'keep', label: 'Keep underneath', title: 'The image goes on top; existing fills stay underneath' },
];

const COMPUTE: Array<Choice<BackendPreference>> = [
  {
    id: 'auto',
    label: 'Automatic',
    title: 'WebGPU on a hardware GPU; WASM when the only adapter is a software one (it is slower than WASM)',
  },
  { id: 'webgpu', label: 'WebGPU', title: 'Always WebGPU, also on a software adapter' },
  { id: 'wasm', label: 'CPU (WASM)', title: 'Always the CPU, through WebAssembly' },
];

export function SettingsSection({
  settings,
  model,
  update,
  onRollSeed,
  onCompute,
  onUseRecommended,
}: {
  settings: GenerationSettings;
  /** The model in use, whose recommended steps and guidance are offered when the settings differ. */
  model: ModelInfo | undefined;
  update: (patch: Partial<GenerationSettings>) => void;
  onRollSeed: () => void;
  onCompute: (compute: BackendPreference) => void;
  onUseRecommended: () => void;
}) {
  const advice = model && recommendationAdvice(settings, model.recommended);
  return (
    <details class="ff-details" id="ff-settings">
      <summary>
        Settings
        <span class="ff-hint" id="ff-settings-summary">
          {`${settings.steps} steps · guidance ${settings.guidance} · ${settings.seedLocked ? 'seed ' + settings.seed : 'random seed'}`}
        </span>
      </summary>
      <div class="ff-details-body">
        <div class="ff-row">
          <NumberField
            label="Steps"
            id="ff-steps"
            range={STEPS_RANGE}
            value={settings.steps}
            onCommit={(steps) => update({ steps, samplingFromModel: false })}
          />
          <NumberField
            label="Guidance"
            id="ff-guidance"
            range={GUIDANCE_RANGE}
            value={settings.guidance}
            onCommit={(guidance) => update({ guidance, samplingFromModel: false })}
          />
        </div>
        {advice && (
          <p class="ff-hint" id="ff-recommendation">
            {`${model.name} recommends ${advice}. `}
            <button class="ff-link" type="button" id="ff-use-recommended" onClick={onUseRecommended}>
              Use recommended
            </button>
          </p>
        )}
        <SeedField settings={settings} update={update} onRoll={onRollSeed} />
        <div class="ff-row">
          <NumberField
            label="Variations"
            id="ff-variations"
            range={VARIATIONS_RANGE}
            value={settings.variations}
            onCommit={(variations) => update({ variations })}
          />
          <span title="Image variation: how far from the source image to move (0 keeps it, 1 ignores it)">
            <NumberField
              label="Strength"
              id="ff-strength"
              range={STRENGTH_RANGE}
              value={settings.strength}
              onCommit={(strength) => update({ strength })}
            />
          </span>
        </div>
        <div id="ff-insert-size">
          <span class="ff-label">Insert size (when nothing is selected)</span>
          <Segmented dataKey="size" options={SIZES} value={settings.insertSize} onChoose={(insertSize) => update({ insertSize })} />
        </div>
        {settings.insertSize === CUSTOM_INSERT_SIZE_ID && (
          <div class="ff-inline" id="ff-custom-size">
            <SideInput
              id="ff-custom-width"
              label="Custom width"
              range={CUSTOM_SIDE_RANGE}
              value={settings.customWidth}
              onCommit={(customWidth) => update({ customWidth })}
            />
            <span class="ff-hint">×</span>
            <SideInput
              id="ff-custom-height"
              label="Custom height"
              range={CUSTOM_SIDE_RANGE}
              value={settings.customHeight}
              onCommit={(customHeight) => update({ customHeight })}
            />
          </div>
        )}
        <div>
          <span class="ff-label">Existing fills</span>
          <Segmented
            id="ff-fill-mode"
            dataKey="fill"
            options={FILL_MODES}
            value={settings.fillMode}
            onChoose={(fillMode) => update({ fillMode })}
          />
        </div>
        <div>
          <span class="ff-label">Compute (the model loads again on a change)</span>
          <Segmented id="ff-compute" dataKey="compute" options={COMPUTE} value={settings.compute} onChoose={onCompute} />
        </div>
      </div>
    </details>
  );
}
