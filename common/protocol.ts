/**
 * The main ↔ UI protocol (DESIGN §2.4): every message both ways, one versioned module.
 *
 * Transport: Figma's `figma.ui.postMessage(msg)` (main → UI, arrives as `event.data.pluginMessage`)
 * and `parent.postMessage({ pluginMessage: msg }, '*')` (UI → main, arrives in `figma.ui.onmessage`).
 * Both use structured clone, so PNG bytes travel as `Uint8Array` (never JSON or base64), one image
 * per message to keep the clone's memory peak small.
 *
 * Both sides validate what they receive with parseUiToMain / parseMainToUi, and answer a malformed
 * message with an `error` message instead of crashing. The validators are hand-written structural
 * checks: no dependency, never throw.
 *
 * A session, in order:
 *   main: showUI → UI: ui-ready → main: init, settings-loaded, history-loaded, selection-changed
 *   main: run-command (when a menu command, quick action or relaunch button started the plugin)
 *   UI: plan-request → main: plan (jobs with target node, target size, generation size)
 *   UI: export-request → main: export-result (image variations: the source's pixels as PNG)
 *   UI: job-result | job-failed | job-cancelled → main: job-applied | job-dropped, notify on canvas
 *   main: selection-changed whenever the selection changes (a running batch keeps its targets)
 *
 * Runs in the Figma main thread too: ES2017, no DOM.
 */

import { ENGINE_ERROR_CODES, type EngineErrorCode } from './engine-types.js';
import { describeValue, isBytes, isPlainObject, type PlainObject } from './plain-values.js';
import { validateProvenance, type ProvenanceRecord, MAX_IMAGE_SIDE } from './provenance.js';

export { isBytes };

export const PROTOCOL_VERSION = 1;
export type ProtocolVersion = typeof PROTOCOL_VERSION;

/** Bounds the validators enforce. */
export const LIMITS = {
  idChars: 200,
  nameChars: 1000,
  textChars: 4000,
  messageChars: 2000,
  maxJobsPerPlan: 64,
  maxVariations: 16,
  maxTargets: 1000,
  maxHistoryEntries: 200,
  /** A 4096² RGBA PNG with no compression is ~64 MiB; nothing valid is larger. */
  maxPngBytes: 4096 * 4096 * 4 + 65536,
  maxJsonDepth: 8,
  maxJsonKeys: 500,
} as const;

