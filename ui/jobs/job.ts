/**
 * A job: one image the panel makes and places. Jobs live in one place, the panel's state
 * (PanelState.jobs), with one status type; batches group the jobs of one action (one Fill click,
 * one menu command) for their undo step, their summary and the quick action's close.
 */
import type { EngineErrorCode, GenerationProgress, GenerationRequest } from '../../common/engine-types.js';
import type { FillMode, ImageDestination, UnfillableReason } from '../../common/host-rpc.js';
import type { ProvenanceParent } from '../../common/provenance.js';

/** What a job does on the canvas. */
export type JobKind = 'fill' | 'new-frame' | 'regenerate' | 'seed-variation' | 'image-variation';

/**
 * queued → (exporting →) running → placing → done, or one of the ends:
 * skipped (its layer was deleted or locked meanwhile: nothing to place into), failed, cancelled.
 */
export type JobStatus = 'queued' | 'exporting' | 'running' | 'placing' | 'done' | 'skipped' | 'failed' | 'cancelled';

/** Why a layer got no image: the host's reasons, plus the panel's own. */
export type SkipCode = UnfillableReason | 'no-record' | 'batch-limit' | 'size' | 'deleted' | 'other-model';

export interface Skip {
  nodeId: string;
  name: string;
  code: SkipCode;
  /** The reason in words. */
  reason: string;
}

export interface Job {
  jobId: string;
  batchId: string;
  kind: JobKind;
  /** What the panel shows: the layer's name (and the variation's number). */
  label: string;
  /** The engine request without init pixels; width × height is the planned generation size. */
  request: Omit<GenerationRequest, 'jobId' | 'init'>;
  destination: ImageDestination;
  /** Image variations: the layer whose pixels (exported by the host) start the image. */
  sourceNodeId?: string;
  /** Recorded in provenance: the layer (and its seed) this image varies. */
  parent?: ProvenanceParent;
  status: JobStatus;
  /** Denoising progress; 0 of request.steps until the first step lands. */
  step: number;
  total: number;
  /** Engine-reported ms since the job's generation started, at the latest step and at step 1. */
  elapsedMs?: number;
  firstStepMs?: number;
  preview?: GenerationProgress['preview'];
  /** The finished image (PNG), for the panel's thumbnail. */
  resultPng?: Uint8Array;
  /** The layer the image went to (created layers have their id only once placed). */
  placedNodeId?: string;
  /** Why it was skipped, failed or cancelled, in words. */
  reason?: string;
  skipCode?: SkipCode;
  errorCode?: EngineErrorCode;
  /** Set while a cancel or skip waits for the engine to stop. */
  stopping?: { status: 'cancelled' } | { status: 'skipped'; code: SkipCode; reason: string };
}

export interface Batch {
  batchId: string;
  fillMode: FillMode;
  /** Started by the quick action: progress goes to a toast, and the plugin closes when it ends. */
  quickAction: boolean;
  /** Layers of the selection that got no job, and why. */
  skipped: Skip[];
  /** Engine error codes already shown on the canvas, so 8 failures show one toast. */
  shownErrors: EngineErrorCode[];
  ended: boolean;
}

export function isEnded(status: JobStatus): boolean {
  return status === 'done' || status === 'skipped' || status === 'failed' || status === 'cancelled';
}
