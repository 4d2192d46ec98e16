/**
 * Hosts Flowfill as Figma does, on the fake Figma API (test/figma-fake): dist/code.js runs in this
 * page against the fake, and dist/ui.html runs in an <iframe sandbox="allow-scripts" srcdoc>, so
 * the panel gets a null origin and no storage, like Figma's plugin iframe.
 *
 * Messages (the host RPC, common/host-rpc.ts) travel as in Figma: figma.ui.postMessage(msg) → the iframe receives a MessageEvent whose
 * data is { pluginMessage: msg }; the iframe's parent.postMessage({ pluginMessage }, '*') →
 * figma.ui.onmessage / on('message'). Main's messages wait until the iframe has loaded, since a
 * message posted to a frame still loading goes to its initial about:blank document and is lost.
 *
 * Every command is a fresh plugin run, as in Figma: the previous run is closed (its 'close'
 * handlers fire, its UI goes away, its listeners are dropped) and code.js is evaluated again.
 */
import { createFigmaFake, type FakeNotification, type FigmaFake, type FigmaFakeOptions } from '../test/figma-fake/index.js';
import { WireWatch } from './wire-watch.js';

export interface PluginHostOptions {
  /**
   * 'embedded' (default): the UI goes into <iframe sandbox="allow-scripts" srcdoc>, a null origin
   * with no storage. 'hosted': the hosted plugin's ui.html goes into an unsandboxed frame loaded
   * from a data: URL — also a null origin — which it may navigate to the hosted app, as Figma's
   * frame can; a sandbox would force the app's origin to null too and deny it storage.
   */
  mode?: 'embedded' | 'hosted';
  /** dist/code.js */
  mainScript: string;
  /** dist/ui.html, handed to the code as `__html__` (Figma inlines manifest.json's `ui` the same way). */
  uiHtml: string;
  /** The manifest's relaunch commands (setRelaunchData refuses others, as Figma does). */
  relaunchCommands: string[];
  /** Where the plugin's iframe goes. */
  uiContainer: HTMLElement;
  onNotify(notification: FakeNotification): void;
  /** Something changed that the canvas may show (a message crossed, a run started or ended). */
  onChange(): void;
}

type Handler = (...args: never[]) => unknown;

export class PluginHost {
  readonly figma: FigmaFake;
  readonly wire = new WireWatch();
  private readonly fakeOptions: FigmaFakeOptions;
  private iframe: HTMLIFrameElement | null = null;
  private iframeLoaded = false;
  private waitingForLoad: unknown[] = [];
  private runCleanup: (() => void) | null = null;

  constructor(private readonly options: PluginHostOptions) {
    this.fakeOptions = {
      relaunchCommands: options.relaunchCommands,
      onShowUI: (html, showOptions) => this.openUi(html, showOptions),
      onCloseUI: () => this.closeUi(),
      onNotify: (notification) => options.onNotify(notification),
    };
    this.figma = createFigmaFake(this.fakeOptions);
    // Main → UI. The fake has already structured-cloned the message, as Figma does.
    this.figma.ui.listen((message) => {
      this.wire.fromHost(message);
      if (this.iframeLoaded) this.deliverToUi(message);
      else this.waitingForLoad.push(message);
      options.onChange();
    });
    // UI → main, only from our iframe and only in Figma's envelope.
    window.addEventListener('message', (event: MessageEvent) => {
      if (!this.iframe || event.source !== this.iframe.contentWindow) return;
      const data: unknown = event.data;
      if (typeof data !== 'object' || data === null || !('pluginMessage' in data)) return;
      const message = (data as { pluginMessage: unknown }).pluginMessage;
      this.wire.fromPanel(message);
      this.figma.ui.send(message).catch((error: unknown) => console.error('[playground] main thread handler failed:', error));
      options.onChange();
    });
  }

  /** The iframe of the running plugin, or null. */
  get uiFrame(): HTMLIFrameElement | null {
    return this.iframe;
  }

