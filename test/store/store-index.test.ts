/** The model store's index: what it accepts, and what it refuses to guess about. */
import { emptyIndex, parseStoreIndex, serializeStoreIndex, type IndexEntry } from '../../worker/store/store-index.js';

const entry: IndexEntry = {
  id: 'sd35m-style-0123456789ab',
  name: 'sd35m_style',
  hash: 'a'.repeat(64),
  bytes: 22_900_000,
  precision: 'fp32',
  source: 'the folder …/sd35m_style',
  converted: true,
  addedAt: '2026-11-30T10:00:00.000Z',
  dir: 'packages/3f9a0c1d2e4b5a6f',
};

test('an index round-trips; the current model must be one it lists', () => {
  const text = new TextDecoder().decode(serializeStoreIndex({ ...emptyIndex(), models: [entry], currentId: entry.id }));
  expect(parseStoreIndex(text)).toEqual({ index: { ...emptyIndex(), models: [entry], currentId: entry.id }, dropped: [] });
  const stale = new TextDecoder().decode(serializeStoreIndex({ ...emptyIndex(), models: [entry], currentId: 'gone' }));
  expect(parseStoreIndex(stale).index.currentId).toBeUndefined();
});

test('entries that do not parse are dropped with the reason; a folder outside packages/ or downloads/ is never trusted', () => {
  const text = JSON.stringify({
    ...emptyIndex(),
    models: [entry, { ...entry, id: 'x', dir: '../../elsewhere' }, { ...entry, id: 'y', bytes: '12' }],
  });
  const { index, dropped } = parseStoreIndex(text);
  expect(index.models).toEqual([entry]);
  expect(dropped).toHaveLength(2);
  expect(dropped[0]).toMatch(/^an index entry that does not parse: .*"dir":"\.\.\/\.\.\/elsewhere"/);
});

test('an entry keeps the hashes its package supersedes; one that lists something else is dropped', () => {
  const rebuilt = { ...entry, id: 'emoji-dddd', hash: 'd'.repeat(64), supersedes: ['b'.repeat(64)] };
  const text = JSON.stringify({ ...emptyIndex(), models: [rebuilt, { ...rebuilt, id: 'z', supersedes: ['emoji-bbbb'] }] });
  const { index, dropped } = parseStoreIndex(text);
  expect(index.models).toEqual([rebuilt]);
  expect(dropped).toHaveLength(1);
});

test('an index of another format or version throws, so the store leaves its folders alone', () => {
  expect(() => parseStoreIndex('{"format":"flowfill-model-store","version":2,"models":[]}')).toThrow(
    'index.json is not a flowfill-model-store version 1 index',
  );
  expect(() => parseStoreIndex('not json')).toThrow();
});
