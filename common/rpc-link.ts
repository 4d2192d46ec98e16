/**
 * A small typed RPC over any postMessage-like endpoint: one side serves methods (and emits events),
 * the other calls them as async functions. Every message is validated where it arrives: the server
 * checks each call's envelope, method and arguments, and its own result before sending it; the
 * client checks each reply and event. Nothing malformed crashes either side: a bad call gets an
 * error reply; a bad reply rejects its call; a bad event is logged and dropped.
 *
 * Wire format (all structured-clone data):
 *   call   { rpc, v, kind: 'call',  id, method, args }
 *   reply  { rpc, v, kind: 'reply', id, ok: true, result } | { …, ok: false, error: { code, message } }
 *   event  { rpc, v, kind: 'event', event, payload }
 * `rpc` names the protocol and `v` its version; a call of another version is refused by name.
 *
 * Runs in the Figma main thread too: ES2017, no DOM.
 */
import * as v from 'valibot';
import { isPlainObject } from './plain-values.js';
import { integer, parseWith, text } from './schema-kit.js';

type AnySchema = v.GenericSchema<unknown, unknown>;
export type MethodTable = Record<string, { args: AnySchema; result: AnySchema }>;
export type EventTable = Record<string, AnySchema>;

export interface RpcSpec<M extends MethodTable, E extends EventTable> {
  /** Protocol name carried in every message. */
  name: string;
  version: number;
  methods: M;
  events: E;
}

/** The three-method transport both sides share; adapters wrap figma.ui, window.postMessage, tests. */
export interface RpcEndpoint {
  post(message: unknown): void;
  /** Returns a function that stops listening. */
  listen(handler: (message: unknown) => void): () => void;
}

/** Codes the link itself produces; a handler may throw an RpcError with its own code. */
export type RpcErrorCode = 'malformed-call' | 'unknown-method' | 'version-mismatch' | 'invalid-result' | 'handler-failed';

export class RpcError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

const MAX_MESSAGE_CHARS = 2000;
const errorShape = v.object({ code: text(60, { nonEmpty: true }), message: text(MAX_MESSAGE_CHARS) });
const callId = integer(0, 2 ** 31);

function envelopeSchemas(spec: RpcSpec<MethodTable, EventTable>) {
  const head = { rpc: v.literal(spec.name, JSON.stringify(spec.name)), v: v.literal(spec.version, `${spec.version}`) };
  return {
    call: v.object({ ...head, kind: v.literal('call'), id: callId, method: text(100, { nonEmpty: true }), args: v.unknown() }),
    reply: v.variant('ok', [
      v.object({ ...head, kind: v.literal('reply'), id: callId, ok: v.literal(true), result: v.unknown() }),
      v.object({ ...head, kind: v.literal('reply'), id: v.nullable(callId), ok: v.literal(false), error: errorShape }),
    ]),
    event: v.object({ ...head, kind: v.literal('event'), event: text(100, { nonEmpty: true }), payload: v.unknown() }),
  };
}

// ---- types derived from a spec -------------------------------------------------------------------

/** Methods without arguments may be called with none. */
type CallArgs<S extends AnySchema> = Record<never, never> extends v.InferInput<S> ? [args?: v.InferInput<S>] : [args: v.InferInput<S>];

/** The calling side: each method as an async function of its arguments' type. */
export type RpcClient<M extends MethodTable> = {
  [K in keyof M]: (...args: CallArgs<M[K]['args']>) => Promise<v.InferOutput<M[K]['result']>>;
};

/** The serving side: each method's implementation, given parsed arguments. */
export type RpcHandlers<M extends MethodTable> = {
  [K in keyof M]: (args: v.InferOutput<M[K]['args']>) => v.InferInput<M[K]['result']> | Promise<v.InferInput<M[K]['result']>>;
};

export type RpcEventPayload<E extends EventTable, K extends keyof E> = v.InferOutput<E[K]>;

