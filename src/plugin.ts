/**
 * Wires Flowfill's main thread to Figma: every command opens the panel (the engine lives in its
 * iframe, where WebGPU and WASM are) and serves it the host RPC. The quick action keeps the panel
 * hidden and reports through a progress toast. Kept apart from main.ts so tests can start the
 * plugin on the Figma fake.
 */
import { HOST_RPC } from '../common/host-rpc.js';
import { serveRpc } from '../common/rpc-link.js';
import { describeLayer, selectedNodes } from './describe-layers.js';
import { createFigmaHost } from './figma-host.js';
import { figmaUiEndpoint } from './figma-ui-endpoint.js';
import { launchFor, promptSuggestions } from './launch.js';

export const PANEL_SIZE = { width: 340, height: 600 };

/** Starts Flowfill on `api` (the figma global). `html` is the panel (`__html__` in the real plugin). */
export function startPlugin(api: PluginAPI, html: string): void {
  api.parameters.on('input', ({ key, query, result }: ParameterInputEvent) => {
    if (key === 'prompt') result.setSuggestions(promptSuggestions(query));
  });
  api.on('run', ({ command, parameters }: RunEvent) => {
    const launch = launchFor(command, parameters);
    const quickAction = launch.source === 'quick-action';
    if (quickAction && launch.prompt?.trim() === '') {
      api.notify('Flowfill: type a prompt after “Generate image…”, e.g. rocket, flat style, on a teal background', { error: true });
      api.closePlugin();
      return;
    }
    const host = createFigmaHost(api, launch);
    const server = serveRpc(HOST_RPC, host.handlers, figmaUiEndpoint(api));
    api.on('selectionchange', () =>
      server.emit('selection-changed', { layers: selectedNodes(api).map((node) => describeLayer(api, node)) }),
    );
    api.on('close', () => host.closing());
    api.showUI(html, { themeColors: true, width: PANEL_SIZE.width, height: PANEL_SIZE.height, title: 'Flowfill', visible: !quickAction });
    // The panel needs a moment to load its model: the toast says something is happening meanwhile.
    if (quickAction) host.showProgress(`Flowfill: generating “${launch.prompt ?? ''}”…`);
  });
}
