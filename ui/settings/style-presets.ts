/**
 * Style presets are visible prompt additions, not hidden parameters: choosing one edits the
 * prompt text (which the user can still change by hand). Their wording follows the captions the
 * default model was trained on ("rocket, flat style, on a teal background"). Presets of one group
 * exclude each other: choosing "modern style" takes "flat style" out.
 */

export interface StylePreset {
  id: string;
  /** Short chip label. */
  label: string;
  /** The exact text added to the prompt. */
  text: string;
  group: 'style' | 'background';
}

export const STYLE_PRESETS: readonly StylePreset[] = [
  { id: 'flat', label: 'Flat', text: 'flat style', group: 'style' },
  { id: 'modern', label: 'Modern', text: 'modern style', group: 'style' },
  { id: 'bg-white', label: 'White bg', text: 'on a white background', group: 'background' },
  { id: 'bg-teal', label: 'Teal bg', text: 'on a teal background', group: 'background' },
  { id: 'bg-orange', label: 'Orange bg', text: 'on an orange background', group: 'background' },
  { id: 'bg-purple', label: 'Purple bg', text: 'on a purple background', group: 'background' },
  { id: 'bg-dark', label: 'Dark bg', text: 'on a dark blue background', group: 'background' },
];

/** The prompt split at commas into trimmed, non-empty parts. */
function promptParts(prompt: string): string[] {
  return prompt
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
}

function samePart(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Whether the prompt already carries this preset's text as one of its comma-separated parts. */
export function isPresetActive(prompt: string, preset: StylePreset): boolean {
  return promptParts(prompt).some((part) => samePart(part, preset.text));
}

/**
 * Toggles a preset in the prompt: removes it when present; otherwise removes the other presets
 * of its group and appends it. Parts the user wrote are kept in order.
 */
export function togglePreset(prompt: string, preset: StylePreset, presets: readonly StylePreset[] = STYLE_PRESETS): string {
  const parts = promptParts(prompt);
  if (parts.some((part) => samePart(part, preset.text))) {
    return parts.filter((part) => !samePart(part, preset.text)).join(', ');
  }
  const rivals = presets.filter((p) => p.group === preset.group).map((p) => p.text);
  const kept = parts.filter((part) => !rivals.some((rival) => samePart(part, rival)));
  return [...kept, preset.text].join(', ');
}
