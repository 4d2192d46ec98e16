/**
 * Compile-time checks of the protocol types, run by `npm run typecheck` (never executed).
 * Each @ts-expect-error line is a payload that must NOT compile; if the types loosen, tsc
 * reports the directive as unused and the typecheck fails.
 */
import { mainMessage, uiMessage, type MainToUi, type PlannedJob, type UiToMain } from '../../common/protocol.js';
import type { ProvenanceRecord } from '../../common/provenance.js';

declare const record: ProvenanceRecord;
declare const png: Uint8Array;

export const ok: UiToMain[] = [
  { type: 'ui-ready', v: 1 },
  { type: 'job-result', v: 1, jobId: 'j', png, width: 16, height: 16, record },
  uiMessage('job-cancelled', { jobId: 'j' }),
];

export const wrongPayloads: UiToMain[] = [
  // @ts-expect-error png must be a Uint8Array, not a base64 string
  { type: 'job-result', v: 1, jobId: 'j', png: 'iVBOR', width: 16, height: 16, record },
  // @ts-expect-error a job result needs its provenance record
  { type: 'job-result', v: 1, jobId: 'j', png, width: 16, height: 16 },
  // @ts-expect-error the version is a literal
  { type: 'ui-ready', v: 2 },
  // @ts-expect-error unknown message type
  { type: 'generate-now', v: 1 },
  // @ts-expect-error plan-request kinds are a closed set
  { type: 'plan-request', v: 1, requestId: 'r', kind: 'paint', geometry: { nativeSize: 512, maxSide: 1024, sizeMultiple: 16 }, fillMode: 'keep', prompt: '', count: 1 },
  // @ts-expect-error fillMode is 'keep' | 'replace'
  { type: 'plan-request', v: 1, requestId: 'r', kind: 'generate', geometry: { nativeSize: 512, maxSide: 1024, sizeMultiple: 16 }, fillMode: 'under', prompt: '', count: 1 },
  // @ts-expect-error main → UI messages are not UI → main messages
  { type: 'job-applied', v: 1, jobId: 'j', nodeId: '1:2', nodeName: 'n' },
];

export const wrongMain: MainToUi[] = [
  // @ts-expect-error run-command cannot carry the 'open' command
  { type: 'run-command', v: 1, command: 'open', source: 'menu' },
  // @ts-expect-error export-result bytes are a Uint8Array
  { type: 'export-result', v: 1, requestId: 'r', nodeId: '1:2', png: [1, 2, 3], width: 1, height: 1 },
];

// @ts-expect-error the constructor checks the payload against the type
uiMessage('job-failed', { jobId: 'j', code: 'oops', message: '' });
// @ts-expect-error the constructor rejects unknown types
mainMessage('selection', { targets: [] });

export const badJob: PlannedJob = {
  jobId: 'j',
  // @ts-expect-error job kinds are a closed set
  kind: 'fill-all',
  nodeId: null,
  nodeName: 'n',
  target: { width: 1, height: 1 },
  gen: { width: 16, height: 16 },
  notes: [],
};

/** Narrowing on `type` gives the payload's fields. */
export function handle(msg: UiToMain): number {
  switch (msg.type) {
    case 'job-result':
      return msg.png.length + msg.record.seed;
    case 'plan-request':
      return msg.geometry.nativeSize;
    default:
      // @ts-expect-error only job-result has png
      return msg.png;
  }
}
