/**
 * A checked SD3 package plus its inference sessions on one backend. Sessions live as long as the
 * model (one creation per load), and are rebuilt only when the backend changes (a lost GPU device).
 */
import type { Backend } from '../../../common/engine-types.js';
import type { GraphFile } from '../graph-file.js';
import { createSessionAsync, type BackendSession } from '../ort-backend.js';
import type { TextEncoderName } from './configs.js';
import type { Sd3Package } from './package.js';

export interface Sd3Runtime {
  pkg: Sd3Package;
  backend: Backend;
  transformer: BackendSession;
  vaeDecoder: BackendSession;
  vaeEncoder?: BackendSession;
  textEncoders: Map<TextEncoderName, BackendSession>;
  /** Milliseconds spent creating all sessions. */
  sessionCreateMs: number;
}

function sessionAsync(graph: GraphFile, backend: Backend): Promise<BackendSession> {
  return createSessionAsync({ label: graph.path, model: graph.model, externalData: graph.externalData, backend });
}

/** Creates every session of the package on `backend`; on failure releases what was created and rethrows. */
export async function createSd3RuntimeAsync(pkg: Sd3Package, backend: Backend): Promise<Sd3Runtime> {
  const started = performance.now();
  const created: BackendSession[] = [];
  const track = async (graph: GraphFile): Promise<BackendSession> => {
    const session = await sessionAsync(graph, backend);
    created.push(session);
    return session;
  };
  try {
    const textEncoders = new Map<TextEncoderName, BackendSession>();
    for (const encoder of pkg.textEncoders) textEncoders.set(encoder.name, await track(encoder.graph));
    const transformer = await track(pkg.transformer.graph);
    const vaeDecoder = await track(pkg.vaeDecoder.graph);
    const vaeEncoder = pkg.vaeEncoder ? await track(pkg.vaeEncoder.graph) : undefined;
    return { pkg, backend, transformer, vaeDecoder, vaeEncoder, textEncoders, sessionCreateMs: performance.now() - started };
  } catch (error) {
    await Promise.allSettled(created.map((session) => session.releaseAsync()));
    throw error;
  }
}

export async function releaseSd3RuntimeAsync(runtime: Sd3Runtime): Promise<void> {
  const sessions = [runtime.transformer, runtime.vaeDecoder, runtime.vaeEncoder, ...runtime.textEncoders.values()];
  await Promise.allSettled(sessions.filter((s) => s !== undefined).map((session) => session.releaseAsync()));
}
