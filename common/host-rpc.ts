/**
 * The host RPC: everything the panel (the orchestrator) may ask of a design tool, one schema per
 * method (its arguments and its result), plus the one event a host pushes. The TypeScript types are
 * derived from the schemas; both sides validate against them (common/rpc-link.ts), so a malformed
 * or unknown call gets an error result, never a crash.
 *
 * The panel awaits host calls like local async functions:
 *   const { targets } = await host.readTargets();            // sizes cross once per job
 *   await host.placeImage({ destination, png, fillMode, record });   // the image crosses once
 * PNG bytes travel as Uint8Array (structured clone), one image per call.
 *
 * A host has no job logic: it reads the canvas, writes images and records, and closes undo steps
 * when the panel says a batch has ended. src/ is the Figma implementation.
 *
 * Runs in the Figma main thread too: ES2017, no DOM.
 */
import * as v from 'valibot';
import { jsonValueSchema } from './json-value.js';
import { readPngSize } from './png-size.js';
import { MAX_IMAGE_SIDE, PROMPT_MAX_CHARS, imageSideSchema, provenanceSchema } from './provenance.js';
import type { RpcHandlers, RpcSpec } from './rpc-link.js';
import { bytes, finite, oneOf, text } from './schema-kit.js';

/** Bumped whenever a method or event changes shape; both sides refuse another version. */
export const HOST_RPC_VERSION = 2;

export const LIMITS = {
  idChars: 200,
  nameChars: 1000,
  messageChars: 2000,
  /** Layers reported per selection; a larger selection is cut here. */
  maxLayers: 1000,
  /** A 4096² RGBA PNG with no compression is ~64 MiB; nothing valid is larger. */
  maxPngBytes: MAX_IMAGE_SIDE * MAX_IMAGE_SIDE * 4 + 65536,
} as const;

// ---- shapes ------------------------------------------------------------------------------------

const nodeId = text(LIMITS.idChars, {
  nonEmpty: true,
  expectation: `a node id (a non-empty string of at most ${LIMITS.idChars} characters)`,
});
const nodeName = text(LIMITS.nameChars);
/** Canvas lengths are fractional and may exceed the image limit. */
const canvasLength = finite(0, 1e6);
const canvasCoordinate = finite(-1e7, 1e7);
const point = v.object({ x: canvasCoordinate, y: canvasCoordinate }, 'a point { x, y }');

/** PNG bytes whose header is readable: the image's size is in the bytes, never sent beside them. */
const png = v.pipe(
  bytes(LIMITS.maxPngBytes, `PNG bytes as a Uint8Array of at most ${LIMITS.maxPngBytes} bytes`),
  v.check((x) => {
    const size = readPngSize(x);
    return size !== null && size.width >= 1 && size.height >= 1 && size.width <= MAX_IMAGE_SIDE && size.height <= MAX_IMAGE_SIDE;
  }, `PNG bytes (signature and IHDR) of an image at most ${MAX_IMAGE_SIDE} px a side`),
);

/**
 * Why a host cannot write an image fill to a layer: 'text' (the fill would paint the letters),
 * 'group' (no fill of its own), 'unsupported' (a layer type without fills), 'locked',
 * 'mixed-fills' (parts differ, no single list to add to), 'too-small' (under 1 px a side).
 */
export const UNFILLABLE_REASONS = ['text', 'group', 'unsupported', 'locked', 'mixed-fills', 'too-small'] as const;

/** One selected layer, as the panel shows it (no geometry: that is read once, when a job is planned). */
const selectedLayer = v.object({
  id: nodeId,
  name: nodeName,
  /** The host's own type name, upper case: FRAME, RECTANGLE, TEXT, GROUP, VECTOR, ... */
  type: v.pipe(v.string(), v.regex(/^[A-Z][A-Z_]{0,39}$/, 'an upper-case type name such as "FRAME"')),
  /** Absent when the host can write an image fill to it. */
  unfillable: v.optional(oneOf(UNFILLABLE_REASONS)),
  /** The layer already shows an image (any image paint in its fills). */
  hasImageFill: v.boolean('true or false'),
  /** The Flowfill record stored on the layer, when it holds one. */
  provenance: v.optional(provenanceSchema),
});

/** A layer a job may target: the selected layer plus its size and page position. */
const target = v.object({
  ...selectedLayer.entries,
  width: canvasLength,
  height: canvasLength,
  /** Absolute position on the page, for placing new layers beside it. */
  x: canvasCoordinate,
  y: canvasCoordinate,
});

/** Where an image goes: an existing layer, or a frame the host creates when the image arrives. */
const destination = v.variant(
  'kind',
  [
    v.object({ kind: v.literal('existing'), nodeId }),
    v.object({
      kind: v.literal('create'),
      name: nodeName,
      x: canvasCoordinate,
      y: canvasCoordinate,
      width: finite(0.01, 1e6),
      height: finite(0.01, 1e6),
    }),
  ],
  'a destination { kind: "existing", nodeId } or { kind: "create", name, x, y, width, height }',
);

/** How the image meets the layer's existing fills. 'keep': existing fills stay underneath. */
const fillMode = oneOf(['keep', 'replace']);

/** What started the plugin: a menu command, the quick action, a relaunch button, or a plain open. */
const launch = v.object({
  /** Short host name ("figma"), so one panel can serve several hosts. */
  host: text(40, { nonEmpty: true }),
  command: oneOf(['open', 'generate', 'fill-selection', 'variations', 'regenerate', 'diagnostics']),
  source: oneOf(['open', 'menu', 'quick-action', 'relaunch']),
  /** The quick action's typed prompt. */
  prompt: v.optional(text(PROMPT_MAX_CHARS)),
});

