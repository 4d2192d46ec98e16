/**
 * Watches the host RPC between the plugin's main thread and its panel, to tell when the plugin has
 * nothing in flight (window.flowfill.waitForIdle). Only the wire is visible from the page: the
 * panel lives in a null-origin iframe the page cannot reach into, as in Figma.
 *
 * Busy means any of: the panel has not read its launch yet in this run; the launch carried a
 * command and no batch followed yet (the panel loads its model first); a batch is open (it opens
 * with the panel's readTargets call and ends with its commitUndo call); a call is unanswered.
 */

export interface WireEntry {
  direction: 'panel→host' | 'host→panel';
  /** A call or reply: the host method; an event: its name; or "(launch <command>)". */
  name: string;
  kind: 'call' | 'reply' | 'event' | 'launch' | 'other';
  /** Replies: whether the call succeeded. */
  ok?: boolean;
  /** ms since the page loaded. */
  at: number;
}

function field(message: unknown, name: string): unknown {
  return typeof message === 'object' && message !== null ? (message as Record<string, unknown>)[name] : undefined;
}

export class WireWatch {
  readonly log: WireEntry[] = [];
  private running = false;
  private launchRead = false;
  private commandWaiting: string | null = null;
  private openBatches = 0;
  /** Unanswered calls: id → method. */
  private readonly calls = new Map<number, string>();

  runStarted(command: string): void {
    this.running = true;
    this.launchRead = false;
    this.commandWaiting = null;
    this.openBatches = 0;
    this.calls.clear();
    this.log.push({ direction: 'host→panel', name: `(launch ${command})`, kind: 'launch', at: performance.now() });
  }

  /** The plugin closed: its panel, and everything it had in flight, are gone. */
  runEnded(): void {
    this.running = false;
  }

  fromPanel(message: unknown): void {
    const method = String(field(message, 'method'));
    const isCall = field(message, 'kind') === 'call';
    this.log.push({
      direction: 'panel→host',
      name: isCall ? method : '(not a call)',
      kind: isCall ? 'call' : 'other',
      at: performance.now(),
    });
    if (!isCall) return;
    const id = field(message, 'id');
    if (typeof id === 'number') this.calls.set(id, method);
    if (method === 'readTargets') {
      this.commandWaiting = null;
      this.openBatches++;
    }
    if (method === 'commitUndo') this.openBatches = Math.max(0, this.openBatches - 1);
    if (method === 'close') this.running = false;
  }

  fromHost(message: unknown): void {
    const kind = field(message, 'kind');
    if (kind === 'event') {
      this.log.push({ direction: 'host→panel', name: String(field(message, 'event')), kind: 'event', at: performance.now() });
      return;
    }
    const id = field(message, 'id');
    const method = typeof id === 'number' ? this.calls.get(id) : undefined;
    if (typeof id === 'number') this.calls.delete(id);
    const ok = field(message, 'ok') === true;
    this.log.push({
      direction: 'host→panel',
      name: method ?? '(unknown call)',
      kind: kind === 'reply' ? 'reply' : 'other',
      ok,
      at: performance.now(),
    });
    // A batch whose targets could not be read never started.
    if (method === 'readTargets' && !ok) this.openBatches = Math.max(0, this.openBatches - 1);
    if (method === 'readLaunch' && ok) {
      this.launchRead = true;
      const command = String(field(field(message, 'result'), 'command'));
      if (command !== 'open') this.commandWaiting = command;
    }
  }

  /** What the plugin is still doing, in words; empty when idle. */
  busyReasons(): string[] {
    if (!this.running) return [];
    const reasons: string[] = [];
    if (!this.launchRead) reasons.push('the panel has not read its launch yet');
    if (this.commandWaiting)
      reasons.push(
        `command "${this.commandWaiting}" started no batch yet (the panel may be loading its model, or it declined: see its notices)`,
      );
    if (this.openBatches > 0) reasons.push(`${this.openBatches} batch${this.openBatches > 1 ? 'es' : ''} not finished (no commitUndo yet)`);
    // close is never answered: the panel goes with the plugin.
    const pending = [...this.calls.values()].filter((m) => m !== 'close');
    if (pending.length > 0) reasons.push(`calls unanswered: ${pending.join(', ')}`);
    return reasons;
  }
}
