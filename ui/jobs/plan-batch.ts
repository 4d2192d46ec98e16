/**
 * Plans a batch: from one snapshot of the selection (the host's readTargets), which layer each
 * image goes to (or where a new frame will be created), at what generation size, with what
 * request. Pure.
 *
 * Rules:
 * - generate: one image per fillable selected layer, at the layer's own aspect ratio (sizes from
 *   the resolution planner). With nothing selected, `variations` new frames in a row centred in
 *   the viewport, named after the prompt.
 * - regenerate: one image per selected layer that holds a Flowfill record, at the record's size,
 *   when the record's model (by hash) is the one in use; else the layer is skipped, naming the model.
 * - seed-variations / image-variations: `variations` new frames beside each selected layer, in a
 *   row to its right, the same size as the source. 'variations' (the menu command and relaunch
 *   button) picks seed variations when every fillable layer carries a record, else image variations.
 * Jobs carry node ids, so later selection changes never retarget them.
 */
import { planGenerationSize, type SizeGeometry } from '../../common/resolution-planner.js';
import type { Target } from '../../common/host-rpc.js';
import type { GenerationSettings } from '../settings/settings.js';
import type { Job, JobKind, Skip } from './job.js';
import { imageRequests, type PlannedImage } from './job-requests.js';
import { makesImagesOf, MAX_JOBS_PER_BATCH, otherModelReason, skipReason, type ModelIdentity } from './skip-reasons.js';

/** Space between layers in a row of variations or new frames, px. */
export const ROW_GAP = 40;
export const DEFAULT_NAME = 'Flowfill image';

export type BatchRequest = 'generate' | 'regenerate' | 'seed-variations' | 'image-variations' | 'variations';

export interface PlanInput {
  request: BatchRequest;
  targets: readonly Target[];
  viewportCenter: { x: number; y: number };
  /** The settings snapshot taken when the user asked (its seed already drawn or locked). */
  settings: GenerationSettings;
  geometry: SizeGeometry;
  /** The size of frames inserted when nothing is selected. */
  newFrame: { width: number; height: number };
  batchId: string;
  /**
   * The model in use and the ones the panel can switch to: regenerating a layer made with another
   * model is skipped, saying which model made it. Without it, records are regenerated as they are.
   */
  models?: { current: ModelIdentity; installed: readonly ModelIdentity[] };
}

export interface PlannedBatch {
  jobs: Job[];
  skipped: Skip[];
  /** Resolution-planner remarks (an extreme aspect ratio the grid could only approximate), once each. */
  notes: string[];
  /** Plain-language reason when there are no jobs. */
  nothingToDo?: string;
}

/** A layer name from a prompt: first line, spaces collapsed, at most 60 characters. */
export function nameFromPrompt(prompt: string): string {
  const line = prompt.split('\n')[0].replace(/\s+/g, ' ').trim();
  if (line === '') return DEFAULT_NAME;
  return line.length > 60 ? `${line.slice(0, 59).replace(/\s+$/, '')}…` : line;
}

/** Top-left corners of `count` layers of `size` in a row centred on `center`. */
export function rowPositions(
  count: number,
  size: { width: number; height: number },
  center: { x: number; y: number },
): { x: number; y: number }[] {
  const total = count * size.width + (count - 1) * ROW_GAP;
  const left = Math.round(center.x - total / 2);
  const top = Math.round(center.y - size.height / 2);
  return Array.from({ length: count }, (_, i) => ({ x: left + i * (size.width + ROW_GAP), y: top }));
}

/** Variations on this selection: new seeds of the same record when every fillable layer carries one, else image-to-image. */
export function variationKindFor(layers: readonly { unfillable?: string; provenance?: unknown }[]): 'seed-variations' | 'image-variations' {
  const fillable = layers.filter((t) => t.unfillable === undefined);
  return fillable.length > 0 && fillable.every((t) => t.provenance !== undefined) ? 'seed-variations' : 'image-variations';
}

interface PlannedSlot extends PlannedImage {
  label: string;
  destination: Job['destination'];
}