// ---------------------------------------------------------------------------------------------
// Shared shapes

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** What the resolution planner needs from the loaded model (ModelInfo's fields of the same names). */
export interface ModelGeometry {
  /** Native generation side in pixels (sample_size · vae_scale_factor). */
  nativeSize: number;
  /** Largest side the positional grid covers, pixels. */
  maxSide: number;
  /** Both generation sides are multiples of this. */
  sizeMultiple: number;
}

export interface Size {
  width: number;
  height: number;
}

/** Node types Flowfill may meet in a selection; anything else is reported as 'OTHER'. */
export type TargetNodeType =
  | 'FRAME'
  | 'RECTANGLE'
  | 'ELLIPSE'
  | 'POLYGON'
  | 'STAR'
  | 'COMPONENT'
  | 'INSTANCE'
  | 'GROUP'
  | 'TEXT'
  | 'OTHER';

/** One selected node, as the panel shows it. */
export interface TargetInfo {
  id: string;
  name: string;
  type: TargetNodeType;
  width: number;
  height: number;
  /** The node already shows an image (any IMAGE paint in its fills). */
  hasImageFill: boolean;
  /** Flowfill can write an image fill to it. */
  canFill: boolean;
  /** Plain-language reason when canFill is false. */
  skipReason?: string;
  /** The Flowfill record stored on the node, when it holds one. */
  provenance?: ProvenanceRecord;
}

/** How the new image meets the node's existing fills. 'keep': existing fills stay underneath. */
export type FillMode = 'keep' | 'replace';

export type PlanKind = 'generate' | 'regenerate' | 'seed-variations' | 'image-variations';

/** What one job will do on the canvas when its image arrives. */
export type JobKind = 'fill' | 'new-frame' | 'regenerate' | 'seed-variation' | 'image-variation';

export interface PlannedJob {
  jobId: string;
  kind: JobKind;
  /** The node the image goes to; null when the node is created when the image arrives. */
  nodeId: string | null;
  /** Name of the target node (or of the node that will be created). */
  nodeName: string;
  /** Size of the target node on the canvas. */
  target: Size;
  /** Generation size from the resolution planner (same aspect ratio, model grid, ≤ 4096). */
  gen: Size;
  /** Variations only: 0-based index in the row; the UI derives the seed from it. */
  variationIndex?: number;
  /** Variations only: the node they are made from. */
  parentNodeId?: string;
  /** Regenerate: the record to reproduce. Variations: the parent's record, when it has one. */
  sourceRecord?: ProvenanceRecord;
  /** Planner remarks, e.g. an extreme aspect ratio that the grid could only approximate. */
  notes: string[];
}

export interface SkippedTarget {
  nodeId: string;
  name: string;
  reason: string;
}

export interface HistoryEntry {
  jobId: string;
  nodeId: string;
  nodeName: string;
  record: ProvenanceRecord;
}

export type MainErrorCode =
  | 'malformed-message'
  | 'version-mismatch'
  | 'unknown-job'
  | 'node-missing'
  | 'nothing-to-do'
  | 'image-rejected'
  | 'storage-failed'
  | 'export-failed'
  | 'internal';

export type StartCommand = 'open' | 'generate' | 'fill-selection' | 'variations' | 'regenerate';

// ---------------------------------------------------------------------------------------------
// UI → main

interface Base<T extends string> {
  type: T;
  v: ProtocolVersion;
}

/** The panel has loaded and listens; main answers with init, settings, history, selection. */
export interface UiReadyMessage extends Base<'ui-ready'> {}

export interface SettingsLoadMessage extends Base<'settings-load'> {}
/** Settings are the panel's (ui/settings.ts); main stores them in clientStorage as they are. */
export interface SettingsSaveMessage extends Base<'settings-save'> {
  settings: JsonObject;
}
export interface HistoryLoadMessage extends Base<'history-load'> {}
export interface HistorySaveMessage extends Base<'history-save'> {
  entries: HistoryEntry[];
}

/** Ask main to plan jobs for the current selection (snapshotted: later selection changes don't retarget). */
export interface PlanRequestMessage extends Base<'plan-request'> {
  requestId: string;
  kind: PlanKind;
  geometry: ModelGeometry;
  fillMode: FillMode;
  /** Names a created frame and variation nodes. */
  prompt: string;
  /** Variations per source node (1 for generate/regenerate). */
  count: number;
  /** Size of the frame created when nothing fillable is selected (generate only). */
  newFrame?: Size;
}

/** Ask for a node's pixels as PNG (image variations). Main exports at `size` (aspect kept). */
export interface ExportRequestMessage extends Base<'export-request'> {
  requestId: string;
  nodeId: string;
  size: Size;
}

/**
 * One finished image for one planned job. The job id is enough: main keeps the plan, so the
 * image goes where the job was planned even if the selection has changed since. The record's
 * width/height must equal the image's (main refuses mismatches).
 */
export interface JobResultMessage extends Base<'job-result'> {
  jobId: string;
  png: Uint8Array;
  width: number;
  height: number;
  record: ProvenanceRecord;
}

export interface JobFailedMessage extends Base<'job-failed'> {
  jobId: string;
  code: EngineErrorCode;
  /** The engine's message, for the log; main shows its own plain-language text. */
  message: string;
}

export interface JobCancelledMessage extends Base<'job-cancelled'> {
  jobId: string;
}

/** Show a toast on the canvas. */
export interface NotifyMessage extends Base<'notify'> {
  message: string;
  error: boolean;
}

export interface ResizeMessage extends Base<'resize'> {
  width: number;
  height: number;
}

export interface CloseMessage extends Base<'close'> {}

export type UiToMain =
  | UiReadyMessage
  | SettingsLoadMessage
  | SettingsSaveMessage
  | HistoryLoadMessage
  | HistorySaveMessage
  | PlanRequestMessage
  | ExportRequestMessage
  | JobResultMessage
  | JobFailedMessage
  | JobCancelledMessage
  | NotifyMessage
  | ResizeMessage
  | CloseMessage
  | ErrorMessage;

// ---------------------------------------------------------------------------------------------
// Main → UI

export interface InitMessage extends Base<'init'> {
  /** What started the plugin. */
  command: StartCommand;
  /** Host name, so the same UI can serve another tool later. */
  host: string;
}

export interface SettingsLoadedMessage extends Base<'settings-loaded'> {
  /** null when nothing was saved yet. */
  settings: JsonObject | null;
}

export interface HistoryLoadedMessage extends Base<'history-loaded'> {
  entries: HistoryEntry[];
}

export interface SelectionChangedMessage extends Base<'selection-changed'> {
  targets: TargetInfo[];
}

/**
 * A menu command, quick action or relaunch button asks the panel to start work, once per launch:
 * - generate: plan-request kind 'generate' (fills the selection, or inserts new frames when
 *   nothing is selected); from the quick action it carries the typed prompt.
 * - fill-selection: the same with the panel's current settings.
 * - variations: 'seed-variations' when the selected node holds a Flowfill record (same prompt,
 *   new seeds), else 'image-variations' (export-request, then image-to-image).
 * - regenerate: plan-request kind 'regenerate'; each job carries the record to reproduce.
 */
export interface RunCommandMessage extends Base<'run-command'> {
  command: Exclude<StartCommand, 'open'>;
  source: 'menu' | 'quick-action' | 'relaunch';
  /** From the quick action's freeform `prompt` parameter. */
  prompt?: string;
}

export interface PlanMessage extends Base<'plan'> {
  requestId: string;
  batchId: string;
  jobs: PlannedJob[];
  skipped: SkippedTarget[];
}

export interface ExportResultMessage extends Base<'export-result'> {
  requestId: string;
  nodeId: string;
  png: Uint8Array;
  width: number;
  height: number;
}

/** The image is on the canvas. */
export interface JobAppliedMessage extends Base<'job-applied'> {
  jobId: string;
  nodeId: string;
  nodeName: string;
}

/** The job will not be applied (its node was deleted, the image was refused...): stop it if running. */
export interface JobDroppedMessage extends Base<'job-dropped'> {
  jobId: string;
  reason: string;
}

/** Every job of the batch has ended; its changes form one undo step. */
export interface BatchDoneMessage extends Base<'batch-done'> {
  batchId: string;
  applied: number;
  dropped: number;
  failed: number;
  cancelled: number;
}

export type MainToUi =
  | InitMessage
  | SettingsLoadedMessage
  | HistoryLoadedMessage
  | SelectionChangedMessage
  | RunCommandMessage
  | PlanMessage
  | ExportResultMessage
  | JobAppliedMessage
  | JobDroppedMessage
  | BatchDoneMessage
  | ErrorMessage;

/** Either side's answer to a message it could not accept. */
export interface ErrorMessage extends Base<'error'> {
  code: MainErrorCode;
  message: string;
  /** The `type` of the message being answered, when it had a readable one. */
  inReplyTo?: string;
  /** Its requestId or jobId, when it had one. */
  ref?: string;
}

export type UiToMainType = UiToMain['type'];
export type MainToUiType = MainToUi['type'];
/** A message's fields without `type` and `v`, for the constructors below. */
export type PayloadOf<U extends { type: string }, T extends U['type']> = Omit<Extract<U, { type: T }>, 'type' | 'v'>;

/** Builds a UI → main message with the current version. */
export function uiMessage<T extends UiToMainType>(type: T, payload: PayloadOf<UiToMain, T>): Extract<UiToMain, { type: T }> {
  return { ...(payload as object), type, v: PROTOCOL_VERSION } as Extract<UiToMain, { type: T }>;
}

/** Builds a main → UI message with the current version. */
export function mainMessage<T extends MainToUiType>(type: T, payload: PayloadOf<MainToUi, T>): Extract<MainToUi, { type: T }> {
  return { ...(payload as object), type, v: PROTOCOL_VERSION } as Extract<MainToUi, { type: T }>;
}

// ---------------------------------------------------------------------------------------------
// Validation

export type ParseOutcome<M> =
  | { ok: true; msg: M }
  | { ok: false; error: string; code: 'malformed-message' | 'version-mismatch'; inReplyTo?: string; ref?: string };

type Rec = PlainObject;
/** A field check: null when fine, else the problem in words. */
type Check = (m: Rec) => string | null;

const bad = (path: string, value: unknown, expected: string): string => `${path} is ${describeValue(value)}; expected ${expected}`;

function str(path: string, value: unknown, max: number, nonEmpty = false): string | null {
  if (typeof value !== 'string' || value.length > max || (nonEmpty && value.length === 0)) {
    return bad(path, value, `a ${nonEmpty ? 'non-empty ' : ''}string of at most ${max} characters`);
  }
  return null;
}

function int(path: string, value: unknown, min: number, max: number): string | null {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    return bad(path, value, `an integer in [${min}, ${max}]`);
  }
  return null;
}

