/**
 * Watches the messages between the plugin's main thread and its panel, to tell when the plugin
 * has nothing in flight (window.flowfill.waitForIdle). Only the wire is visible from the page: the
 * panel lives in a null-origin iframe the page cannot reach into, as in Figma.
 *
 * Busy means any of: the panel has not said ui-ready yet in this run; main asked the panel to run
 * a command and no plan-request followed yet; a plan-request is unanswered; a planned batch has
 * not reported batch-done.
 */

export interface WireEntry {
  direction: 'main→ui' | 'ui→main';
  type: string;
  /** ms since the page loaded. */
  at: number;
}

function typeOf(message: unknown): string {
  if (typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string') {
    return (message as { type: string }).type;
  }
  return '(untyped)';
}

function field(message: unknown, name: string): unknown {
  return typeof message === 'object' && message !== null ? (message as Record<string, unknown>)[name] : undefined;
}

export class WireWatch {
  readonly log: WireEntry[] = [];
  private running = false;
  private uiReady = false;
  private commandWaiting: string | null = null;
  private readonly planRequests = new Set<string>();
  private readonly batches = new Set<string>();

  runStarted(command: string): void {
    this.running = true;
    this.uiReady = false;
    this.commandWaiting = null;
    this.planRequests.clear();
    this.batches.clear();
    this.log.push({ direction: 'main→ui', type: `(launch ${command})`, at: performance.now() });
  }

  fromMain(message: unknown): void {
    const type = typeOf(message);
    this.log.push({ direction: 'main→ui', type, at: performance.now() });
    if (type === 'run-command') this.commandWaiting = String(field(message, 'command'));
    if (type === 'plan') {
      this.planRequests.delete(String(field(message, 'requestId')));
      const jobs = field(message, 'jobs');
      if (Array.isArray(jobs) && jobs.length > 0) this.batches.add(String(field(message, 'batchId')));
    }
    if (type === 'batch-done') this.batches.delete(String(field(message, 'batchId')));
    if (type === 'error' && field(message, 'ref') !== undefined) this.planRequests.delete(String(field(message, 'ref')));
  }

  fromUi(message: unknown): void {
    const type = typeOf(message);
    this.log.push({ direction: 'ui→main', type, at: performance.now() });
    if (type === 'ui-ready') this.uiReady = true;
    if (type === 'plan-request') {
      this.commandWaiting = null;
      this.planRequests.add(String(field(message, 'requestId')));
    }
    if (type === 'close') this.running = false;
  }

  /** What the plugin is still doing, in words; empty when idle. */
  busyReasons(): string[] {
    if (!this.running) return [];
    const reasons: string[] = [];
    if (!this.uiReady) reasons.push('the panel has not sent ui-ready');
    if (this.commandWaiting) reasons.push(`run-command "${this.commandWaiting}" got no plan-request from the panel yet (the panel may be loading its model, or it refused: see its notices)`);
    if (this.planRequests.size > 0) reasons.push(`plan-request ${[...this.planRequests].join(', ')} unanswered`);
    if (this.batches.size > 0) reasons.push(`batch ${[...this.batches].join(', ')} not done`);
    return reasons;
  }
}
