import { decode } from 'fast-png';
import type { GenerationResult } from '../../common/engine-types.js';
import type { DescribedError } from '../../ui/engine-errors.js';
import { JobQueue, type EngineJob, type JobView } from '../../ui/job-queue.js';
import { FakeEngine, colourForSeed, solidPng, waitUntil } from './fake-engine.js';

function job(jobId: string, overrides: Partial<EngineJob['request']> = {}, extra: Partial<EngineJob> = {}): EngineJob {
  return {
    jobId,
    label: `Frame ${jobId}`,
    request: { prompt: 'rocket, flat style', negativePrompt: '', width: 64, height: 48, steps: 3, guidance: 4.5, seed: 7, ...overrides },
    ...extra,
  };
}

function setup(exportPng: (nodeId: string, w: number, h: number) => Promise<Uint8Array> = async () => solidPng(8, 8, [1, 2, 3])) {
  const engine = new FakeEngine();
  const delivered: Array<{ job: EngineJob; result: GenerationResult }> = [];
  const failed: Array<{ job: EngineJob; error: DescribedError }> = [];
  const cancelled: string[] = [];
  const exports: Array<{ nodeId: string; width: number; height: number }> = [];
  const queue = new JobQueue({
    engine,
    exportNodePngAsync: (nodeId, width, height) => {
      exports.push({ nodeId, width, height });
      return exportPng(nodeId, width, height);
    },
    deliverResult: (j, result) => {
      delivered.push({ job: j, result });
    },
    reportFailure: (j, error) => failed.push({ job: j, error }),
    reportCancelled: (j) => cancelled.push(j.jobId),
  });
  const views: JobView[][] = [];
  queue.subscribe((jobs) => views.push(jobs.map((v) => ({ ...v }))));
  return { engine, queue, delivered, failed, cancelled, exports, views };
}

