import * as Comlink from 'comlink';
import type { GenerationProgress, GenerationRequest } from '../../../common/engine-types.js';
import { createEngineClient } from '../../../ui/engine/engine-client.js';
import { deferredEngine, startEngineWorkerAsync, type WorkerFactory } from '../../../ui/engine/start-engine.js';
import { FakeEngine, waitUntil } from '../fake-engine.js';

// comlink opens a MessageChannel per proxied callback; Node keeps the process alive while such a
// port is open, so every channel made during these tests is closed afterwards.
const openChannels: MessageChannel[] = [];
const NativeMessageChannel = globalThis.MessageChannel;
class TrackedMessageChannel extends NativeMessageChannel {
  constructor() {
    super();
    openChannels.push(this);
  }
}
beforeAll(() => {
  globalThis.MessageChannel = TrackedMessageChannel;
});
afterAll(() => {
  globalThis.MessageChannel = NativeMessageChannel;
  for (const channel of openChannels) {
    channel.port1.close();
    channel.port2.close();
  }
});

/**
 * A stand-in for a Worker: the engine is exposed with comlink on one end of a real MessageChannel,
 * exactly as worker-entry exposes it, so the client's proxies and transfers really cross a port.
 */
class ChannelWorker extends EventTarget {
  readonly engine = new FakeEngine();
  private readonly channel = new MessageChannel();
  terminated = false;
  constructor() {
    super();
    Comlink.expose(this.engine, this.channel.port2 as unknown as Comlink.Endpoint);
  }
  postMessage(message: unknown, transfer?: Transferable[]): void {
    this.channel.port1.postMessage(message, transfer ?? []);
  }
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (type === 'message') this.channel.port1.addEventListener('message', listener as EventListener, options);
    else super.addEventListener(type, listener, options);
  }
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null): void {
    if (type === 'message') this.channel.port1.removeEventListener('message', listener as EventListener);
    else super.removeEventListener(type, listener);
  }
  start(): void {
    this.channel.port1.start();
  }
  terminate(): void {
    this.terminated = true;
    this.channel.port1.close();
    this.channel.port2.close();
  }
}

/** A worker whose script the host refuses: it only fires an error event. */
class RefusedWorker extends EventTarget {
  terminated = false;
  constructor(readonly url: string) {
    super();
    setTimeout(() => this.dispatchEvent(Object.assign(new Event('error'), { message: `Not allowed to load local resource: ${url}` })), 0);
  }
  postMessage(): void {}
  terminate(): void {
    this.terminated = true;
  }
}

const request: GenerationRequest = { jobId: 'j1', prompt: 'owl', width: 32, height: 16, steps: 3, guidance: 2, seed: 9 };

describe('engine client over a real MessageChannel', () => {
  test('progress callbacks cross the port as proxies and init pixels are transferred', async () => {
    const worker = new ChannelWorker();
    const client = createEngineClient(worker as unknown as Worker);
    const steps: number[] = [];
    const rgba = new Uint8Array(32 * 16 * 4).fill(7);
    const result = await client.generate({ ...request, init: { rgba, width: 32, height: 16 }, strength: 0.5 }, (p: GenerationProgress) =>
      steps.push(p.step),
    );
    // Progress calls are one-way messages on their own port: the last may land after the result.
    await waitUntil(() => steps.length === 3, 'all progress calls arrive');
    expect(steps).toEqual([1, 2, 3]);
    expect(result.settings.hasInit).toBe(true);
    expect(worker.engine.requests[0].init?.rgba[0]).toBe(7);
    // Transferred, not copied: the panel's buffer is now detached.
    expect(rgba.byteLength).toBe(0);
    client.terminate();
    expect(worker.terminated).toBe(true);
  });

  test('cancel reaches the engine by job id', async () => {
    const worker = new ChannelWorker();
    const client = createEngineClient(worker as unknown as Worker);
    worker.engine.hold();
    const running = client.generate({ ...request, steps: 5 });
    await client.cancel('j1');
    worker.engine.release();
    await expect(running).rejects.toThrow(/\[cancelled\]/);
    client.terminate();
  });

  test('a prompt check crosses the port and is answered while a job holds the engine', async () => {
    const worker = new ChannelWorker();
    const client = createEngineClient(worker as unknown as Worker);
    worker.engine.unknownWords = new Set(['zorbly']);
    worker.engine.hold();
    const running = client.generate({ ...request, steps: 2 });
    expect(await client.checkPrompt('a Zorbly rocket')).toEqual({ unknownWords: ['zorbly'], truncated: false });
    worker.engine.release();
    await running;
    client.terminate();
  });
});

describe('startEngineWorkerAsync', () => {
  test('falls back to a blob: URL when the host refuses the data: worker, preparing each worker first', async () => {
    const created: Array<RefusedWorker | ChannelWorker> = [];
    const prepared: unknown[] = [];
    const factory: WorkerFactory = {
      createObjectUrl: () => 'blob:null/1234',
      createDataUrl: (source) => `data:text/javascript,${encodeURIComponent(source)}`,
      createWorker: (url) => {
        const worker = url.startsWith('data:') ? new RefusedWorker(url) : new ChannelWorker();
        created.push(worker);
        return worker as unknown as Worker;
      },
      prepare: (worker) => prepared.push(worker),
    };
    const started = await startEngineWorkerAsync('self.onmessage = () => {}', factory);
    expect(started.via).toBe('blob');
    expect(created[0].terminated).toBe(true);
    expect(prepared).toEqual(created);
    expect((await started.engine.capabilities()).backend).toBe('wasm');
    started.engine.terminate();
  });

  test('names both failures when no worker can start, and the deferred engine reports it', async () => {
    const factory: WorkerFactory = {
      createObjectUrl: () => 'blob:null/1',
      createDataUrl: () => 'data:text/javascript,',
      createWorker: (url) => new RefusedWorker(url) as unknown as Worker,
    };
    const starting = startEngineWorkerAsync('x', factory).then((s) => s.engine);
    const engine = deferredEngine(starting);
    await expect(engine.capabilities()).rejects.toThrow(
      /could not start\. data: URL worker failed \(Not allowed to load local resource: data:text\/javascript,\); blob: URL worker failed \(Not allowed to load local resource: blob:null\/1\)/,
    );
  });
});
