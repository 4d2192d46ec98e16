/**
 * The hosted plugin's ui.html (dist/hosted/ui.html, a few kB): Figma loads it into the plugin's
 * frame, and it sends that frame to the hosted app (FLOWFILL_APP_URL, fixed at build time). The
 * app then is the plugin's UI, on its own origin, and talks to Figma's main thread directly with
 * postMessage (pluginId '*'), so there is nothing to relay.
 *
 * Why a redirect rather than a nested frame: the app needs its origin's private file system for
 * models, and Chromium refuses storage to a frame whose ancestor has an opaque origin (Figma's
 * plugin frame has origin "null"): measured in Chromium 156, navigator.storage.getDirectory()
 * rejects with "SecurityError: Storage directory access is denied" in the nested frame, and
 * resolves in the same frame once it is the plugin frame itself.
 *
 * Before leaving, it checks that the app answers, so a user offline sees why nothing loads.
 */
declare const FLOWFILL_APP_URL: string;

const TIMEOUT_MS = 15_000;

function show(html: string): void {
  document.getElementById('status')!.innerHTML = html;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

async function openApp(): Promise<void> {
  const url = FLOWFILL_APP_URL;
  show(`Opening Flowfill from ${escapeHtml(new URL(url).origin)}…`);
  try {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    // no-cors: only whether the server answers matters here (a null origin gets an opaque response).
    await fetch(url, { mode: 'no-cors', cache: 'no-store', signal: controller.signal });
    clearTimeout(timer);
  } catch (error) {
    const why =
      error instanceof Error && error.name === 'AbortError'
        ? `no answer within ${TIMEOUT_MS / 1000} s`
        : String(error instanceof Error ? error.message : error);
    show(
      `<p><b>Flowfill could not reach its app</b> at ${escapeHtml(url)} (${escapeHtml(why)}).</p>` +
        '<p>This version of the plugin loads its panel from the web and keeps models in that site’s storage, so it needs the network. ' +
        'The embedded plugin (manifest.json at the top of the Flowfill build) works offline with its built-in model.</p>' +
        '<p><button id="retry" type="button">Try again</button></p>',
    );
    document.getElementById('retry')!.addEventListener('click', () => void openApp());
    return;
  }
  location.replace(url);
}

void openApp();