describe('JobQueue', () => {
  test('runs jobs one at a time, in order, and delivers real PNGs of the planned size', async () => {
    const { engine, queue, delivered } = setup();
    queue.enqueue([job('a', { seed: 1 }), job('b', { seed: 2, width: 32, height: 80 }), job('c', { seed: 3 })]);
    await queue.whenIdle();

    expect(engine.maxConcurrent).toBe(1);
    expect(engine.requests.map((r) => r.jobId)).toEqual(['a', 'b', 'c']);
    expect(delivered.map((d) => d.job.jobId)).toEqual(['a', 'b', 'c']);
    const png = decode(delivered[1].result.png);
    expect([png.width, png.height]).toEqual([32, 80]);
    expect(Array.from(png.data.slice(0, 3))).toEqual(colourForSeed(2));
    expect(queue.snapshot().map((v) => v.status)).toEqual(['done', 'done', 'done']);
    expect(queue.snapshot()[1].resultPng).toBe(delivered[1].result.png);
  });

  test('shows per-step progress and the live preview while a job runs', async () => {
    const { queue, views } = setup();
    queue.enqueue([job('a', { steps: 4 })]);
    await queue.whenIdle();

    const running = views.flatMap((jobs) => jobs.slice(0, 1)).filter((v) => v.status === 'running');
    expect(running.map((v) => v.step)).toEqual([0, 1, 2, 3, 4]);
    expect(running.every((v) => v.total === 4)).toBe(true);
    expect(running[2].preview?.width).toBe(4);
    expect(running[2].preview?.rgba[0]).toBe(2);
    expect(queue.snapshot()[0].step).toBe(4);
  });

  test('a failed job is reported in plain language and later jobs still run', async () => {
    const { queue, delivered, failed } = setup();
    queue.enqueue([job('a'), job('b', { prompt: 'please FAIL' }), job('c')]);
    await queue.whenIdle();

    expect(delivered.map((d) => d.job.jobId)).toEqual(['a', 'c']);
    expect(failed).toHaveLength(1);
    expect(failed[0].job.jobId).toBe('b');
    expect(failed[0].error.code).toBe('invalid-request');
    expect(failed[0].error.message).toMatch(/^The settings were not accepted: prompt "please FAIL"/);
    expect(queue.snapshot().map((v) => v.status)).toEqual(['done', 'failed', 'done']);
  });

  test('a host that cannot write a result fails that job, not the queue', async () => {
    const engine = new FakeEngine();
    const failed: string[] = [];
    const delivered: string[] = [];
    const queue = new JobQueue({
      engine,
      exportNodePngAsync: async () => solidPng(8, 8, [0, 0, 0]),
      deliverResult: (j) => {
        if (j.jobId === 'a') throw new Error('node was deleted');
        delivered.push(j.jobId);
      },
      reportFailure: (j, error) => failed.push(`${j.jobId}: ${error.message}`),
      reportCancelled: () => {},
    });
    queue.enqueue([job('a'), job('b')]);
    await queue.whenIdle();
    expect(failed).toEqual(['a: Something went wrong inside the image engine: node was deleted']);
    expect(delivered).toEqual(['b']);
  });

  test('cancelling a queued job means it never reaches the engine', async () => {
    const { engine, queue, delivered, cancelled } = setup();
    engine.hold();
    queue.enqueue([job('a'), job('b'), job('c')]);
    await queue.cancel('b');
    engine.release();
    await queue.whenIdle();

    expect(engine.requests.map((r) => r.jobId)).toEqual(['a', 'c']);
    expect(delivered.map((d) => d.job.jobId)).toEqual(['a', 'c']);
    expect(cancelled).toEqual(['b']);
    expect(engine.cancelCalls).toEqual([]);
  });

  test('cancelling the running job stops it in the engine, drops its image, and moves on', async () => {
    const { engine, queue, delivered, cancelled, failed } = setup();
    engine.hold();
    queue.enqueue([job('a', { steps: 10 }), job('b')]);
    await waitUntil(() => queue.snapshot()[0].status === 'running', 'job a runs');
    await queue.cancel('a');
    engine.release();
    await queue.whenIdle();

    expect(engine.cancelCalls).toEqual(['a']);
    expect(cancelled).toEqual(['a']);
    expect(failed).toEqual([]);
    expect(delivered.map((d) => d.job.jobId)).toEqual(['b']);
    expect(queue.snapshot().map((v) => v.status)).toEqual(['cancelled', 'done']);
  });

  test('cancel all stops the running job and every queued one', async () => {
    const { engine, queue, delivered, cancelled } = setup();
    engine.hold();
    queue.enqueue([job('a'), job('b'), job('c')]);
    await waitUntil(() => queue.snapshot()[0].status === 'running', 'job a runs');
    await queue.cancelAll();
    engine.release();
    await queue.whenIdle();

    expect(delivered).toEqual([]);
    expect(cancelled.sort()).toEqual(['a', 'b', 'c']);
    expect(engine.requests.map((r) => r.jobId)).toEqual(['a']);
    // Jobs added after a cancel-all run normally.
    queue.enqueue([job('d')]);
    await queue.whenIdle();
    expect(delivered.map((d) => d.job.jobId)).toEqual(['d']);
  });

  test('a silent cancel (main dropped the job) is not reported back', async () => {
    const { engine, queue, cancelled } = setup();
    engine.hold();
    queue.enqueue([job('a'), job('b')]);
    await queue.cancel('b', { silent: true });
    engine.release();
    await queue.whenIdle();
    expect(cancelled).toEqual([]);
    expect(queue.snapshot()[1].status).toBe('cancelled');
  });

  test('image variation: exports the source, resamples it to the generation size, passes it as init', async () => {
    // The export comes back at 20×15 (Figma rounds); the job generates at 64×48.
    const { engine, queue, exports, delivered } = setup(async () => solidPng(20, 15, [200, 100, 50]));
    queue.enqueue([job('v', { strength: 0.6 }, { sourceNodeId: '1:9', parent: { nodeId: '1:9', seed: 5 } })]);
    await queue.whenIdle();

    expect(exports).toEqual([{ nodeId: '1:9', width: 64, height: 48 }]);
    const init = engine.requests[0].init!;
    expect([init.width, init.height, init.rgba.length]).toEqual([64, 48, 64 * 48 * 4]);
    expect(Array.from(init.rgba.slice(0, 4))).toEqual([200, 100, 50, 255]);
    expect(engine.requests[0].strength).toBe(0.6);
    expect(delivered[0].result.settings.hasInit).toBe(true);
  });

  test('a failed export fails only that job', async () => {
    const { queue, failed, delivered } = setup(async () => {
      throw new Error('the node has no visible pixels');
    });
    queue.enqueue([job('v', { strength: 0.5 }, { sourceNodeId: '1:9' }), job('t')]);
    await queue.whenIdle();
    expect(failed.map((f) => f.job.jobId)).toEqual(['v']);
    expect(failed[0].error.message).toBe('Could not read the pixels of the source layer: the node has no visible pixels');
    expect(delivered.map((d) => d.job.jobId)).toEqual(['t']);
  });

  test('a progress call that lands after the result (as over comlink) does not reopen the job', async () => {
    const engine = new FakeEngine();
    const inner = engine.generate.bind(engine);
    let late: (() => void) | undefined;
    engine.generate = async (request, onProgress) => {
      const result = await inner(request, onProgress);
      late = () => onProgress?.({ jobId: request.jobId, step: 1, total: request.steps, elapsedMs: 1 });
      return result;
    };
    const queue = new JobQueue({ engine, exportNodePngAsync: async () => new Uint8Array(), deliverResult: () => {}, reportFailure: () => {}, reportCancelled: () => {} });
    queue.enqueue([job('a')]);
    await queue.whenIdle();
    late!();
    expect(queue.snapshot()[0]).toMatchObject({ status: 'done', step: 3 });
  });

  test('refuses a duplicate job id', () => {
    const { engine, queue } = setup();
    engine.hold();
    queue.enqueue([job('a')]);
    expect(() => queue.enqueue([job('a')])).toThrow(/jobId "a" is already in the queue/);
    engine.release();
    return queue.whenIdle();
  });

  test('clearFinished keeps running and queued jobs', async () => {
    const { engine, queue } = setup();
    queue.enqueue([job('a')]);
    await queue.whenIdle();
    engine.hold();
    queue.enqueue([job('b'), job('c')]);
    await waitUntil(() => queue.snapshot()[1].status === 'running', 'job b runs');
    queue.clearFinished();
    expect(queue.snapshot().map((v) => v.jobId)).toEqual(['b', 'c']);
    engine.release();
    await queue.whenIdle();
  });
});