function num(path: string, value: unknown, min: number, max: number): string | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    return bad(path, value, `a number in [${min}, ${max}]`);
  }
  return null;
}

function oneOf(path: string, value: unknown, options: readonly string[]): string | null {
  if (typeof value !== 'string' || options.indexOf(value) < 0) return bad(path, value, `one of ${options.join(', ')}`);
  return null;
}

function bool(path: string, value: unknown): string | null {
  return typeof value === 'boolean' ? null : bad(path, value, 'true or false');
}

function size(path: string, value: unknown, max = MAX_IMAGE_SIDE): string | null {
  if (!isPlainObject(value)) return bad(path, value, '{ width, height }');
  return int(`${path}.width`, value.width, 1, max) ?? int(`${path}.height`, value.height, 1, max);
}

/** Canvas sizes are fractional and may exceed the image limit. */
function canvasSize(path: string, value: unknown): string | null {
  if (!isPlainObject(value)) return bad(path, value, '{ width, height }');
  return num(`${path}.width`, value.width, 0, 1e6) ?? num(`${path}.height`, value.height, 0, 1e6);
}

function png(path: string, value: unknown): string | null {
  if (!isBytes(value) || value.length < 8 || value.length > LIMITS.maxPngBytes) {
    return bad(path, value, `PNG bytes as a Uint8Array of 8..${LIMITS.maxPngBytes} bytes`);
  }
  return null;
}