function own<T extends object>(table: T, key: string): key is Extract<keyof T, string> {
  return Object.prototype.hasOwnProperty.call(table, key);
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, MAX_MESSAGE_CHARS);
}

// ---- serving -------------------------------------------------------------------------------------

export interface RpcServer<E extends EventTable> {
  /** Handles one raw message (what the endpoint delivers); resolves once it is answered. Never throws. */
  handle(raw: unknown): Promise<void>;
  /** Pushes an event to the client; an invalid payload is a bug here and throws. */
  emit<K extends keyof E & string>(event: K, payload: v.InferInput<E[K]>): void;
  stop(): void;
}

export function serveRpc<M extends MethodTable, E extends EventTable>(
  spec: RpcSpec<M, E>,
  handlers: RpcHandlers<M>,
  endpoint: RpcEndpoint,
): RpcServer<E> {
  const envelope = envelopeSchemas(spec);
  const head = { rpc: spec.name, v: spec.version };
  const send = (message: unknown) => {
    try {
      endpoint.post(message);
    } catch {
      // The other side is gone (the plugin closed): there is no one left to tell.
    }
  };
  const fail = (id: number | null, code: string, message: string) =>
    send({ ...head, kind: 'reply', id, ok: false, error: { code, message: message.slice(0, MAX_MESSAGE_CHARS) } });

  async function handle(raw: unknown): Promise<void> {
    let id: number | null = null;
    try {
      if (!isPlainObject(raw))
        return fail(
          null,
          'malformed-call',
          `a call must be an object { rpc, v, kind, id, method, args }; got ${raw === null ? 'null' : typeof raw}`,
        );
      if (typeof raw.id === 'number' && Number.isInteger(raw.id) && raw.id >= 0 && raw.id <= 2 ** 31) id = raw.id;
      if (raw.rpc === spec.name && raw.v !== spec.version) {
        return fail(
          id,
          'version-mismatch',
          `this host speaks ${spec.name} version ${spec.version}, the call is version ${String(raw.v).slice(0, 20)}; reload the plugin so both sides match`,
        );
      }
      const call = parseWith(envelope.call, raw, 'call');
      if (!call.ok) return fail(id, 'malformed-call', call.error);
      const { method } = call.value;
      if (!own(spec.methods, method)) {
        return fail(
          id,
          'unknown-method',
          `${JSON.stringify(method.slice(0, 100))} is not a method of ${spec.name}; known: ${Object.keys(spec.methods).join(', ')}`,
        );
      }
      const args = parseWith(spec.methods[method].args, call.value.args, 'args');
      if (!args.ok) return fail(id, 'malformed-call', `${method}: ${args.error}`);
      let result: unknown;
      try {
        result = await handlers[method](args.value as never);
      } catch (error) {
        return fail(id, error instanceof RpcError ? error.code : 'handler-failed', `${method}: ${errorText(error)}`);
      }
      const checked = parseWith(spec.methods[method].result, result, 'result');
      // A result that does not validate is a bug on this side: say so instead of sending it.
      if (!checked.ok) return fail(id, 'invalid-result', `${method} produced an invalid result: ${checked.error}`);
      send({ ...head, kind: 'reply', id, ok: true, result: checked.value });
    } catch (error) {
      // Only exotic inputs reach here (throwing getters, proxies): answer, never crash.
      fail(id, 'malformed-call', `the call could not be read: ${errorText(error)}`);
    }
  }

  const stopListening = endpoint.listen((raw) => void handle(raw));
  return {
    handle,
    emit(event, payload) {
      const checked = parseWith(spec.events[event], payload, event);
      if (!checked.ok) throw new Error(`${spec.name}: invalid ${event} event: ${checked.error}`);
      send({ ...head, kind: 'event', event, payload: checked.value });
    },
    stop: stopListening,
  };
}

// ---- calling ---------------------------------------------------------------------------------------

