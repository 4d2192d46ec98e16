/**
 * One valid message of every type, both directions: the fuzz and round-trip tests start from these.
 */
import { PROTOCOL_VERSION, type MainToUi, type UiToMain } from '../../common/protocol.js';
import type { ProvenanceRecord } from '../../common/provenance.js';

export const sampleRecord: ProvenanceRecord = {
  format: 'flowfill-provenance',
  version: 1,
  prompt: 'rocket, flat style, on a teal background',
  negativePrompt: '',
  seed: 42,
  steps: 20,
  guidance: 4.5,
  width: 512,
  height: 512,
  model: { id: 'flowfill-tiny', hash: 'ab'.repeat(32) },
  backend: 'wasm',
  createdAt: '2026-01-31T12:00:00.000Z',
};

// Real PNG signature + IHDR-sized tail; validators check type and bounds, not pixels.
const pngBytes = new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1]);
const v = PROTOCOL_VERSION;

export const sampleUiToMain: UiToMain[] = [
  { type: 'ui-ready', v },
  { type: 'settings-load', v },
  { type: 'settings-save', v, settings: { prompt: 'a cat', steps: 20, seedLocked: false, nested: { list: [1, 'two', null] } } },
  { type: 'history-load', v },
  { type: 'history-save', v, entries: [{ jobId: 'j1', nodeId: '1:2', nodeName: 'Hero', record: sampleRecord }] },
  {
    type: 'plan-request',
    v,
    requestId: 'r1',
    kind: 'generate',
    geometry: { nativeSize: 512, maxSide: 1024, sizeMultiple: 16 },
    fillMode: 'keep',
    prompt: 'a cat',
    count: 1,
    newFrame: { width: 512, height: 512 },
  },
  { type: 'export-request', v, requestId: 'r2', nodeId: '1:2', size: { width: 512, height: 384 } },
  { type: 'job-result', v, jobId: 'j1', png: pngBytes, width: 512, height: 512, record: sampleRecord },
  { type: 'job-failed', v, jobId: 'j1', code: 'gpu-device-lost', message: 'device lost' },
  { type: 'job-cancelled', v, jobId: 'j1' },
  { type: 'notify', v, message: 'Model loaded', error: false },
  { type: 'resize', v, width: 320, height: 560 },
  { type: 'close', v },
  { type: 'error', v, code: 'malformed-message', message: 'bad', inReplyTo: 'plan', ref: 'r1' },
];

export const sampleMainToUi: MainToUi[] = [
  { type: 'init', v, command: 'open', host: 'figma' },
  { type: 'settings-loaded', v, settings: null },
  { type: 'settings-loaded', v, settings: { prompt: 'x' } },
  { type: 'history-loaded', v, entries: [] },
  {
    type: 'selection-changed',
    v,
    targets: [
      { id: '1:2', name: 'Hero', type: 'FRAME', width: 400.5, height: 300, hasImageFill: false, canFill: true, provenance: sampleRecord },
      { id: '1:3', name: 'Title', type: 'TEXT', width: 100, height: 20, hasImageFill: false, canFill: false, skipReason: 'Text layers cannot hold an image' },
    ],
  },
  { type: 'run-command', v, command: 'generate', source: 'quick-action', prompt: 'a cat' },
  {
    type: 'plan',
    v,
    requestId: 'r1',
    batchId: 'b1',
    jobs: [
      { jobId: 'j1', kind: 'fill', nodeId: '1:2', nodeName: 'Hero', target: { width: 400.5, height: 300 }, gen: { width: 592, height: 448 }, notes: [] },
      {
        jobId: 'j2',
        kind: 'seed-variation',
        nodeId: null,
        nodeName: 'Hero — variation 1',
        target: { width: 400.5, height: 300 },
        gen: { width: 592, height: 448 },
        variationIndex: 0,
        parentNodeId: '1:2',
        sourceRecord: sampleRecord,
        notes: ['aspect approximated'],
      },
    ],
    skipped: [{ nodeId: '1:3', name: 'Title', reason: 'Text layers cannot hold an image' }],
  },
  { type: 'export-result', v, requestId: 'r2', nodeId: '1:2', png: pngBytes, width: 512, height: 384 },
  { type: 'job-applied', v, jobId: 'j1', nodeId: '1:2', nodeName: 'Hero' },
  { type: 'job-dropped', v, jobId: 'j1', reason: 'The layer was deleted' },
  { type: 'batch-done', v, batchId: 'b1', applied: 1, dropped: 1, failed: 0, cancelled: 0 },
  { type: 'error', v, code: 'node-missing', message: 'gone' },
];
