/** The pure parts of the main thread: planning, fill composition, target rules, PNG header. */
import type { ProvenanceRecord } from '../../common/provenance.js';
import { composeFills } from '../../src/fills.js';
import type { HostNodeFacts } from '../../src/host/host.js';
import { ROW_GAP, nameFromPrompt, planJobs, recordForJob, rowPositions } from '../../src/planning.js';
import { readPngSize } from '../../src/png-header.js';
import { describeTarget, skipReasonFor } from '../../src/targets.js';
import { makePng } from '../figma-fake/test-images.js';
import { geometry } from './harness.js';
import { sampleRecord } from '../protocol/sample-messages.js';

function node(overrides: Partial<HostNodeFacts> = {}): HostNodeFacts {
  return { id: '1:2', name: 'Hero', type: 'FRAME', width: 400, height: 300, x: 0, y: 0, locked: false, supportsFills: true, fillsMixed: false, hasImageFill: false, recordText: '', ...overrides };
}
const request = { kind: 'generate' as const, geometry, prompt: 'a fox', count: 1 };

describe('targets', () => {
  test.each([
    ['FRAME', {}, null],
    ['RECTANGLE', {}, null],
    ['ELLIPSE', {}, null],
    ['POLYGON', {}, null],
    ['STAR', {}, null],
    ['COMPONENT', {}, null],
    ['INSTANCE', {}, null],
    ['TEXT', {}, /Text layers/],
    ['GROUP', { supportsFills: false }, /Groups/],
    ['VECTOR', {}, /Vector layers are not supported/],
    ['BOOLEAN_OPERATION', {}, /Boolean operation layers/],
    ['FRAME', { locked: true }, /locked/],
    ['RECTANGLE', { fillsMixed: true }, /mixed/],
    ['RECTANGLE', { height: 0 }, /smaller than 1 px/],
  ] as const)('%s %p → %p', (type, extra, reason) => {
    const result = skipReasonFor(node({ type, ...extra }));
    if (reason === null) expect(result).toBeNull();
    else expect(result).toMatch(reason);
  });

  test('unknown types report as OTHER; a stored record is parsed, a broken one ignored', () => {
    expect(describeTarget(node({ type: 'SECTION' })).type).toBe('OTHER');
    expect(describeTarget(node({ recordText: JSON.stringify(sampleRecord) })).provenance).toEqual(sampleRecord);
    expect(describeTarget(node({ recordText: '{broken' })).provenance).toBeUndefined();
  });
});

describe('planJobs', () => {
  test('plans at each node’s own aspect ratio through the resolution planner', () => {
    const out = planJobs({ request, selection: [node(), node({ id: '1:3', width: 90, height: 160 })], viewportCenter: { x: 0, y: 0 }, batchId: 'b1' });
    expect(out.jobs.map((j) => j.jobId)).toEqual(['b1-j1', 'b1-j2']);
    for (const [job, ratio] of [[out.jobs[0], 4 / 3], [out.jobs[1], 90 / 160]] as const) {
      expect(Math.abs(job.gen.width / job.gen.height / ratio - 1)).toBeLessThan(0.01);
      expect(job.gen.width * job.gen.height).toBeGreaterThan(0.7 * 256 * 256);
      expect(job.gen.width * job.gen.height).toBeLessThan(1.4 * 256 * 256);
    }
  });

  test('extreme ratios carry the planner’s note', () => {
    const out = planJobs({ request, selection: [node({ width: 2000, height: 10 })], viewportCenter: { x: 0, y: 0 }, batchId: 'b1' });
    expect(out.jobs[0].gen.width).toBeLessThanOrEqual(1024);
    expect(out.jobs[0].notes[0]).toMatch(/wider than the model can make/);
  });

  test('at most 64 jobs per batch; the rest are skipped with a reason', () => {
    const selection = Array.from({ length: 70 }, (_, i) => node({ id: `1:${i + 10}` }));
    const out = planJobs({ request, selection, viewportCenter: { x: 0, y: 0 }, batchId: 'b' });
    expect(out.jobs).toHaveLength(64);
    expect(out.skipped).toHaveLength(6);
    expect(out.skipped[0].reason).toMatch(/at most 64/);
  });

  test('variations of a node without a record are planned from its size; with nothing selected they explain', () => {
    const out = planJobs({ request: { ...request, kind: 'seed-variations', count: 2 }, selection: [node({ x: 10, y: 20 })], viewportCenter: { x: 0, y: 0 }, batchId: 'b' });
    expect(out.jobs.map((j) => j.destination)).toEqual([
      { kind: 'create', name: 'Hero — variation 1', x: 10 + 400 + ROW_GAP, y: 20, width: 400, height: 300 },
      { kind: 'create', name: 'Hero — variation 2', x: 10 + 2 * (400 + ROW_GAP), y: 20, width: 400, height: 300 },
    ]);
    expect(out.jobs[0].sourceRecord).toBeUndefined();
    const none = planJobs({ request: { ...request, kind: 'image-variations' }, selection: [], viewportCenter: { x: 0, y: 0 }, batchId: 'b' });
    expect(none).toMatchObject({ jobs: [], nothingToDo: 'Select a layer first.' });
  });

  test('recordForJob fills in the parent for variations and leaves other records alone', () => {
    const out = planJobs({ request: { ...request, kind: 'seed-variations' }, selection: [node({ recordText: JSON.stringify(sampleRecord) })], viewportCenter: { x: 0, y: 0 }, batchId: 'b' });
    const record: ProvenanceRecord = { ...sampleRecord, seed: 43 };
    expect(recordForJob(out.jobs[0], record).parent).toEqual({ nodeId: '1:2', seed: sampleRecord.seed });
    const fill = planJobs({ request, selection: [node()], viewportCenter: { x: 0, y: 0 }, batchId: 'b' });
    expect(recordForJob(fill.jobs[0], record)).toBe(record);
  });

  test('names and rows', () => {
    expect(nameFromPrompt('')).toBe('Flowfill image');
    expect(nameFromPrompt('x'.repeat(100))).toHaveLength(60);
    expect(rowPositions(2, { width: 100, height: 50 }, { x: 0, y: 0 })).toEqual([
      { x: -120, y: -25 },
      { x: 20, y: -25 },
    ]);
  });
});

describe('composeFills', () => {
  const solid: SolidPaint = { type: 'SOLID', color: { r: 1, g: 1, b: 1 } };
  const userImage: ImagePaint = { type: 'IMAGE', imageHash: 'user', scaleMode: 'FIT' };
  const ours: ImagePaint = { type: 'IMAGE', imageHash: 'old', scaleMode: 'FILL' };

  test("'keep' keeps every fill but Flowfill's previous image; the new image goes on top with FILL", () => {
    expect(composeFills([solid, userImage, ours], 'new', 'keep', 'old')).toEqual([solid, userImage, { type: 'IMAGE', imageHash: 'new', scaleMode: 'FILL' }]);
    expect(composeFills([solid, userImage], 'new', 'keep')).toHaveLength(3);
  });

  test("'replace' leaves only the new image; the input array is not touched", () => {
    const current = Object.freeze([solid]);
    expect(composeFills(current, 'new', 'replace')).toEqual([{ type: 'IMAGE', imageHash: 'new', scaleMode: 'FILL' }]);
  });
});

test('readPngSize reads IHDR and refuses non-PNGs', () => {
  expect(readPngSize(makePng(7, 3))).toEqual({ width: 7, height: 3 });
  expect(readPngSize(new Uint8Array([0xff, 0xd8, 0xff]))).toBeNull();
  expect(readPngSize(makePng(7, 3).subarray(0, 20))).toBeNull();
});
