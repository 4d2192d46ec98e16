/**
 * Turns a plan-request and a snapshot of the selection into jobs: which node each image goes to
 * (or where a new node will be created), at what generation size. Pure and host-neutral.
 *
 * Rules:
 * - generate: one job per fillable selected node, at the node's own aspect ratio. With nothing
 *   selected, `count` new frames in a row centred in the viewport, named after the prompt.
 *   (A selection with nothing fillable gives no jobs: each node is listed with its reason.)
 * - regenerate: one job per selected node that holds a Flowfill record, at the record's size.
 * - seed-variations / image-variations: `count` new frames beside each selected node, in a row
 *   to its right, the same size as the source.
 * Selection changes after planning never retarget: the jobs carry node ids.
 */
import { planGenerationSize } from '../common/resolution-planner.js';
import { LIMITS, type JobKind, type PlanRequestMessage, type PlannedJob, type SkippedTarget, type Size } from '../common/protocol.js';
import type { ProvenanceRecord } from '../common/provenance.js';
import type { HostNodeFacts, ImageDestination } from './host/host.js';
import { describeTarget } from './targets.js';

/** Space between nodes in a row of variations or new frames, px. */
export const ROW_GAP = 40;
export const DEFAULT_NAME = 'Flowfill image';

/** A planned job as main keeps it: the protocol's job plus where the image goes. */
export interface JobPlan extends PlannedJob {
  destination: ImageDestination;
}

export interface PlanInput {
  request: Pick<PlanRequestMessage, 'kind' | 'geometry' | 'prompt' | 'count' | 'newFrame'>;
  selection: HostNodeFacts[];
  viewportCenter: { x: number; y: number };
  batchId: string;
}

export interface PlanOutput {
  jobs: JobPlan[];
  skipped: SkippedTarget[];
  /** Plain-language reason when there are no jobs. */
  nothingToDo?: string;
}

/** A layer name from a prompt: first line, spaces collapsed, at most 60 characters. */
export function nameFromPrompt(prompt: string): string {
  const line = prompt.split('\n')[0].replace(/\s+/g, ' ').trim();
  if (line === '') return DEFAULT_NAME;
  return line.length > 60 ? `${line.slice(0, 59).replace(/\s+$/, '')}…` : line;
}