export interface RpcConnection<M extends MethodTable, E extends EventTable> {
  /** The methods, as async functions; a failed call rejects with an RpcError. */
  call: RpcClient<M>;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof E & string>(event: K, handler: (payload: RpcEventPayload<E, K>) => void): () => void;
  /** Stops listening; calls still pending reject. */
  close(): void;
}

export function connectRpc<M extends MethodTable, E extends EventTable>(
  spec: RpcSpec<M, E>,
  endpoint: RpcEndpoint,
  { log = (message: string) => console.warn(`[${spec.name}] ${message}`) }: { log?: (message: string) => void } = {},
): RpcConnection<M, E> {
  const envelope = envelopeSchemas(spec);
  const pending = new Map<number, { method: string; resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  let nextId = 1;

  function invoke(method: string, args: unknown): Promise<unknown> {
    // Checked here too, so a panel bug fails at its source with the same message the host would give.
    const checked = parseWith(spec.methods[method].args, args ?? {}, 'args');
    if (!checked.ok) return Promise.reject(new RpcError('malformed-call', `${method}: ${checked.error}`));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { method, resolve, reject });
      try {
        endpoint.post({ rpc: spec.name, v: spec.version, kind: 'call', id, method, args: args ?? {} });
      } catch (error) {
        pending.delete(id);
        reject(new RpcError('handler-failed', `${method}: the call could not be sent: ${errorText(error)}`));
      }
    });
  }

  function onReply(raw: unknown): void {
    const reply = parseWith(envelope.reply, raw, 'reply');
    if (!reply.ok) return log(reply.error);
    const message = reply.value;
    const waiting = message.id === null ? undefined : pending.get(message.id);
    if (!waiting) {
      // An error reply without a readable id answers a call this side never made.
      return log(message.ok ? `a reply to unknown call ${message.id}` : `${message.error.code}: ${message.error.message}`);
    }
    pending.delete(message.id!);
    if (!message.ok) return waiting.reject(new RpcError(message.error.code, message.error.message));
    const result = parseWith(spec.methods[waiting.method].result, message.result, 'result');
    if (result.ok) waiting.resolve(result.value);
    else waiting.reject(new RpcError('invalid-result', `${waiting.method} replied with an invalid result: ${result.error}`));
  }

  function onEvent(raw: unknown): void {
    const event = parseWith(envelope.event, raw, 'event');
    if (!event.ok) return log(event.error);
    const name = event.value.event;
    if (!own(spec.events, name)) return log(`unknown event ${JSON.stringify(name)}`);
    const payload = parseWith(spec.events[name], event.value.payload, name);
    if (!payload.ok) return log(`${name}: ${payload.error}`);
    for (const handler of [...(listeners.get(name) ?? [])]) {
      try {
        handler(payload.value);
      } catch (error) {
        log(`${name} handler failed: ${errorText(error)}`);
      }
    }
  }

  function receive(raw: unknown): void {
    try {
      if (!isPlainObject(raw) || raw.rpc !== spec.name) return; // not ours (other frames, extensions)
      if (raw.v !== spec.version)
        return log(`a ${String(raw.kind)} of version ${String(raw.v)}; this panel speaks version ${spec.version}`);
      if (raw.kind === 'reply') onReply(raw);
      else if (raw.kind === 'event') onEvent(raw);
      else log(`unexpected ${String(raw.kind)} message`);
    } catch (error) {
      log(`a message could not be read: ${errorText(error)}`);
    }
  }

  const stopListening = endpoint.listen(receive);
  const call = {} as Record<string, (args?: unknown) => Promise<unknown>>;
  for (const method of Object.keys(spec.methods)) call[method] = (args?: unknown) => invoke(method, args);
  return {
    call: call as RpcClient<M>,
    on(event, handler) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(handler as (payload: unknown) => void);
      return () => set!.delete(handler as (payload: unknown) => void);
    },
    close() {
      stopListening();
      for (const [id, waiting] of pending)
        waiting.reject(new RpcError('handler-failed', `${waiting.method}: the connection closed before call ${id} was answered`));
      pending.clear();
    },
  };
}
