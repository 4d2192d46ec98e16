import type { SelectedLayer } from '../../../common/host-rpc.js';
import { primaryActionLabel, selectedProvenance } from '../../../ui/view/selection-summary.js';
import { sampleRecord } from '../../protocol/sample-calls.js';

const hero: SelectedLayer = { id: '1:2', name: 'Hero', type: 'FRAME', hasImageFill: true, provenance: sampleRecord };
const text: SelectedLayer = { id: '1:3', name: 'Title', type: 'TEXT', hasImageFill: false, unfillable: 'text' };

test('the primary label says what pressing it will do', () => {
  expect(primaryActionLabel([])).toBe('Insert');
  expect(primaryActionLabel([], 3)).toBe('Insert 3 images');
  expect(primaryActionLabel([hero])).toBe('Fill 1 frame');
  expect(primaryActionLabel([hero, text, { ...hero, id: '1:4' }])).toBe('Fill 2 frames');
  expect(primaryActionLabel([text])).toBe('Nothing to fill');
});

test('the provenance card shows the single selected layer’s record', () => {
  expect(selectedProvenance([hero])?.record.seed).toBe(42);
  expect(selectedProvenance([hero, text])).toBeUndefined();
  expect(selectedProvenance([text])).toBeUndefined();
});
