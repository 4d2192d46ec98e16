/**
 * Inputs that keep what the user is typing while the panel re-renders (progress streams in many
 * times a second): a field shows its own draft while focused and the setting otherwise, and
 * commits on "change" (Enter, blur), clamped to its range.
 */
import { useState } from 'preact/hooks';
import { clampToRange, type NumberRange } from '../settings/settings.js';

export function NumberField({
  label,
  id,
  range,
  value,
  onCommit,
}: {
  label: string;
  id: string;
  range: NumberRange;
  value: number;
  onCommit: (value: number) => void;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <label>
      <span class="ff-label">{label}</span>
      <input
        class="ff-input"
        id={id}
        type="number"
        min={range.min}
        max={range.max}
        step={range.step}
        inputMode="decimal"
        value={draft ?? String(value)}
        onFocus={(e) => setDraft(e.currentTarget.value)}
        onInput={(e) => setDraft(e.currentTarget.value)}
        onChange={(e) => {
          const next = clampToRange(Number(e.currentTarget.value), range, value);
          e.currentTarget.value = String(next);
          setDraft(e.currentTarget === document.activeElement ? String(next) : null);
          onCommit(next);
        }}
        onBlur={() => setDraft(null)}
      />
    </label>
  );
}

/** A bare number input (no label) committing on change, for the custom size pair. */
export function SideInput({
  id,
  label,
  range,
  value,
  onCommit,
}: {
  id: string;
  label: string;
  range: NumberRange;
  value: number;
  onCommit: (value: number) => void;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  return (
    <input
      class="ff-input"
      id={id}
      type="number"
      min={range.min}
      max={range.max}
      aria-label={label}
      value={draft ?? String(value)}
      onInput={(e) => setDraft(e.currentTarget.value)}
      onChange={(e) => {
        const next = clampToRange(Number(e.currentTarget.value), range, value);
        setDraft(null);
        e.currentTarget.value = String(next);
        onCommit(next);
      }}
      onBlur={() => setDraft(null)}
    />
  );
}
