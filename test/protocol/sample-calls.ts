/**
 * One valid call (arguments) and one valid result for every host method, and one valid event:
 * the validation, fuzz and round-trip tests start from these.
 */
import type { HostArgs, HostMethodName, HostResult, SelectedLayer } from '../../common/host-rpc.js';
import type { ProvenanceRecord } from '../../common/provenance.js';
import { makePng } from '../figma-fake/test-images.js';

export const sampleRecord: ProvenanceRecord = {
  format: 'flowfill-provenance',
  version: 1,
  prompt: 'rocket, flat style, on a teal background',
  negativePrompt: '',
  seed: 42,
  steps: 20,
  guidance: 4.5,
  width: 32,
  height: 16,
  model: { id: 'flowfill-tiny', hash: 'ab'.repeat(32) },
  backend: 'wasm',
  createdAt: '2026-01-31T12:00:00.000Z',
};

/** A real 32×16 PNG, the size sampleRecord says. */
export const samplePng = makePng(32, 16);

export const sampleLayers: SelectedLayer[] = [
  { id: '1:2', name: 'Hero', type: 'FRAME', hasImageFill: false, provenance: sampleRecord },
  { id: '1:3', name: 'Title', type: 'TEXT', unfillable: 'text', hasImageFill: false },
];

export const sampleArgs: { [M in HostMethodName]: HostArgs<M> } = {
  readLaunch: {},
  readSelection: {},
  readTargets: {},
  checkNodes: { nodeIds: ['1:2', '1:3'] },
  exportPng: { nodeId: '1:2', width: 256 },
  placeImage: { destination: { kind: 'existing', nodeId: '1:2' }, png: samplePng, fillMode: 'keep', record: sampleRecord },
  commitUndo: {},
  reveal: { nodeIds: ['1:2'] },
  notify: { message: 'Model loaded', error: false },
  showProgress: { message: 'Flowfill: 1 of 2 images placed…' },
  loadValue: { key: 'settings' },
  saveValue: { key: 'settings', value: { prompt: 'a cat', steps: 20, seedLocked: false, nested: { list: [1, 'two', null] } } },
  close: {},
};

export const sampleResults: { [M in HostMethodName]: HostResult<M> } = {
  readLaunch: { host: 'figma', command: 'generate', source: 'quick-action', prompt: 'a cat' },
  readSelection: { layers: sampleLayers },
  readTargets: {
    targets: [{ ...sampleLayers[0], width: 400.5, height: 300, x: -20, y: 10.25 }],
    viewportCenter: { x: 0, y: 0 },
  },
  checkNodes: { missing: ['1:3'] },
  exportPng: samplePng,
  placeImage: { placed: true, nodeId: '1:2', nodeName: 'Hero' },
  commitUndo: null,
  reveal: null,
  notify: null,
  showProgress: null,
  loadValue: { prompt: 'x' },
  saveValue: null,
  close: null,
};
