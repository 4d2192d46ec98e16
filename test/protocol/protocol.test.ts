import {
  PROTOCOL_VERSION,
  errorReply,
  isBytes,
  mainMessage,
  parseMainToUi,
  parseUiToMain,
  uiMessage,
} from '../../common/protocol.js';
import { sampleMainToUi, sampleRecord, sampleUiToMain } from './sample-messages.js';

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
  if (x && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = clone(v);
    return out as T;
  }
  return x;
}

type Path = (string | number)[];
function leafPaths(x: unknown, prefix: Path = []): Path[] {
  if (isBytes(x) || x === null || typeof x !== 'object') return [prefix];
  const entries: [string | number, unknown][] = Array.isArray(x) ? x.map((v, i) => [i, v]) : Object.entries(x);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
}
function setPath(root: unknown, path: Path, value: unknown): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]] = value;
}
function deletePath(root: unknown, path: Path): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  delete node[path[path.length - 1]];
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

// Fields a message may omit (top level or nested) and values where any JSON is valid.
const OPTIONAL = new Set(['newFrame', 'inReplyTo', 'ref', 'prompt@run-command', 'skipReason', 'provenance', 'variationIndex', 'parentNodeId', 'sourceRecord']);
const isOptional = (type: string, path: Path) => {
  const last = String(path[path.length - 1]);
  return OPTIONAL.has(last) || OPTIONAL.has(`${last}@${type}`) || path[0] === 'settings';
};

const directions = [
  { name: 'UI → main', parse: parseUiToMain, samples: sampleUiToMain },
  { name: 'main → UI', parse: parseMainToUi, samples: sampleMainToUi },
];