export function planBatch(input: PlanInput): PlannedBatch {
  const { targets, settings, batchId } = input;
  const request = input.request === 'variations' ? variationKindFor(targets) : input.request;
  const slots: PlannedSlot[] = [];
  const skipped: Skip[] = [];
  const notes = new Set<string>();
  const skip = (target: Target, code: Skip['code'], reason = skipReason(code, target.type)) =>
    skipped.push({ nodeId: target.id, name: target.name, code, reason });

  /** Adds an image unless the batch is full or the size cannot be planned; false when it was not added. */
  const add = (
    target: Target | null,
    slot: Omit<PlannedSlot, 'width' | 'height'>,
    size?: { width: number; height: number },
    frame?: { width: number; height: number },
  ): boolean => {
    if (slots.length >= MAX_JOBS_PER_BATCH) {
      if (target) skip(target, 'batch-limit');
      return false;
    }
    let gen = size;
    if (!gen) {
      const from = frame ?? { width: target!.width, height: target!.height };
      try {
        const planned = planGenerationSize(from.width, from.height, input.geometry);
        gen = { width: planned.width, height: planned.height };
        if (planned.note) notes.add(planned.note);
      } catch (error) {
        if (target) skip(target, 'size', error instanceof Error ? error.message : String(error));
        return false;
      }
    }
    slots.push({ ...slot, ...gen });
    return true;
  };

  switch (request) {
    case 'generate': {
      if (targets.length === 0) {
        const count = settings.variations;
        const name = nameFromPrompt(settings.prompt);
        rowPositions(count, input.newFrame, input.viewportCenter).forEach((at, i) => {
          const frameName = count > 1 ? `${name} ${i + 1}` : name;
          add(
            null,
            { kind: 'new-frame', label: frameName, destination: { kind: 'create', name: frameName, ...at, ...input.newFrame } },
            undefined,
            input.newFrame,
          );
        });
        break;
      }
      for (const target of targets) {
        if (target.unfillable) skip(target, target.unfillable);
        else add(target, { kind: 'fill', label: target.name, destination: { kind: 'existing', nodeId: target.id } });
      }
      break;
    }
    case 'regenerate': {
      for (const target of targets) {
        if (target.unfillable) skip(target, target.unfillable);
        else if (!target.provenance) skip(target, 'no-record');
        else if (input.models && !makesImagesOf(input.models.current, target.provenance.model.hash)) {
          skip(target, 'other-model', otherModelReason(target.provenance.model, input.models.current, input.models.installed));
        } else {
          const record = target.provenance;
          const slot = {
            kind: 'regenerate' as const,
            label: target.name,
            destination: { kind: 'existing' as const, nodeId: target.id },
            sourceRecord: record,
          };
          add(target, slot, { width: record.width, height: record.height });
        }
      }
      break;
    }
    case 'seed-variations':
    case 'image-variations': {
      const kind: JobKind = request === 'seed-variations' ? 'seed-variation' : 'image-variation';
      for (const target of targets) {
        if (!(target.width >= 1 && target.height >= 1)) {
          skip(target, 'too-small');
          continue;
        }
        const frame = { width: target.width, height: target.height };
        const record = target.provenance;
        // Seed variations of a Flowfill image keep its generation size, so seed i+1 compares one to one.
        const size = kind === 'seed-variation' && record ? { width: record.width, height: record.height } : undefined;
        for (let i = 0; i < settings.variations; i++) {
          const name = `${target.name} — variation ${i + 1}`.slice(0, 1000);
          const at = { x: target.x + (target.width + ROW_GAP) * (i + 1), y: target.y };
          const slot: Omit<PlannedSlot, 'width' | 'height'> = {
            kind,
            label: `${target.name} · ${i + 1}`,
            destination: { kind: 'create', name, ...at, ...frame },
            variationIndex: i,
            variesNodeId: target.id,
            ...(record ? { sourceRecord: record } : {}),
          };
          if (!add(target, slot, size, frame)) break;
        }
      }
      break;
    }
  }

  const requests = imageRequests(slots, settings);
  const jobs: Job[] = slots.map((slot, i) => ({
    jobId: `${batchId}-j${i + 1}`,
    batchId,
    kind: slot.kind,
    label: slot.label,
    destination: slot.destination,
    ...requests[i],
    status: 'queued',
    step: 0,
    total: requests[i].request.steps,
  }));
  const planned: PlannedBatch = { jobs, skipped, notes: [...notes] };
  if (jobs.length === 0) {
    if (targets.length === 0) planned.nothingToDo = 'Select a layer first.';
    else if (skipped.length === 1) planned.nothingToDo = `“${skipped[0].name}”: ${skipped[0].reason}`;
    else planned.nothingToDo = `None of the ${targets.length} selected layers can be used. ${skipped[0]?.reason ?? ''}`.trim();
  }
  return planned;
}
