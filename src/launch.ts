/**
 * What started this run: manifest.json's menu commands and relaunch buttons, and the quick action
 * (the "generate" command with its freeform `prompt` parameter). The panel carries the command out.
 */
import type { Launch } from '../common/host-rpc.js';

/** Prompt completions offered while typing in the quick action (the default model's caption style: emoji). */
const PROMPT_ENDINGS = [
  'flat style',
  'glossy style',
  'twemoji style',
  'flat style, on a white background',
  'glossy style, on a navy background',
];
/** The same for its icons, which name their colour on a background ("heart icon, line style, red on white"). */
const ICON_ENDINGS = ['line style, black on white', 'filled style, dark blue on white', 'bold style, white on dark teal'];

/** A Figma command (and its parameters) → the launch the panel reads. Unknown commands just open the panel. */
export function launchFor(command: string, parameters: ParameterValues | undefined): Launch {
  const base = { host: 'figma' };
  switch (command) {
    case 'generate': {
      const prompt = typeof parameters?.prompt === 'string' ? parameters.prompt : undefined;
      return prompt !== undefined
        ? { ...base, command: 'generate', source: 'quick-action', prompt }
        : { ...base, command: 'generate', source: 'menu' };
    }
    case 'fill-selection':
      return { ...base, command: 'fill-selection', source: 'menu' };
    case 'variations':
      return { ...base, command: 'variations', source: 'relaunch' };
    case 'regenerate':
      return { ...base, command: 'regenerate', source: 'relaunch' };
    case 'diagnostics':
      return { ...base, command: 'diagnostics', source: 'menu' };
    default:
      return { ...base, command: 'open', source: 'open' };
  }
}

export function promptSuggestions(query: string): string[] {
  const base = query.trim().replace(/,\s*$/, '');
  if (base === '')
    return [
      'rocket, flat style, on a teal background',
      'cat face, glossy style, on a yellow background',
      'camera icon, bold style, white on dark teal',
    ];
  const lower = base.toLowerCase();
  const isIcon = /\bicon\b/.test(lower);
  // A prompt that names its style is finished but for its colours: a second style would only confuse the model.
  if (/\bstyle\b/.test(lower)) {
    if (/\bon\b/.test(lower)) return [base];
    return [base, isIcon ? `${base}, black on white` : `${base}, on a white background`];
  }
  const icon = isIcon ? base : `${base} icon`;
  return [base, ...(isIcon ? [] : PROMPT_ENDINGS.map((end) => `${base}, ${end}`)), ...ICON_ENDINGS.map((end) => `${icon}, ${end}`)];
}
