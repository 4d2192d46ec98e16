/**
 * The host RPC's contract: every call, result and event is validated where it arrives; a
 * malformed or unknown call gets one error reply naming the problem, never a crash; results a
 * host produces are checked before they leave. The fuzz runs against the real Figma host on the
 * Figma fake.
 */
import * as v from 'valibot';
import { HOST_METHODS, HOST_RPC, HOST_RPC_VERSION, type HostMethodName } from '../../common/host-rpc.js';
import { isBytes } from '../../common/plain-values.js';
import { RpcError, connectRpc, serveRpc, type RpcEndpoint, type RpcHandlers } from '../../common/rpc-link.js';
import type { HostMethods } from '../../common/host-rpc.js';
import { createFigmaHost } from '../../src/figma-host.js';
import { launchFor } from '../../src/launch.js';
import { asPluginApi, createFigmaFake } from '../figma-fake/index.js';
import { makePng } from '../figma-fake/test-images.js';
import { sampleArgs, sampleLayers, sampleRecord, sampleResults } from './sample-calls.js';

const METHODS = Object.keys(HOST_METHODS) as HostMethodName[];
const head = { rpc: 'flowfill-host', v: HOST_RPC_VERSION };
const call = (method: string, args: unknown, id = 1) => ({ ...head, kind: 'call', id, method, args });

/** mulberry32: a tiny seeded PRNG so every fuzz run sees the same inputs. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function clone<T>(x: T): T {
  if (isBytes(x)) return new Uint8Array(x) as unknown as T;
  if (Array.isArray(x)) return x.map(clone) as unknown as T;
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, value]) => [k, clone(value)])) as T;
  return x;
}

type Path = (string | number)[];
function leafPaths(x: unknown, prefix: Path = []): Path[] {
  if (isBytes(x) || x === null || typeof x !== 'object') return [prefix];
  const entries: [string | number, unknown][] = Array.isArray(x) ? x.map((item, i) => [i, item]) : Object.entries(x);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, value]) => leafPaths(value, [...prefix, k]));
}
function at(root: unknown, path: Path): unknown {
  return path.reduce<any>((node, key) => node[key], root);
}
function setPath(root: unknown, path: Path, value: unknown): void {
  (at(root, path.slice(0, -1)) as Record<string | number, unknown>)[path[path.length - 1]] = value;
}
function deletePath(root: unknown, path: Path): void {
  delete (at(root, path.slice(0, -1)) as Record<string | number, unknown>)[path[path.length - 1]];
}

/** A value of a different JS kind than `x`, so a typed field can never accept it. */
function wrongKind(x: unknown): unknown {
  if (isBytes(x)) return Array.from(x);
  if (typeof x === 'string') return 12345;
  if (typeof x === 'number') return String(x);
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (x === null) return 42;
  if (Array.isArray(x)) return { length: x.length };
  return 'not an object';
}

/** Fields a call may omit, and fields whose value may be any JSON. */
const OPTIONAL = new Set(['unfillable', 'provenance', 'prompt', 'strength', 'parent', 'shift', 'imageHash', 'seed@parent']);
const isOptional = (path: Path) =>
  OPTIONAL.has(String(path[path.length - 1])) || (path.length >= 2 && OPTIONAL.has(`${path[path.length - 1]}@${path[path.length - 2]}`));
const anyJson = (method: string, path: Path) => method === 'saveValue' && path[0] === 'value';

/** A server over a recording endpoint: what it posts is kept in `replies`. */
function recordingServer(handlers: RpcHandlers<HostMethods>) {
  const replies: any[] = [];
  const endpoint: RpcEndpoint = { post: (m) => replies.push(structuredClone(m)), listen: () => () => {} };
  const server = serveRpc(HOST_RPC, handlers, endpoint);
  return { server, replies };
}

/** Handlers answering each method with its sample result (and recording the parsed arguments). */
function sampleHandlers(received: Array<{ method: string; args: unknown }> = []): RpcHandlers<HostMethods> {
  return Object.fromEntries(
    METHODS.map((method) => [
      method,
      (args: unknown) => {
        received.push({ method, args });
        return clone(sampleResults[method]);
      },
    ]),
  ) as unknown as RpcHandlers<HostMethods>;
}