function arrayOf(path: string, value: unknown, max: number, item: (p: string, v: unknown) => string | null): string | null {
  if (!Array.isArray(value) || value.length > max) return bad(path, value, `an array of at most ${max} items`);
  for (let i = 0; i < value.length; i++) {
    const problem = item(`${path}[${i}]`, value[i]);
    if (problem) return problem;
  }
  return null;
}

function provenance(path: string, value: unknown): string | null {
  const r = validateProvenance(value);
  return r.ok ? null : `${path}: ${r.error}`;
}

function optional(value: unknown, check: () => string | null): string | null {
  return value === undefined ? null : check();
}

function json(path: string, value: unknown, depth: number, budget: { keys: number }): string | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : bad(path, value, 'a finite number');
  if (depth >= LIMITS.maxJsonDepth) return `${path} nests deeper than ${LIMITS.maxJsonDepth} levels`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (--budget.keys < 0) return `${path} holds more than ${LIMITS.maxJsonKeys} values`;
      const problem = json(`${path}[${i}]`, value[i], depth + 1, budget);
      if (problem) return problem;
    }
    return null;
  }
  if (!isPlainObject(value)) return bad(path, value, 'JSON data (object, array, string, finite number, boolean or null)');
  for (const key of Object.keys(value)) {
    if (--budget.keys < 0) return `${path} holds more than ${LIMITS.maxJsonKeys} values`;
    const problem = json(`${path}.${key}`, value[key], depth + 1, budget);
    if (problem) return problem;
  }
  return null;
}

