/**
 * The panel's side of the host RPC: the host's methods as async functions, and its events.
 * In Figma the link is parent.postMessage({ pluginMessage }) one way and window "message" events
 * carrying { pluginMessage } the other (figmaParentEndpoint); tests pass any RpcEndpoint.
 */
import { HOST_RPC, type HostMethods } from '../common/host-rpc.js';
import { connectRpc, type RpcClient, type RpcConnection, type RpcEndpoint } from '../common/rpc-link.js';

export type HostClient = RpcClient<HostMethods>;
export type HostConnection = RpcConnection<HostMethods, typeof HOST_RPC.events>;

export function connectHost(endpoint: RpcEndpoint, log?: (message: string) => void): HostConnection {
  return connectRpc(HOST_RPC, endpoint, log ? { log } : {});
}

/**
 * The plugin iframe's link to Figma's main thread. PNG bytes are structured-cloned as Uint8Array.
 *
 * `hosted`: the panel is the hosted app, loaded into the plugin's frame from its own origin. Figma
 * then wants `pluginId` in every message (its samples send '*'), and only the parent's messages
 * are taken, since a page with an origin can be framed by anyone.
 */
export function figmaParentEndpoint({ hosted = false }: { hosted?: boolean } = {}): RpcEndpoint {
  return {
    post: (message) => parent.postMessage(hosted ? { pluginMessage: message, pluginId: '*' } : { pluginMessage: message }, '*'),
    listen(handler) {
      const listener = (event: MessageEvent) => {
        if (hosted && event.source !== parent) return;
        const data: unknown = event.data;
        // Only Figma's envelope is ours; other frames' messages (extensions, devtools) are ignored.
        if (typeof data !== 'object' || data === null || !('pluginMessage' in data)) return;
        handler((data as { pluginMessage: unknown }).pluginMessage);
      };
      window.addEventListener('message', listener);
      return () => window.removeEventListener('message', listener);
    },
  };
}
