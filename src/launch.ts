/**
 * What started this run: manifest.json's menu commands and relaunch buttons, and the quick action
 * (the "generate" command with its freeform `prompt` parameter). The panel carries the command out.
 */
import type { Launch } from '../common/host-rpc.js';

/** Prompt completions offered while typing in the quick action (the default model's caption style). */
const PROMPT_ENDINGS = [
  'flat style',
  'glossy style',
  'twemoji style',
  'flat style, on a white background',
  'glossy style, on a navy background',
];

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
  if (base === '') return ['rocket, flat style, on a teal background', 'cat face, glossy style, on a yellow background'];
  return [base, ...PROMPT_ENDINGS.filter((end) => !base.toLowerCase().includes(end.split(',')[0])).map((end) => `${base}, ${end}`)];
}
