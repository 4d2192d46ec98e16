/**
 * Runs the real plugin main thread (src/plugin.ts) on the Figma fake and plays the panel's side
 * of the protocol: posting messages into figma.ui.onmessage and answering jobs with real PNGs.
 */
import { readFileSync } from 'node:fs';
import { PROTOCOL_VERSION, parseMainToUi, type MainToUi, type ModelGeometry, type PlannedJob, type UiToMain } from '../../common/protocol.js';
import type { ProvenanceRecord } from '../../common/provenance.js';
import { startPlugin } from '../../src/plugin.js';
import { asPluginApi, createFigmaFake, type FigmaFakeOptions } from '../figma-fake/index.js';
import { makePng } from '../figma-fake/test-images.js';

export const manifest = JSON.parse(readFileSync(new URL('../../manifest.json', import.meta.url), 'utf8'));
export const relaunchCommands: string[] = manifest.relaunchButtons.map((b: { command: string }) => b.command);
/** A small model geometry keeps test PNGs small: native 256², sides up to 1024, multiples of 16. */
export const geometry: ModelGeometry = { nativeSize: 256, maxSide: 1024, sizeMultiple: 16 };

type Msg<T extends MainToUi['type']> = Extract<MainToUi, { type: T }>;

export async function startOnFake(options: FigmaFakeOptions = {}) {
  const figma = createFigmaFake({ relaunchCommands, ...options });
  startPlugin(asPluginApi(figma), '<div id="flowfill"></div>');
  await figma.__launch();
  const ui = {
    /** Posts a message as the panel would (no validation here: tests also send malformed ones). */
    send: (msg: unknown) => figma.ui.send(msg),
    next: <T extends MainToUi['type']>(type: T) => figma.ui.next<Msg<T>>((m) => m.type === type, 2000),
    /** Every message main posted so far, of one type. */
    all: <T extends MainToUi['type']>(type: T) => figma.ui.outbox.filter((m) => (m as MainToUi).type === type) as Msg<T>[],
    /** Every message main posted must validate: main never sends a malformed message. */
    assertAllValid() {
      for (const m of figma.ui.outbox) {
        const out = parseMainToUi(m);
        if (!out.ok) throw new Error(`main sent an invalid message: ${out.error}`);
      }
    },
  };
  return { figma, ui };
}

export async function readyUi(options: FigmaFakeOptions = {}) {
  const session = await startOnFake(options);
  await session.ui.send({ type: 'ui-ready', v: PROTOCOL_VERSION });
  return session;
}

export function planRequest(overrides: Partial<Extract<UiToMain, { type: 'plan-request' }>> = {}): Extract<UiToMain, { type: 'plan-request' }> {
  return { type: 'plan-request', v: PROTOCOL_VERSION, requestId: 'r1', kind: 'generate', geometry, fillMode: 'keep', prompt: 'rocket, flat style', count: 1, ...overrides };
}

export function recordFor(job: PlannedJob, seed = 7, extra: Partial<ProvenanceRecord> = {}): ProvenanceRecord {
  const base = job.sourceRecord;
  return {
    format: 'flowfill-provenance',
    version: 1,
    prompt: base?.prompt ?? 'rocket, flat style',
    negativePrompt: '',
    seed: base && job.kind === 'regenerate' ? base.seed : seed,
    steps: 4,
    guidance: 4.5,
    width: job.gen.width,
    height: job.gen.height,
    model: { id: 'tiny', hash: 'abc123' },
    backend: 'wasm',
    createdAt: '2026-01-31T12:00:00.000Z',
    ...extra,
  };
}

/** The panel's answer to a job: a real PNG of the planned generation size, in one colour. */
export function resultFor(job: PlannedJob, colour: [number, number, number, number] = [10, 200, 30, 255], seed = 7): Extract<UiToMain, { type: 'job-result' }> {
  return { type: 'job-result', v: PROTOCOL_VERSION, jobId: job.jobId, png: makePng(job.gen.width, job.gen.height, colour), width: job.gen.width, height: job.gen.height, record: recordFor(job, seed) };
}