/** Two endpoints delivering structured clones to each other asynchronously, like postMessage. */
function loopback(): { client: RpcEndpoint; server: RpcEndpoint } {
  const listeners = { client: new Set<(m: unknown) => void>(), server: new Set<(m: unknown) => void>() };
  const side = (me: 'client' | 'server', other: 'client' | 'server'): RpcEndpoint => ({
    post: (m) => {
      const copy = structuredClone(m);
      setTimeout(() => listeners[other].forEach((l) => l(copy)), 0);
    },
    listen: (l) => {
      listeners[me].add(l);
      return () => listeners[me].delete(l);
    },
  });
  return { client: side('client', 'server'), server: side('server', 'client') };
}

const replyEnvelope = v.object({
  rpc: v.literal('flowfill-host'),
  v: v.literal(HOST_RPC_VERSION),
  kind: v.literal('reply'),
  id: v.nullable(v.number()),
  ok: v.boolean(),
  result: v.optional(v.unknown()),
  error: v.optional(v.object({ code: v.string(), message: v.string() })),
});

describe('server validation', () => {
  test.each(METHODS)('%s: a valid call gets the validated result', async (method) => {
    const received: Array<{ method: string; args: unknown }> = [];
    const { server, replies } = recordingServer(sampleHandlers(received));
    await server.handle(call(method, clone(sampleArgs[method]), 7));
    expect(replies).toEqual([{ ...head, kind: 'reply', id: 7, ok: true, result: sampleResults[method] }]);
    expect(received).toEqual([{ method, args: sampleArgs[method] }]);
  });

  test('a call of another version is refused by name, with its id', async () => {
    const { server, replies } = recordingServer(sampleHandlers());
    await server.handle({ ...call('readLaunch', {}, 3), v: 1 });
    expect(replies[0]).toMatchObject({
      id: 3,
      ok: false,
      error: { code: 'version-mismatch', message: expect.stringContaining(`version ${HOST_RPC_VERSION}`) },
    });
  });

  test('an unknown method is refused, listing the known ones', async () => {
    const { server, replies } = recordingServer(sampleHandlers());
    for (const method of ['paint', 'toString', '__proto__', 'constructor']) await server.handle(call(method, {}, 4));
    expect(replies.map((r) => r.error.code)).toEqual(['unknown-method', 'unknown-method', 'unknown-method', 'unknown-method']);
    expect(replies[0].error.message).toMatch(/"paint" is not a method of flowfill-host; known: readLaunch, .*close/);
  });

  test('non-objects and broken envelopes get an error reply (id null when none is readable)', async () => {
    const { server, replies } = recordingServer(sampleHandlers());
    const junk = [
      null,
      undefined,
      3,
      'readLaunch',
      [],
      new Uint8Array(4),
      { ...head, kind: 'call', method: 'readLaunch', args: {} },
      { ...head, kind: 'reply', id: 2 },
    ];
    for (const x of junk) await server.handle(x);
    expect(replies).toHaveLength(junk.length);
    for (const reply of replies) expect(v.safeParse(replyEnvelope, reply).success && reply.ok === false).toBe(true);
    expect(replies[0].id).toBeNull();
    expect(replies[7]).toMatchObject({ id: 2, error: { code: 'malformed-call' } });
  });

  test('the error names the method, the field, the value and what is valid', async () => {
    const { server, replies } = recordingServer(sampleHandlers());
    await server.handle(call('exportPng', { nodeId: '1:2', width: 5000 }));
    await server.handle(call('placeImage', { ...clone(sampleArgs.placeImage), record: { ...sampleRecord, seed: -1 } }));
    await server.handle(call('placeImage', { ...clone(sampleArgs.placeImage), png: 'iVBORw0KGgo=' }));
    await server.handle(call('placeImage', { ...clone(sampleArgs.placeImage), png: makePng(16, 16) }));
    await server.handle(call('placeImage', { ...clone(sampleArgs.placeImage), destination: { kind: 'create', name: 'x', x: 0, y: 0 } }));
    expect(replies.map((r) => r.error.message)).toEqual([
      'exportPng: args.width is 5000; expected an integer in [1, 4096]',
      'placeImage: args.record.seed is -1; expected an integer in [0, 4294967295]',
      expect.stringMatching(/^placeImage: args\.png is "iVBORw0KGgo="; expected PNG bytes as a Uint8Array/),
      'placeImage: args.record is an object; expected a record whose width × height is the PNG’s own size',
      'placeImage: args.destination.width is missing',
    ]);
  });

  test('every sample call with any required field removed is refused', async () => {
    const { server, replies } = recordingServer(sampleHandlers());
    let checked = 0;
    for (const method of METHODS) {
      for (const path of leafPaths(sampleArgs[method])) {
        for (let depth = 1; depth <= path.length; depth++) {
          const cut = path.slice(0, depth);
          if (cut.some((_, i) => isOptional(cut.slice(0, i + 1))) || anyJson(method, cut) || typeof cut[cut.length - 1] === 'number')
            continue;
          const broken = clone(sampleArgs[method]);
          deletePath(broken, cut);
          await server.handle(call(method, broken));
          const reply = replies.at(-1);
          if (reply.ok) throw new Error(`accepted ${method} without ${cut.join('.')}`);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  test('every sample call with any typed leaf of the wrong kind is refused, naming the field', async () => {
    const { server, replies } = recordingServer(sampleHandlers());
    let checked = 0;
    for (const method of METHODS) {
      for (const path of leafPaths(sampleArgs[method])) {
        if (path.length === 0 || (anyJson(method, path) && path.length > 1)) continue;
        const broken = clone(sampleArgs[method]);
        setPath(broken, path, wrongKind(at(sampleArgs[method], path)));
        await server.handle(call(method, broken));
        const reply = replies.at(-1);
        if (reply.ok) throw new Error(`accepted ${method} with ${path.join('.')} of the wrong kind`);
        expect(reply.error.message).toContain(`args.${path.filter((k) => typeof k === 'string').join('.')}`.replace(/\.$/, ''));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(25);
  });

  test('stored values must be bounded JSON: no NaN, functions, class instances, cycles or deep nesting', async () => {
    const { server, replies } = recordingServer(sampleHandlers());
    const cyclic: any = { a: {} };
    cyclic.a.self = cyclic;
    let deep: any = 1;
    for (let i = 0; i < 20; i++) deep = { deep };
    for (const value of [{ x: NaN }, { d: new Date(0) }, cyclic, deep, { n: Infinity }]) {
      await server.handle(call('saveValue', { key: 'settings', value }));
    }
    expect(replies.every((r) => !r.ok && r.error.code === 'malformed-call')).toBe(true);
    expect(replies[0].error.message).toContain('value.x is NaN, not a finite number');
  });

  test('a handler error keeps its code; anything else it throws is handler-failed; the server keeps going', async () => {
    const handlers = sampleHandlers();
    handlers.exportPng = () => {
      throw new RpcError('node-missing', 'The layer 1:2 no longer exists');
    };
    handlers.loadValue = async () => {
      throw new TypeError('boom');
    };
    const { server, replies } = recordingServer(handlers);
    await server.handle(call('exportPng', sampleArgs.exportPng, 1));
    await server.handle(call('loadValue', sampleArgs.loadValue, 2));
    await server.handle(call('readLaunch', {}, 3));
    expect(replies.map((r) => [r.id, r.ok, r.error?.code])).toEqual([
      [1, false, 'node-missing'],
      [2, false, 'handler-failed'],
      [3, true, undefined],
    ]);
    expect(replies[0].error.message).toBe('exportPng: The layer 1:2 no longer exists');
  });

  test('a result the host gets wrong is not sent: the caller hears invalid-result', async () => {
    const handlers = sampleHandlers();
    handlers.readTargets = () => ({ targets: [{ ...sampleLayers[0], width: -1, height: 1, x: 0, y: 0 }], viewportCenter: { x: 0, y: 0 } });
    const { server, replies } = recordingServer(handlers);
    await server.handle(call('readTargets', {}));
    expect(replies[0]).toMatchObject({
      ok: false,
      error: {
        code: 'invalid-result',
        message: 'readTargets produced an invalid result: result.targets[0].width is -1; expected a number in [0, 1000000]',
      },
    });
  });

  test('exotic inputs (throwing getters, proxies) are answered, not thrown', async () => {
    const { server, replies } = recordingServer(sampleHandlers());
    const getter = Object.defineProperty({ ...head, kind: 'call', id: 1 }, 'method', {
      enumerable: true,
      get: () => {
        throw new Error('boom');
      },
    });
    const proxy = new Proxy(
      {},
      {
        get: () => {
          throw new Error('trap');
        },
        has: () => {
          throw new Error('trap');
        },
        getPrototypeOf: () => {
          throw new Error('trap');
        },
      },
    );
    const argsProxy = call(
      'notify',
      new Proxy(
        { message: 'x', error: false },
        {
          has: () => {
            throw new Error('trap');
          },
        },
      ),
    );
    for (const x of [getter, proxy, argsProxy]) await expect(server.handle(x)).resolves.toBeUndefined();
    expect(replies).toHaveLength(3);
    expect(replies.every((r) => r.ok === false)).toBe(true);
  });

  test('calls cloned from another realm (another frame, a vm context) validate', async () => {
    const vm = await import('node:vm');
    const foreign = vm.runInNewContext(
      `({ rpc: 'flowfill-host', v: ${HOST_RPC_VERSION}, kind: 'call', id: 9, method: 'checkNodes', args: { nodeIds: ['1:2'] } })`,
    );
    expect(Object.getPrototypeOf(foreign)).not.toBe(Object.prototype);
    const { server, replies } = recordingServer(sampleHandlers());
    await server.handle(foreign);
    expect(replies[0]).toMatchObject({ id: 9, ok: true });
  });
});

describe('client', () => {
  test('methods are async functions; results arrive validated, errors as RpcError with the host’s code', async () => {
    const ends = loopback();
    const handlers = sampleHandlers();
    handlers.exportPng = () => {
      throw new RpcError('export-failed', 'Could not export layer 1:2');
    };
    serveRpc(HOST_RPC, handlers, ends.server);
    const { call: host } = connectRpc(HOST_RPC, ends.client, { log: () => {} });
    await expect(host.readTargets()).resolves.toEqual(sampleResults.readTargets);
    const png = await host.exportPng(sampleArgs.exportPng).catch((e: unknown) => e);
    expect(png).toBeInstanceOf(RpcError);
    expect(png).toMatchObject({ code: 'export-failed', message: 'exportPng: Could not export layer 1:2' });
    // Arguments are checked before they leave, with the message the host would give.
    await expect(host.exportPng({ nodeId: '', width: 1 })).rejects.toMatchObject({
      code: 'malformed-call',
      message: expect.stringContaining('args.nodeId is ""'),
    });
  });

  test('a reply that does not validate rejects its call; unknown replies and bad events are logged, never thrown', async () => {
    const posted: any[] = [];
    let deliver: (m: unknown) => void = () => {};
    const logs: string[] = [];
    const connection = connectRpc(
      HOST_RPC,
      { post: (m) => posted.push(m), listen: (l) => ((deliver = l), () => {}) },
      { log: (m) => logs.push(m) },
    );
    const pending = connection.call.readSelection();
    deliver({
      ...head,
      kind: 'reply',
      id: posted[0].id,
      ok: true,
      result: { layers: [{ id: '', name: 'x', type: 'FRAME', hasImageFill: false }] },
    });
    await expect(pending).rejects.toMatchObject({ code: 'invalid-result', message: expect.stringContaining('result.layers[0].id is ""') });
    const seen: unknown[] = [];
    connection.on('selection-changed', (payload) => seen.push(payload));
    deliver({ ...head, kind: 'event', event: 'selection-changed', payload: { layers: sampleLayers } });
    deliver({ ...head, kind: 'event', event: 'selection-changed', payload: { layers: 'no' } });
    deliver({ ...head, kind: 'event', event: 'party', payload: {} });
    deliver({ ...head, kind: 'reply', id: 999, ok: true, result: null });
    deliver({ ...head, v: 1, kind: 'event', event: 'selection-changed', payload: {} });
    deliver({ unrelated: true });
    expect(seen).toEqual([{ layers: sampleLayers }]);
    expect(logs).toHaveLength(4);
  });
});

/** Each fuzz run makes thousands of calls: seconds alone, more on a shared 2-core machine. */
const FUZZ_BUDGET_MS = 120_000;

describe('fuzz (seeded)', () => {
  const random = mulberry32(20260131);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const fieldNames = [
    'nodeId',
    'nodeIds',
    'width',
    'png',
    'record',
    'destination',
    'fillMode',
    'key',
    'value',
    'message',
    'error',
    'kind',
    'x',
    'y',
    'name',
    '__proto__',
    'constructor',
  ];
  const tinyPng = makePng(2, 2);
  function junk(depth: number): unknown {
    const r = random();
    if (depth > 3 || r < 0.35) {
      return pick<unknown>([
        0,
        -1,
        1.5,
        NaN,
        Infinity,
        2 ** 53,
        '',
        '1:2',
        'x'.repeat(Math.floor(random() * 5000)),
        true,
        false,
        null,
        undefined,
        new Uint8Array(Math.floor(random() * 16)),
        tinyPng,
        Symbol('s'),
        () => 0,
        10n,
      ]);
    }
    if (r < 0.55) return Array.from({ length: Math.floor(random() * 5) }, () => junk(depth + 1));
    const o: Record<string, unknown> = {};
    // defineProperty: "__proto__" becomes an own key, as JSON.parse and structured clone make it.
    for (let i = Math.floor(random() * 6); i > 0; i--)
      Object.defineProperty(o, pick(fieldNames), { value: junk(depth + 1), enumerable: true, writable: true, configurable: true });
    return o;
  }
  /** Mostly well-formed envelopes with junk inside; some junk envelopes; some wrong versions. */
  function randomCall(i: number): unknown {
    const r = random();
    if (r < 0.1) return junk(0);
    const message: Record<string, unknown> = {
      ...head,
      kind: 'call',
      id: i,
      method: random() < 0.9 ? pick(METHODS) : pick(['', 'paint', 'hasOwnProperty']),
      args: random() < 0.2 ? clone(sampleArgs[pick(METHODS)]) : junk(1),
    };
    if (r < 0.15) message.v = junk(3);
    if (r < 0.2) delete message[pick(Object.keys(message))];
    return message;
  }

  test(
    '10,000 random calls to the real Figma host: each gets exactly one valid reply, none crashes',
    async () => {
      const figma = createFigmaFake({ relaunchCommands: ['regenerate', 'variations'] });
      const frame = figma.createFrame();
      figma.__userSelect([frame]);
      const host = createFigmaHost(asPluginApi(figma), launchFor('open', undefined));
      const { server, replies } = recordingServer(host.handlers);
      let ok = 0;
      for (let i = 0; i < 10_000; i++) {
        const before = replies.length;
        await expect(server.handle(randomCall(i))).resolves.toBeUndefined();
        expect(replies.length).toBe(before + 1);
        const reply = replies[before];
        if (!v.safeParse(replyEnvelope, reply).success) throw new Error(`invalid reply ${JSON.stringify(reply)}`);
        if (reply.ok) ok++;
      }
      // Only argument-free methods (and the valid samples mixed in) can succeed by chance.
      expect(ok).toBeGreaterThan(100);
      expect(ok).toBeLessThan(4000);
    },
    FUZZ_BUDGET_MS,
  );

  test(
    '5,000 random single-field corruptions of valid calls are all refused',
    async () => {
      const { server, replies } = recordingServer(sampleHandlers());
      let corrupted = 0;
      for (let i = 0; i < 5000; i++) {
        const method = pick(METHODS);
        const paths = leafPaths(sampleArgs[method]).filter((p) => p.length > 0 && !(anyJson(method, p) && p.length > 1));
        if (paths.length === 0) continue;
        const path = pick(paths);
        const broken = clone(sampleArgs[method]);
        setPath(broken, path, wrongKind(at(sampleArgs[method], path)));
        await server.handle(call(method, broken, i));
        expect(replies.at(-1).ok).toBe(false);
        corrupted++;
      }
      expect(corrupted).toBeGreaterThan(3000);
    },
    FUZZ_BUDGET_MS,
  );

  test(
    '10,000 random replies and events never crash the client; a pending call only settles on a valid reply',
    async () => {
      const posted: any[] = [];
      let deliver: (m: unknown) => void = () => {};
      const connection = connectRpc(HOST_RPC, { post: (m) => posted.push(m), listen: (l) => ((deliver = l), () => {}) }, { log: () => {} });
      let settled = 0;
      for (let i = 0; i < 10_000; i++) {
        const method = pick(METHODS);
        const pending = connection.call[method](clone(sampleArgs[method]) as never).then(
          () => settled++,
          () => settled++,
        );
        const id = posted.at(-1).id;
        const r = random();
        const message =
          r < 0.3
            ? junk(0)
            : {
                ...head,
                kind: pick(['reply', 'event', 'call']),
                id: random() < 0.8 ? id : junk(2),
                ok: pick([true, false, 1]),
                result: random() < 0.3 ? clone(sampleResults[method]) : junk(1),
                error: junk(1),
                event: pick(['selection-changed', 'x']),
                payload: junk(1),
              };
        expect(() => deliver(message)).not.toThrow();
        // Then the real answer: the call must settle exactly once, whatever came before.
        deliver({ ...head, kind: 'reply', id, ok: true, result: clone(sampleResults[method]) });
        await pending;
      }
      expect(settled).toBe(10_000);
    },
    FUZZ_BUDGET_MS,
  );
});