const storageKey = oneOf(['settings', 'history']);
const nodeIds = v.pipe(v.array(nodeId, 'an array of node ids'), v.maxLength(LIMITS.maxLayers, `at most ${LIMITS.maxLayers} node ids`));
const none = v.object({});
const done = v.null('null');

// ---- methods -----------------------------------------------------------------------------------

export const HOST_METHODS = {
  /** What started this run of the plugin; the panel carries out the command once its model is ready. */
  readLaunch: { args: none, result: launch },
  /** The selection for display (the primary button's label, the provenance card). */
  readSelection: {
    args: none,
    result: v.object({ layers: v.pipe(v.array(selectedLayer), v.maxLength(LIMITS.maxLayers)) }),
  },
  /** The selection for a job, with sizes and positions: read once when the panel plans a batch. */
  readTargets: {
    args: none,
    result: v.object({
      targets: v.pipe(v.array(target), v.maxLength(LIMITS.maxLayers)),
      /** Where new frames go when nothing is selected. */
      viewportCenter: point,
    }),
  },
  /** Which of these layers no longer exist (deleted while their images were being made). */
  checkNodes: { args: v.object({ nodeIds }), result: v.object({ missing: nodeIds }) },
  /** The layer's pixels as PNG, `width` px wide (aspect kept), for image variations. Errors: node-missing, export-failed. */
  exportPng: {
    args: v.object({ nodeId, width: imageSideSchema }),
    result: png,
  },
  /**
   * Writes one image and its provenance record (plus relaunch buttons) in one step: nothing is
   * changed unless everything can be. The record's width × height is the PNG's own size.
   */
  placeImage: {
    args: v.pipe(
      v.object({ destination, png, fillMode, record: provenanceSchema }),
      v.forward(
        v.check((a) => {
          const size = readPngSize(a.png);
          return size !== null && size.width === a.record.width && size.height === a.record.height;
        }, 'a record whose width × height is the PNG’s own size'),
        ['record'],
      ),
    ),
    result: v.variant('placed', [
      v.object({ placed: v.literal(true), nodeId, nodeName }),
      v.object({
        placed: v.literal(false),
        /** 'node-missing': deleted while the job ran. 'node-locked': locked meanwhile. 'image-rejected': the host refused the bytes. */
        reason: oneOf(['node-missing', 'node-locked', 'image-rejected']),
        message: text(LIMITS.messageChars),
      }),
    ]),
  },
  /** Ends a batch's undo step: everything placed since the last commit undoes together. Nothing placed: no step. */
  commitUndo: { args: none, result: done },
  /** Scrolls and zooms the canvas to these layers (new frames a batch created). */
  reveal: { args: v.object({ nodeIds }), result: done },
  /** A toast on the canvas. */
  notify: { args: v.object({ message: text(LIMITS.messageChars, { nonEmpty: true }), error: v.boolean('true or false') }), result: done },
  /** The quick action's persistent progress toast, with a Cancel button that closes the plugin. */
  showProgress: { args: v.object({ message: text(LIMITS.messageChars, { nonEmpty: true }) }), result: done },
  /** Reads a value the panel stored (null when none). Errors: storage-failed. */
  loadValue: { args: v.object({ key: storageKey }), result: v.nullable(jsonValueSchema) },
  /** Stores a value for the panel (the host's storage: Figma's clientStorage, 5 MB). Errors: storage-failed. */
  saveValue: { args: v.object({ key: storageKey, value: jsonValueSchema }), result: done },
  /** Closes the plugin; what was placed becomes one undo step. The panel goes with it, so the reply is never read. */
  close: { args: none, result: done },
};

export const HOST_EVENTS = {
  /** The selection changed (also when a selected layer was deleted). */
  'selection-changed': v.object({ layers: v.pipe(v.array(selectedLayer), v.maxLength(LIMITS.maxLayers)) }),
};

/** Error codes a host call can fail with (beyond the link's own: see RpcErrorCode). */
export const HOST_ERROR_CODES = ['node-missing', 'export-failed', 'storage-failed'] as const;

export const HOST_RPC: RpcSpec<typeof HOST_METHODS, typeof HOST_EVENTS> = {
  name: 'flowfill-host',
  version: HOST_RPC_VERSION,
  methods: HOST_METHODS,
  events: HOST_EVENTS,
};

// ---- derived types -----------------------------------------------------------------------------

export type HostMethods = typeof HOST_METHODS;
/** What a design tool implements to host Flowfill: one function per method (src/figma-host.ts is Figma's). */
export type Host = RpcHandlers<HostMethods>;
export type HostMethodName = keyof HostMethods;
export type HostArgs<M extends HostMethodName> = v.InferOutput<HostMethods[M]['args']>;
export type HostResult<M extends HostMethodName> = v.InferOutput<HostMethods[M]['result']>;

export type Launch = v.InferOutput<typeof launch>;
export type LaunchCommand = Launch['command'];
export type SelectedLayer = v.InferOutput<typeof selectedLayer>;
export type Target = v.InferOutput<typeof target>;
export type UnfillableReason = (typeof UNFILLABLE_REASONS)[number];
export type ImageDestination = v.InferOutput<typeof destination>;
export type FillMode = v.InferOutput<typeof fillMode>;
export type PlaceImageArgs = HostArgs<'placeImage'>;
export type PlaceImageOutcome = HostResult<'placeImage'>;
export type StorageKey = v.InferOutput<typeof storageKey>;
