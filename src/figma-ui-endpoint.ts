/**
 * The main thread's end of the panel link: figma.ui.postMessage(msg) arrives in the iframe as
 * `event.data.pluginMessage`; the iframe's parent.postMessage({ pluginMessage }, '*') arrives in
 * figma.ui.on('message'). Both are structured clones, so PNG bytes stay Uint8Array.
 */
import type { RpcEndpoint } from '../common/rpc-link.js';

export function figmaUiEndpoint(api: PluginAPI): RpcEndpoint {
  return {
    post: (message) => api.ui.postMessage(message),
    listen(handler) {
      const listener = (message: unknown) => handler(message);
      api.ui.on('message', listener);
      return () => api.ui.off('message', listener);
    },
  };
}
