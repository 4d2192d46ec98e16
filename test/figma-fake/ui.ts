/**
 * figma.ui and the other side of it. Main-thread code uses the real API names (showUI, postMessage,
 * onmessage, on('message')); tests and the playground play the panel through `FakeUiSide`:
 * `send` delivers a message to main as `parent.postMessage({pluginMessage})` would (structured
 * clone, asynchronously), and `outbox`/`next` read what main posted.
 */

type MainHandler = (msg: unknown, props: { origin: string }) => unknown;

export interface ShowUIRecord {
  html: string;
  options: ShowUIOptions;
}

export class FakeUi {
  constructor(private readonly onClose: () => void = () => {}) {}
  onmessage: MainHandler | undefined = undefined;
  private handlers: { cb: MainHandler; once: boolean }[] = [];
  private uiListeners: ((msg: unknown) => void)[] = [];
  /** Fake-only: everything main posted, in order (structured clones). */
  readonly outbox: unknown[] = [];
  /** Fake-only: the current UI, or null when none is open. */
  current: (ShowUIRecord & { visible: boolean; width: number; height: number }) | null = null;
  private readonly taken = new Set<unknown>();
  /** Fake-only: how many UIs have been opened (showUI twice closes the first). */
  opened = 0;

  on(type: 'message', cb: MainHandler): void {
    if (type !== 'message') throw new Error(`figma.ui.on: Unsupported event ${JSON.stringify(type)}; expected "message"`);
    this.handlers.push({ cb, once: false });
  }
  once(type: 'message', cb: MainHandler): void {
    if (type !== 'message') throw new Error(`figma.ui.once: Unsupported event ${JSON.stringify(type)}; expected "message"`);
    this.handlers.push({ cb, once: true });
  }
  off(type: 'message', cb: MainHandler): void {
    this.handlers = this.handlers.filter((h) => h.cb !== cb);
  }

  postMessage(msg: unknown, _options?: UIPostMessageOptions): void {
    if (!this.current) throw new Error('in postMessage: No UI to send the message to; call figma.showUI first');
    // structuredClone throws DataCloneError on functions, as the real channel refuses them.
    const copy = structuredClone(msg);
    this.outbox.push(copy);
    const listeners = this.uiListeners.slice();
    queueMicrotask(() => listeners.forEach((l) => l(copy)));
  }
  show(): void {
    if (this.current) this.current.visible = true;
  }
  hide(): void {
    if (this.current) this.current.visible = false;
  }
  resize(width: number, height: number): void {
    if (!this.current) throw new Error('in resize: No UI is open');
    if (!(width >= 70) || !(height >= 0)) throw new Error(`in resize: Expected width >= 70 and height >= 0, got ${width}×${height}`);
    this.current.width = Math.round(width);
    this.current.height = Math.round(height);
  }
  reposition(): void {}
  close(): void {
    if (!this.current) return;
    this.current = null;
    this.onClose();
  }

  _open(html: string, options: ShowUIOptions): void {
    if (typeof html !== 'string') throw new Error('in showUI: Expected html to be a string');
    const width = options.width ?? 300;
    const height = options.height ?? 200;
    if (width < 70 || height < 0) throw new Error(`in showUI: Expected width >= 70 and height >= 0, got ${width}×${height}`);
    this.opened++;
    this.current = { html, options: { ...options }, visible: options.visible !== false, width, height };
  }

  /** Fake-only, UI side: deliver `msg` to main; resolves after main's handlers (and promises they return) settle. */
  async send(msg: unknown): Promise<void> {
    if (!this.current) throw new Error('FakeUi.send: no UI is open');
    const copy = structuredClone(msg);
    await Promise.resolve();
    const props = { origin: 'null' };
    const pending: unknown[] = [];
    if (this.onmessage) pending.push(this.onmessage(copy, props));
    for (const h of this.handlers.slice()) {
      if (h.once) this.handlers = this.handlers.filter((x) => x !== h);
      pending.push(h.cb(copy, props));
    }
    await Promise.all(pending);
  }

  /** Fake-only, UI side: listen to what main posts. */
  listen(cb: (msg: unknown) => void): () => void {
    this.uiListeners.push(cb);
    return () => {
      this.uiListeners = this.uiListeners.filter((l) => l !== cb);
    };
  }

  /** Fake-only, UI side: resolves with the next message matching `predicate` (including ones already posted and not yet taken). */
  next<T = unknown>(predicate: (msg: any) => boolean, timeoutMs = 5000): Promise<T> {
    const taken = this.taken;
    const found = this.outbox.find((m) => !taken.has(m) && predicate(m));
    if (found !== undefined) {
      taken.add(found);
      return Promise.resolve(found as T);
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`FakeUi.next: no matching message within ${timeoutMs} ms`));
      }, timeoutMs);
      const stop = this.listen((m) => {
        if (!taken.has(m) && predicate(m)) {
          taken.add(m);
          clearTimeout(timer);
          stop();
          resolve(m as T);
        }
      });
    });
  }
}