export function planJobs(input: PlanInput): PlanOutput {
  const { request, selection, batchId } = input;
  const jobs: JobPlan[] = [];
  const skipped: SkippedTarget[] = [];
  const skip = (node: HostNodeFacts, reason: string) => skipped.push({ nodeId: node.id, name: node.name.slice(0, 1000), reason });

  const addJob = (node: HostNodeFacts | null, job: Omit<JobPlan, 'jobId' | 'gen' | 'notes'>, gen?: Size): boolean => {
    if (jobs.length >= LIMITS.maxJobsPerPlan) {
      if (node) skip(node, `One batch makes at most ${LIMITS.maxJobsPerPlan} images; run again for the rest.`);
      return false;
    }
    let size: Size;
    const notes: string[] = [];
    if (gen) size = gen;
    else {
      try {
        const planned = planGenerationSize(job.target.width, job.target.height, request.geometry);
        size = { width: planned.width, height: planned.height };
        if (planned.note) notes.push(planned.note);
      } catch (e) {
        if (node) skip(node, e instanceof Error ? e.message : String(e));
        return false;
      }
    }
    jobs.push({ ...job, jobId: `${batchId}-j${jobs.length + 1}`, gen: size, notes });
    return true;
  };

  const targets = selection.map((node) => ({ node, info: describeTarget(node) }));

  switch (request.kind) {
    case 'generate': {
      if (targets.length === 0) {
        const size = request.newFrame ?? { width: request.geometry.nativeSize, height: request.geometry.nativeSize };
        const name = nameFromPrompt(request.prompt);
        const row = rowPositions(request.count, size, input.viewportCenter);
        row.forEach((at, i) => {
          addJob(null, {
            kind: 'new-frame',
            nodeId: null,
            nodeName: request.count > 1 ? `${name} ${i + 1}` : name,
            target: size,
            destination: { kind: 'create', name: request.count > 1 ? `${name} ${i + 1}` : name, x: at.x, y: at.y, ...size },
          });
        });
        break;
      }
      for (const { node, info } of targets) {
        if (!info.canFill) skip(node, info.skipReason ?? 'It cannot hold an image.');
        else addJob(node, existing('fill', node));
      }
      break;
    }
    case 'regenerate': {
      for (const { node, info } of targets) {
        if (!info.canFill) skip(node, info.skipReason ?? 'It cannot hold an image.');
        else if (!info.provenance) skip(node, 'It holds no Flowfill image to regenerate. Use Generate instead.');
        else {
          const record = info.provenance;
          addJob(node, { ...existing('regenerate', node), sourceRecord: record }, { width: record.width, height: record.height });
        }
      }
      break;
    }
    case 'seed-variations':
    case 'image-variations': {
      const kind: JobKind = request.kind === 'seed-variations' ? 'seed-variation' : 'image-variation';
      for (const { node, info } of targets) {
        if (!(node.width >= 1 && node.height >= 1)) {
          skip(node, 'The layer is smaller than 1 px on a side.');
          continue;
        }
        const size = { width: node.width, height: node.height };
        for (let i = 0; i < request.count; i++) {
          const name = `${node.name} — variation ${i + 1}`.slice(0, 1000);
          const x = node.x + (node.width + ROW_GAP) * (i + 1);
          const job: Omit<JobPlan, 'jobId' | 'gen' | 'notes'> = {
            kind,
            nodeId: null,
            nodeName: name,
            target: size,
            variationIndex: i,
            parentNodeId: node.id,
            destination: { kind: 'create', name, x, y: node.y, ...size },
          };
          if (info.provenance) job.sourceRecord = info.provenance;
          // Seed variations of a Flowfill image keep its generation size, so seed i+1 is comparable.
          const gen = kind === 'seed-variation' && info.provenance ? { width: info.provenance.width, height: info.provenance.height } : undefined;
          if (!addJob(node, job, gen)) break;
        }
      }
      break;
    }
  }

  let nothingToDo: string | undefined;
  if (jobs.length === 0) {
    if (selection.length === 0) nothingToDo = 'Select a layer first.';
    else if (skipped.length === 1) nothingToDo = `“${skipped[0].name}”: ${skipped[0].reason}`;
    else nothingToDo = `None of the ${selection.length} selected layers can be used. ${skipped[0].reason}`;
  }
  return nothingToDo === undefined ? { jobs, skipped } : { jobs, skipped, nothingToDo };
}

function existing(kind: JobKind, node: HostNodeFacts): Omit<JobPlan, 'jobId' | 'gen' | 'notes'> {
  return {
    kind,
    nodeId: node.id,
    nodeName: node.name.slice(0, 1000),
    target: { width: node.width, height: node.height },
    destination: { kind: 'existing', nodeId: node.id },
  };
}

/** Top-left corners of `count` nodes of `size` in a row centred on `center`. */
export function rowPositions(count: number, size: Size, center: { x: number; y: number }): { x: number; y: number }[] {
  const total = count * size.width + (count - 1) * ROW_GAP;
  const left = Math.round(center.x - total / 2);
  const top = Math.round(center.y - size.height / 2);
  return Array.from({ length: count }, (_, i) => ({ x: left + i * (size.width + ROW_GAP), y: top }));
}

/** The record to store: the UI's, with the parent filled in for variations (DESIGN §2.5). */
export function recordForJob(job: JobPlan, record: ProvenanceRecord): ProvenanceRecord {
  if (job.parentNodeId === undefined || record.parent !== undefined) return record;
  const parent: NonNullable<ProvenanceRecord['parent']> = { nodeId: job.parentNodeId };
  if (job.sourceRecord) parent.seed = job.sourceRecord.seed;
  return { ...record, parent };
}

