/**
 * Wires Flowfill's main thread to Figma: the Figma host, the panel link, the launch command and
 * its quick-action parameter. Kept apart from main.ts so tests can start the plugin on the fake.
 */
import type { StartCommand } from '../common/protocol.js';
import { Controller, type StartRequest } from './controller.js';
import { createFigmaHost, createFigmaUiChannel } from './host/figma-host.js';

export const PANEL_SIZE = { width: 340, height: 600 };

/** Prompt completions offered while typing in the quick action (the default model's caption style). */
const PROMPT_ENDINGS = ['flat style', 'glossy style', 'twemoji style', 'flat style, on a white background', 'glossy style, on a navy background'];

/** Menu and relaunch commands (manifest.json) → what the panel is asked to do. */
export function startRequestFor(command: string, parameters: ParameterValues | undefined): StartRequest {
  switch (command) {
    case 'generate': {
      const prompt = typeof parameters?.prompt === 'string' ? parameters.prompt : undefined;
      return prompt !== undefined ? { command: 'generate', source: 'quick-action', prompt } : { command: 'generate', source: 'menu' };
    }
    case 'fill-selection':
      return { command: 'fill-selection', source: 'menu' };
    case 'variations':
      return { command: 'variations', source: 'relaunch' };
    case 'regenerate':
      return { command: 'regenerate', source: 'relaunch' };
    default:
      return { command: 'open' as StartCommand };
  }
}

export function promptSuggestions(query: string): string[] {
  const base = query.trim().replace(/,\s*$/, '');
  if (base === '') return ['rocket, flat style, on a teal background', 'cat face, glossy style, on a yellow background'];
  return [base, ...PROMPT_ENDINGS.filter((end) => !base.toLowerCase().includes(end.split(',')[0])).map((end) => `${base}, ${end}`)];
}

/** Starts Flowfill on `api` (the figma global). `html` is the panel (`__html__` in the real plugin). */
export function startPlugin(api: PluginAPI, html: string): void {
  api.parameters.on('input', ({ key, query, result }: ParameterInputEvent) => {
    if (key === 'prompt') result.setSuggestions(promptSuggestions(query));
  });
  api.on('run', ({ command, parameters }: RunEvent) => {
    const start = startRequestFor(command, parameters);
    if (start.source === 'quick-action' && start.prompt?.trim() === '') {
      api.notify('Flowfill: type a prompt after “Generate image…”, e.g. rocket, flat style, on a teal background', { error: true });
      api.closePlugin();
      return;
    }
    const controller = new Controller(createFigmaHost(api), createFigmaUiChannel(api), start);
    api.on('close', () => controller.closing());
    // Inference needs the panel's iframe (WebGPU/WASM live there), so every command opens it; the
    // quick action keeps it hidden and reports through toasts.
    api.showUI(html, { themeColors: true, width: PANEL_SIZE.width, height: PANEL_SIZE.height, title: 'Flowfill', visible: !controller.isQuickAction });
    controller.started();
  });
}