describe.each(directions)('$name validator', ({ parse, samples }) => {
  test.each(samples.map((m) => [m.type, m] as const))('accepts a valid %s', (_type, msg) => {
    const out = parse(clone(msg));
    expect(out).toEqual({ ok: true, msg });
  });

  test('rejects a wrong or missing version with version-mismatch, naming the versions', () => {
    for (const msg of samples) {
      for (const v of [0, 2, '1', undefined]) {
        const out = parse({ ...clone(msg), v });
        expect(out.ok).toBe(false);
        if (!out.ok) {
          expect(out.code).toBe('version-mismatch');
          expect(out.error).toContain(`version ${PROTOCOL_VERSION}`);
          expect(out.inReplyTo).toBe(msg.type);
        }
      }
    }
  });

  test('rejects unknown types and non-objects, listing the valid types', () => {
    for (const x of [null, undefined, 3, 'ui-ready', [], new Uint8Array(4), { v: 1 }, { type: 'nope', v: 1 }, { type: 'toString', v: 1 }, { type: '__proto__', v: 1 }]) {
      const out = parse(x);
      expect(out.ok).toBe(false);
    }
    const out = parse({ type: 'nope', v: 1 });
    expect(!out.ok && out.error).toMatch(/type is "nope"; expected one of .*error/);
  });

  test('rejects every sample with any required field removed', () => {
    let checked = 0;
    for (const msg of samples) {
      for (const path of leafPaths(msg)) {
        for (let depth = 1; depth <= path.length; depth++) {
          const cut = path.slice(0, depth);
          if (cut.some((_, i) => isOptional(msg.type, cut.slice(0, i + 1)))) continue;
          if (typeof cut[cut.length - 1] === 'number') continue; // removing an array item keeps it valid
          const broken = clone(msg);
          deletePath(broken, cut);
          const out = parse(broken);
          if (out.ok) throw new Error(`accepted ${msg.type} without ${cut.join('.')}`);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  test('rejects every sample with any typed leaf replaced by a value of another kind, naming the field', () => {
    let checked = 0;
    for (const msg of samples) {
      for (const path of leafPaths(msg)) {
        if (path[0] === 'settings' && path.length > 1) continue; // any JSON is valid inside settings
        if (path.length === 0) continue;
        const broken = clone(msg);
        setPath(broken, path, wrongKind(path.reduce<any>((n, k) => n[k], msg)));
        const out = parse(broken);
        if (out.ok) throw new Error(`accepted ${msg.type} with ${path.join('.')} of the wrong kind`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(80);
  });
});

describe('specific rules', () => {
  const plan = sampleUiToMain.find((m) => m.type === 'plan-request')!;

  test('error text names the field, the value and what is valid', () => {
    const out = parseUiToMain({ ...clone(plan), count: 99 });
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.error).toBe('plan-request: count is 99; expected an integer in [1, 16]');
      expect(out.ref).toBe('r1');
    }
  });

  test('a target that cannot be filled must carry a reason', () => {
    const sel = clone(sampleMainToUi.find((m) => m.type === 'selection-changed')!) as any;
    delete sel.targets[1].skipReason;
    const out = parseMainToUi(sel);
    expect(!out.ok && out.error).toContain('skipReason is missing');
  });

  test('job-result bytes must be a Uint8Array, not an array, ArrayBuffer or base64 string', () => {
    const result = sampleUiToMain.find((m) => m.type === 'job-result')! as any;
    for (const png of [Array.from(result.png), result.png.buffer, 'iVBORw0KGgo=', new Uint16Array(8), new Uint8Array(3)]) {
      expect(parseUiToMain({ ...clone(result), png }).ok).toBe(false);
    }
  });

  test('job-result provenance is validated field by field', () => {
    const result = sampleUiToMain.find((m) => m.type === 'job-result')!;
    const out = parseUiToMain({ ...clone(result), record: { ...sampleRecord, seed: -1 } });
    expect(!out.ok && out.error).toContain('record: provenance.seed is -1');
  });

  test('settings must be JSON: no NaN, no functions, no cycles, bounded depth', () => {
    const cyclic: any = { a: {} };
    cyclic.a.self = cyclic;
    let deep: any = 1;
    for (let i = 0; i < 20; i++) deep = { deep };
    for (const settings of [{ x: NaN }, { f: () => 1 }, cyclic, deep, { d: new Date(0) }, [1, 2]]) {
      expect(parseUiToMain({ type: 'settings-save', v: 1, settings }).ok).toBe(false);
    }
  });

  test('exotic inputs (throwing getters, proxies) are rejected, not thrown', () => {
    const getter = Object.defineProperty({ v: 1 }, 'type', { enumerable: true, get() { throw new Error('boom'); } });
    const proxy = new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } });
    for (const x of [getter, proxy]) {
      expect(() => parseUiToMain(x)).not.toThrow();
      expect(parseUiToMain(x).ok).toBe(false);
      expect(parseMainToUi(x).ok).toBe(false);
    }
  });

  test('constructors stamp type and version', () => {
    expect(uiMessage('job-cancelled', { jobId: 'j9' })).toEqual({ type: 'job-cancelled', v: PROTOCOL_VERSION, jobId: 'j9' });
    const m = mainMessage('job-dropped', { jobId: 'j9', reason: 'deleted' });
    expect(parseMainToUi(m).ok).toBe(true);
  });

  test('errorReply turns a failed parse into a valid error message both sides accept', () => {
    const out = parseUiToMain({ ...clone(plan), kind: 'paint' });
    expect(out.ok).toBe(false);
    if (!out.ok) {
      const reply = errorReply(out);
      expect(reply).toMatchObject({ type: 'error', code: 'malformed-message', inReplyTo: 'plan-request', ref: 'r1' });
      expect(parseMainToUi(reply).ok).toBe(true);
      expect(parseUiToMain(reply).ok).toBe(true);
    }
  });
});

describe('fuzz (seeded)', () => {
  const random = mulberry32(20260131);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const types = [...sampleUiToMain, ...sampleMainToUi].map((m) => m.type);
  const fieldNames = ['jobId', 'requestId', 'png', 'width', 'height', 'record', 'settings', 'entries', 'targets', 'jobs', 'kind', 'code', 'message', 'size', 'geometry', 'count', '__proto__', 'constructor'];

  function junk(depth: number): unknown {
    const r = random();
    if (depth > 3 || r < 0.35) {
      return pick<unknown>([0, -1, 1.5, NaN, Infinity, 2 ** 53, '', 'x'.repeat(Math.floor(random() * 5000)), true, false, null, undefined, new Uint8Array(Math.floor(random() * 16)), Symbol('s'), () => 0, 10n]);
    }
    if (r < 0.55) return Array.from({ length: Math.floor(random() * 5) }, () => junk(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(random() * 6); i > 0; i--) o[pick(fieldNames)] = junk(depth + 1);
    return o;
  }

  test('10,000 random messages: the validators never throw, and anything accepted re-validates', () => {
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      const msg = random() < 0.7 ? { ...(junk(1) as object), type: pick(types), v: random() < 0.8 ? 1 : junk(3) } : junk(0);
      for (const parse of [parseUiToMain, parseMainToUi]) {
        let out: ReturnType<typeof parse> | undefined;
        expect(() => (out = parse(msg))).not.toThrow();
        if (out!.ok) {
          accepted++;
          expect(parse(clone(out!.msg)).ok).toBe(true);
        } else {
          expect(typeof out!.error).toBe('string');
        }
      }
    }
    // Only field-less types (ui-ready, close, ...) can be hit by chance.
    expect(accepted).toBeLessThan(2000);
  });

  test('5,000 random single-field corruptions of valid messages are all rejected', () => {
    const all = [...sampleUiToMain.map((m) => ({ m, parse: parseUiToMain })), ...sampleMainToUi.map((m) => ({ m, parse: parseMainToUi }))];
    let corrupted = 0;
    for (let i = 0; i < 5000; i++) {
      const { m, parse } = pick(all);
      const paths = leafPaths(m).filter((p) => p.length > 0 && !(p[0] === 'settings' && p.length > 1));
      if (paths.length === 0) continue;
      const path = pick(paths);
      const broken = clone(m);
      setPath(broken, path, wrongKind(path.reduce<any>((n, k) => n[k], m)));
      const out = parse(broken);
      expect(out.ok).toBe(false);
      corrupted++;
    }
    expect(corrupted).toBeGreaterThan(4000);
  });
});

test('messages cloned from another realm (another frame, a vm context) validate', async () => {
  const vm = await import('node:vm');
  const foreign = vm.runInNewContext('({ type: "job-cancelled", v: 1, jobId: "j1" })');
  expect(Object.getPrototypeOf(foreign)).not.toBe(Object.prototype);
  expect(parseUiToMain(foreign).ok).toBe(true);
  // Class instances are still refused: only plain data crosses the channel.
  class Msg {
    type = 'job-cancelled';
    v = 1;
    jobId = 'j1';
  }
  expect(parseUiToMain(new Msg()).ok).toBe(false);
});