  /**
   * Launches the plugin with `command` (a manifest menu or relaunch command: 'open', 'generate',
   * 'fill-selection', 'variations', 'regenerate') and quick-action `parameters`.
   */
  async runCommandAsync(command: string, parameters?: ParameterValues): Promise<void> {
    this.endRun();
    (this.figma as { command: string }).command = command;
    this.fakeOptions.parameters = parameters;
    this.wire.runStarted(command);
    const api = this.trackedApi();
    // dist/code.js is an IIFE that reads the globals `figma` and `__html__`; parameters shadow them.
    new Function('figma', '__html__', this.options.mainScript)(api, this.options.uiHtml);
    await this.figma.__launch();
    this.options.onChange();
  }

  /** Closes the running plugin as Figma does when another run starts. */
  endRun(): void {
    if (!this.runCleanup) return;
    const cleanup = this.runCleanup;
    this.runCleanup = null;
    if (this.figma.ui.current) this.figma.closePlugin();
    cleanup();
  }

  /**
   * The API object one run sees: the fake itself, except that the handlers it registers are
   * remembered so the next run starts without them (each Figma run is a fresh sandbox).
   */
  private trackedApi(): FigmaFake {
    const figma = this.figma;
    const events: [string, Handler][] = [];
    const uiHandlers: Handler[] = [];
    const ui = new Proxy(figma.ui, {
      get(target, property) {
        if (property === 'on' || property === 'once') {
          return (type: 'message', cb: Handler) => {
            uiHandlers.push(cb);
            (target[property] as (t: 'message', c: Handler) => void)(type, cb);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
      set(target, property, value) {
        return Reflect.set(target, property, value, target);
      },
    });
    const api = new Proxy(figma, {
      get(target, property) {
        if (property === 'ui') return ui;
        if (property === 'on' || property === 'once') {
          return (name: string, cb: Handler) => {
            events.push([name, cb]);
            (target[property] as (n: string, c: Handler) => void)(name, cb);
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    this.runCleanup = () => {
      figma.ui.onmessage = undefined;
      for (const cb of uiHandlers) figma.ui.off('message', cb as never);
      for (const [name, cb] of events) figma.off(name as 'run', cb as never);
    };
    return api;
  }

  private openUi(html: string, showOptions: ShowUIOptions): void {
    this.closeUi();
    const iframe = document.createElement('iframe');
    const hosted = this.options.mode === 'hosted';
    // Figma's plugin iframe: scripts only → opaque (null) origin, no storage, no same-origin access.
    if (!hosted) iframe.setAttribute('sandbox', 'allow-scripts');
    // The hosted app may use the clipboard (Copy report) and, once isolated, threads.
    else iframe.allow = 'clipboard-write; cross-origin-isolated';
    iframe.title = showOptions.title ?? 'Plugin UI';
    iframe.className = 'plugin-frame';
    iframe.style.width = `${showOptions.width ?? 300}px`;
    iframe.style.height = `${showOptions.height ?? 200}px`;
    if (showOptions.visible === false) iframe.style.display = 'none';
    this.iframeLoaded = false;
    this.waitingForLoad = [];
    iframe.addEventListener('load', () => {
      if (this.iframe !== iframe) return;
      this.iframeLoaded = true;
      const queued = this.waitingForLoad;
      this.waitingForLoad = [];
      for (const message of queued) this.deliverToUi(message);
    });
    if (hosted) iframe.src = `data:text/html;charset=utf-8;base64,${btoa(String.fromCharCode(...new TextEncoder().encode(html)))}`;
    else iframe.srcdoc = html;
    this.iframe = iframe;
    this.options.uiContainer.replaceChildren(iframe);
    this.options.onChange();
  }

  private closeUi(): void {
    // The panel is gone (closed by the plugin, or by the quick action's Cancel): nothing is in flight.
    if (this.iframe) this.wire.runEnded();
    this.iframe?.remove();
    this.iframe = null;
    this.iframeLoaded = false;
    this.waitingForLoad = [];
    this.options.onChange();
  }

  private deliverToUi(message: unknown): void {
    this.iframe?.contentWindow?.postMessage({ pluginMessage: message }, '*');
  }

  /** Keeps the iframe's size in step with figma.ui.resize / show / hide. */
  syncUiFrame(): void {
    const current = this.figma.ui.current;
    if (!this.iframe || !current) return;
    this.iframe.style.width = `${current.width}px`;
    this.iframe.style.height = `${current.height}px`;
    this.iframe.style.display = current.visible ? '' : 'none';
  }
}