function jsonObject(path: string, value: unknown): string | null {
  if (!isPlainObject(value)) return bad(path, value, 'a JSON object');
  return json(path, value, 0, { keys: LIMITS.maxJsonKeys });
}

const MAIN_ERROR_CODES: readonly MainErrorCode[] = [
  'malformed-message',
  'version-mismatch',
  'unknown-job',
  'node-missing',
  'nothing-to-do',
  'image-rejected',
  'storage-failed',
  'export-failed',
  'internal',
];
const NODE_TYPES: readonly TargetNodeType[] = ['FRAME', 'RECTANGLE', 'ELLIPSE', 'POLYGON', 'STAR', 'COMPONENT', 'INSTANCE', 'GROUP', 'TEXT', 'OTHER'];
const PLAN_KINDS: readonly PlanKind[] = ['generate', 'regenerate', 'seed-variations', 'image-variations'];
const JOB_KINDS: readonly JobKind[] = ['fill', 'new-frame', 'regenerate', 'seed-variation', 'image-variation'];
const START_COMMANDS: readonly StartCommand[] = ['open', 'generate', 'fill-selection', 'variations', 'regenerate'];

function historyEntry(path: string, value: unknown): string | null {
  if (!isPlainObject(value)) return bad(path, value, '{ jobId, nodeId, nodeName, record }');
  return (
    str(`${path}.jobId`, value.jobId, LIMITS.idChars, true) ??
    str(`${path}.nodeId`, value.nodeId, LIMITS.idChars, true) ??
    str(`${path}.nodeName`, value.nodeName, LIMITS.nameChars) ??
    provenance(`${path}.record`, value.record)
  );
}

function targetInfo(path: string, value: unknown): string | null {
  if (!isPlainObject(value)) return bad(path, value, 'a target { id, name, type, width, height, hasImageFill, canFill }');
  return (
    str(`${path}.id`, value.id, LIMITS.idChars, true) ??
    str(`${path}.name`, value.name, LIMITS.nameChars) ??
    oneOf(`${path}.type`, value.type, NODE_TYPES) ??
    canvasSize(path, value) ??
    bool(`${path}.hasImageFill`, value.hasImageFill) ??
    bool(`${path}.canFill`, value.canFill) ??
    optional(value.skipReason, () => str(`${path}.skipReason`, value.skipReason, LIMITS.messageChars)) ??
    (value.canFill === false && value.skipReason === undefined ? `${path}.skipReason is missing; a target that cannot be filled must say why` : null) ??
    optional(value.provenance, () => provenance(`${path}.provenance`, value.provenance))
  );
}

function plannedJob(path: string, value: unknown): string | null {
  if (!isPlainObject(value)) return bad(path, value, 'a planned job');
  return (
    str(`${path}.jobId`, value.jobId, LIMITS.idChars, true) ??
    oneOf(`${path}.kind`, value.kind, JOB_KINDS) ??
    (value.nodeId === null ? null : str(`${path}.nodeId`, value.nodeId, LIMITS.idChars, true)) ??
    str(`${path}.nodeName`, value.nodeName, LIMITS.nameChars) ??
    canvasSize(`${path}.target`, value.target) ??
    size(`${path}.gen`, value.gen) ??
    optional(value.variationIndex, () => int(`${path}.variationIndex`, value.variationIndex, 0, LIMITS.maxVariations - 1)) ??
    optional(value.parentNodeId, () => str(`${path}.parentNodeId`, value.parentNodeId, LIMITS.idChars, true)) ??
    optional(value.sourceRecord, () => provenance(`${path}.sourceRecord`, value.sourceRecord)) ??
    arrayOf(`${path}.notes`, value.notes, 20, (p, v) => str(p, v, LIMITS.messageChars))
  );
}

