/**
 * The Host seam: what Flowfill's main thread needs from a design tool, in the tool's own terms
 * hidden. Figma implements it in figma-host.ts; another creative tool can implement the same
 * interface and reuse the controller, planner and protocol unchanged.
 */
import type { FillMode, MainToUi, Size } from '../../common/protocol.js';
import type { ProvenanceRecord } from '../../common/provenance.js';

/** The facts about one node that Flowfill's rules need (see targets.ts for the rules). */
export interface HostNodeFacts {
  id: string;
  name: string;
  /** The host's type name, upper case (FRAME, RECTANGLE, TEXT, GROUP, VECTOR, ...). */
  type: string;
  width: number;
  height: number;
  /** Position on the page (absolute), for placing new nodes beside it. */
  x: number;
  y: number;
  locked: boolean;
  /** The node has a fills list at all (groups and vectors-without-fills do not). */
  supportsFills: boolean;
  /** Its fills differ between parts (text ranges): no single list to add to. */
  fillsMixed: boolean;
  hasImageFill: boolean;
  /** The stored provenance text ('' when none). */
  recordText: string;
}

/** Where an image goes: an existing node, or a node the host creates when the image arrives. */
export type ImageDestination =
  | { kind: 'existing'; nodeId: string }
  | { kind: 'create'; name: string; x: number; y: number; width: number; height: number };

export interface PlaceImageRequest {
  destination: ImageDestination;
  png: Uint8Array;
  fillMode: FillMode;
  record: ProvenanceRecord;
}

export type PlaceImageOutcome =
  | { ok: true; nodeId: string; nodeName: string; imageHash: string }
  /** 'node-missing': deleted while the job ran. 'image-rejected': the host refused the bytes. */
  | { ok: false; reason: 'node-missing' | 'image-rejected' | 'node-locked'; message: string };

export interface NotifyOptions {
  error?: boolean;
  persistent?: boolean;
  action?: { text: string; run: () => void };
}

export interface Host {
  /** Short host name sent to the UI ("figma"). */
  readonly name: string;
  readSelection(): HostNodeFacts[];
  /** null when the node no longer exists. */
  getNode(nodeId: string): Promise<HostNodeFacts | null>;
  /**
   * Writes one image and its provenance in one step: nothing is changed unless everything can be
   * (the bytes are accepted before any node is created or fill replaced).
   */
  placeImage(request: PlaceImageRequest): Promise<PlaceImageOutcome>;
  /** The node's pixels as PNG, `size.width` wide (aspect kept). */
  exportPng(nodeId: string, size: Size): Promise<Uint8Array>;
  /**
   * Shows a toast. `persistent` keeps it until cancelled; `action` adds a button (the quick
   * action's Cancel). The handle removes it.
   */
  notify(message: string, options?: NotifyOptions): { cancel(): void };
  /** Closes one undo step: everything since the previous checkpoint undoes together. */
  checkpoint(): void;
  viewportCenter(): { x: number; y: number };
  reveal(nodeIds: string[]): Promise<void>;
  loadValue(key: string): Promise<unknown>;
  saveValue(key: string, value: unknown): Promise<void>;
  onSelectionChange(callback: () => void): void;
  resizeUi(width: number, height: number): void;
  close(): void;
}

/** The message link to the panel. */
export interface UiChannel {
  post(message: MainToUi): void;
  /** `handler` returns a promise so callers (and tests) can await a message's handling. */
  onMessage(handler: (raw: unknown) => Promise<void>): void;
}
