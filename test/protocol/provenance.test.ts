import {
  PROVENANCE_KEY,
  parseProvenance,
  serializeProvenance,
  validateProvenance,
  type ProvenanceRecord,
} from '../../common/provenance.js';
import { sampleRecord } from './sample-calls.js';

describe('provenance record', () => {
  test('serialize → parse round-trips, with optional variation fields', () => {
    const variation: ProvenanceRecord = { ...sampleRecord, strength: 0.6, parent: { nodeId: '1:2', seed: 7 }, shift: 3 };
    for (const r of [sampleRecord, variation]) {
      const parsed = parseProvenance(serializeProvenance(r));
      expect(parsed).toEqual({ ok: true, value: r });
    }
  });

  test('unknown extra fields are not carried into the document', () => {
    const text = serializeProvenance({ ...sampleRecord, secret: 'x' } as ProvenanceRecord);
    expect(JSON.parse(text)).not.toHaveProperty('secret');
  });

  test('empty plugin data means no record, with a plain reason', () => {
    expect(parseProvenance('')).toEqual({ ok: false, error: 'no provenance stored on this node' });
    expect(parseProvenance('{not json')).toEqual({ ok: false, error: 'provenance is not valid JSON' });
  });

  test.each([
    ['format', 'other', 'provenance.format is "other"'],
    ['version', 2, 'provenance.version is 2'],
    ['seed', 2 ** 32, 'provenance.seed is 4294967296; expected an integer in [0, 4294967295]'],
    ['seed', 1.5, 'provenance.seed is 1.5'],
    ['steps', 0, 'provenance.steps is 0'],
    ['guidance', NaN, 'provenance.guidance is NaN'],
    ['width', 4097, 'provenance.width is 4097'],
    ['height', 0, 'provenance.height is 0'],
    ['backend', 'cuda', 'provenance.backend is "cuda"; expected one of "webgpu", "wasm"'],
    ['strength', 0, 'provenance.strength is 0'],
    ['strength', 1.5, 'provenance.strength is 1.5'],
    ['parent', { seed: 1 }, 'provenance.parent.nodeId is missing'],
    ['createdAt', 'yesterday', 'provenance.createdAt is "yesterday"'],
    ['model', { id: '', hash: 'x' }, 'provenance.model.id is ""'],
    ['prompt', 'x'.repeat(4001), 'provenance.prompt is'],
  ])('rejects a bad %s, naming field and value', (field, value, message) => {
    const out = validateProvenance({ ...sampleRecord, [field]: value });
    expect(out.ok).toBe(false);
    expect(!out.ok && out.error).toContain(message);
    expect(() => serializeProvenance({ ...sampleRecord, [field]: value } as ProvenanceRecord)).toThrow(message);
  });

  test('a record with the longest prompts stays under the 100 kB plugin-data entry limit', () => {
    const text = serializeProvenance({ ...sampleRecord, prompt: '😀'.repeat(2000), negativePrompt: '😀'.repeat(2000) });
    expect(new TextEncoder().encode(PROVENANCE_KEY + text).length).toBeLessThan(100_000);
  });
});