function skippedTarget(path: string, value: unknown): string | null {
  if (!isPlainObject(value)) return bad(path, value, '{ nodeId, name, reason }');
  return (
    str(`${path}.nodeId`, value.nodeId, LIMITS.idChars, true) ??
    str(`${path}.name`, value.name, LIMITS.nameChars) ??
    str(`${path}.reason`, value.reason, LIMITS.messageChars)
  );
}

function geometry(path: string, value: unknown): string | null {
  if (!isPlainObject(value)) return bad(path, value, '{ nativeSize, maxSide, sizeMultiple } from ModelInfo');
  return (
    int(`${path}.nativeSize`, value.nativeSize, 8, MAX_IMAGE_SIDE) ??
    int(`${path}.maxSide`, value.maxSide, 8, 1 << 16) ??
    int(`${path}.sizeMultiple`, value.sizeMultiple, 1, 256)
  );
}

const errorChecks: Check = (m) =>
  oneOf('code', m.code, MAIN_ERROR_CODES) ??
  str('message', m.message, LIMITS.messageChars) ??
  optional(m.inReplyTo, () => str('inReplyTo', m.inReplyTo, 100)) ??
  optional(m.ref, () => str('ref', m.ref, LIMITS.idChars));

const none: Check = () => null;

const UI_TO_MAIN: { [T in UiToMainType]: Check } = {
  'ui-ready': none,
  'settings-load': none,
  'settings-save': (m) => jsonObject('settings', m.settings),
  'history-load': none,
  'history-save': (m) => arrayOf('entries', m.entries, LIMITS.maxHistoryEntries, historyEntry),
  'plan-request': (m) =>
    str('requestId', m.requestId, LIMITS.idChars, true) ??
    oneOf('kind', m.kind, PLAN_KINDS) ??
    geometry('geometry', m.geometry) ??
    oneOf('fillMode', m.fillMode, ['keep', 'replace']) ??
    str('prompt', m.prompt, LIMITS.textChars) ??
    int('count', m.count, 1, LIMITS.maxVariations) ??
    optional(m.newFrame, () => size('newFrame', m.newFrame)),
  'export-request': (m) =>
    str('requestId', m.requestId, LIMITS.idChars, true) ?? str('nodeId', m.nodeId, LIMITS.idChars, true) ?? size('size', m.size),
  'job-result': (m) =>
    str('jobId', m.jobId, LIMITS.idChars, true) ??
    png('png', m.png) ??
    int('width', m.width, 1, MAX_IMAGE_SIDE) ??
    int('height', m.height, 1, MAX_IMAGE_SIDE) ??
    provenance('record', m.record),
  'job-failed': (m) =>
    str('jobId', m.jobId, LIMITS.idChars, true) ?? oneOf('code', m.code, ENGINE_ERROR_CODES) ?? str('message', m.message, LIMITS.textChars),
  'job-cancelled': (m) => str('jobId', m.jobId, LIMITS.idChars, true),
  notify: (m) => str('message', m.message, LIMITS.messageChars, true) ?? bool('error', m.error),
  resize: (m) => int('width', m.width, 70, 4000) ?? int('height', m.height, 0, 4000),
  close: none,
  error: errorChecks,
};

const MAIN_TO_UI: { [T in MainToUiType]: Check } = {
  init: (m) => oneOf('command', m.command, START_COMMANDS) ?? str('host', m.host, 100, true),
  'settings-loaded': (m) => (m.settings === null ? null : jsonObject('settings', m.settings)),
  'history-loaded': (m) => arrayOf('entries', m.entries, LIMITS.maxHistoryEntries, historyEntry),
  'selection-changed': (m) => arrayOf('targets', m.targets, LIMITS.maxTargets, targetInfo),
  'run-command': (m) =>
    oneOf('command', m.command, START_COMMANDS.filter((c) => c !== 'open')) ??
    oneOf('source', m.source, ['menu', 'quick-action', 'relaunch']) ??
    optional(m.prompt, () => str('prompt', m.prompt, LIMITS.textChars)),
  plan: (m) =>
    str('requestId', m.requestId, LIMITS.idChars, true) ??
    str('batchId', m.batchId, LIMITS.idChars, true) ??
    arrayOf('jobs', m.jobs, LIMITS.maxJobsPerPlan, plannedJob) ??
    arrayOf('skipped', m.skipped, LIMITS.maxTargets, skippedTarget),
  'export-result': (m) =>
    str('requestId', m.requestId, LIMITS.idChars, true) ??
    str('nodeId', m.nodeId, LIMITS.idChars, true) ??
    png('png', m.png) ??
    int('width', m.width, 1, MAX_IMAGE_SIDE) ??
    int('height', m.height, 1, MAX_IMAGE_SIDE),
  'job-applied': (m) =>
    str('jobId', m.jobId, LIMITS.idChars, true) ?? str('nodeId', m.nodeId, LIMITS.idChars, true) ?? str('nodeName', m.nodeName, LIMITS.nameChars),
  'job-dropped': (m) => str('jobId', m.jobId, LIMITS.idChars, true) ?? str('reason', m.reason, LIMITS.messageChars),
  'batch-done': (m) =>
    str('batchId', m.batchId, LIMITS.idChars, true) ??
    int('applied', m.applied, 0, LIMITS.maxJobsPerPlan) ??
    int('dropped', m.dropped, 0, LIMITS.maxJobsPerPlan) ??
    int('failed', m.failed, 0, LIMITS.maxJobsPerPlan) ??
    int('cancelled', m.cancelled, 0, LIMITS.maxJobsPerPlan),
  error: errorChecks,
};

function parseWith<M>(x: unknown, checks: Record<string, Check>, direction: string): ParseOutcome<M> {
  try {
    if (!isPlainObject(x)) return { ok: false, code: 'malformed-message', error: `${direction} message is ${describeValue(x)}; expected an object with type and v` };
    const type = x.type;
    if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(checks, type)) {
      return {
        ok: false,
        code: 'malformed-message',
        error: bad('type', type, `one of ${Object.keys(checks).join(', ')}`),
      };
    }
    const ref = typeof x.requestId === 'string' ? x.requestId : typeof x.jobId === 'string' ? x.jobId : undefined;
    const context = { inReplyTo: type, ...(ref !== undefined && ref.length <= LIMITS.idChars ? { ref } : {}) };
    if (x.v !== PROTOCOL_VERSION) {
      return {
        ok: false,
        code: 'version-mismatch',
        error: `${type}: v is ${describeValue(x.v)}; this build speaks protocol version ${PROTOCOL_VERSION} (reload the plugin so both sides match)`,
        ...context,
      };
    }
    const problem = checks[type](x);
    if (problem) return { ok: false, code: 'malformed-message', error: `${type}: ${problem}`, ...context };
    return { ok: true, msg: x as unknown as M };
  } catch (e) {
    // Only reachable with exotic inputs (proxies, throwing getters); a message must never crash a side.
    return { ok: false, code: 'malformed-message', error: `${direction} message could not be read: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Validates a message the main thread received from the UI. Never throws. */
export function parseUiToMain(x: unknown): ParseOutcome<UiToMain> {
  return parseWith<UiToMain>(x, UI_TO_MAIN, 'UI → main');
}

/** Validates a message the UI received from the main thread. Never throws. */
export function parseMainToUi(x: unknown): ParseOutcome<MainToUi> {
  return parseWith<MainToUi>(x, MAIN_TO_UI, 'main → UI');
}

/** The error reply for a message that failed validation. */
export function errorReply(outcome: { error: string; code: MainErrorCode; inReplyTo?: string; ref?: string }): ErrorMessage {
  const reply: ErrorMessage = { type: 'error', v: PROTOCOL_VERSION, code: outcome.code, message: outcome.error.slice(0, LIMITS.messageChars) };
  if (outcome.inReplyTo !== undefined) reply.inReplyTo = outcome.inReplyTo.slice(0, 100);
  if (outcome.ref !== undefined) reply.ref = outcome.ref;
  return reply;
}

