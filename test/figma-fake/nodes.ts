/**
 * Scene nodes of the fake: the subset of Figma's node types Flowfill meets, with Figma's rules —
 * a removed node throws on every read but `removed`/`id`; fills are frozen and replaced whole;
 * plugin data is capped per entry; instances take no children; only fill-capable types have `fills`.
 */
import { normaliseFills } from './paints.js';

export const PLUGIN_DATA_ENTRY_LIMIT = 100_000;
export const RELAUNCH_DESCRIPTION_LIMIT = 1000;

export type FakeNodeType =
  'DOCUMENT' | 'PAGE' | 'FRAME' | 'RECTANGLE' | 'ELLIPSE' | 'POLYGON' | 'STAR' | 'COMPONENT' | 'INSTANCE' | 'GROUP' | 'TEXT';

interface NodeState {
  name: string;
  x: number;
  y: number;
  width: number;
  height: number;
  locked: boolean;
  visible: boolean;
  fills: ReadonlyArray<Paint> | symbol | undefined;
  pluginData: Map<string, string>;
  relaunch: Record<string, string>;
  parentId: string | null;
  childIds: string[];
}

/** State shared by every node of one fake document: ids, registry, the undo dirty flag, events. */
export class FakeWorld {
  private nextId = 2;
  readonly nodes = new Map<string, FakeNode>();
  dirty = false;
  readonly utf8 = new TextEncoder();
  constructor(
    readonly mixed: symbol,
    readonly pluginId: string,
    readonly relaunchCommands: string[] | null,
    readonly onSelectionMaybeChanged: () => void,
  ) {}
  newId(): string {
    return `1:${this.nextId++}`;
  }
  /** Set by createFigmaFake: rasterises a node for exportAsync. */
  exportNode: (node: FakeNode, settings: ExportSettings | undefined) => Promise<Uint8Array> = async () => {
    throw new Error('exportAsync is not wired');
  };
  register(node: FakeNode): void {
    this.nodes.set(node.id, node);
  }
  touch(): void {
    this.dirty = true;
  }

  /** Snapshot of every node reachable from `root`, for the undo stack. */
  snapshot(root: FakeNode): Map<string, NodeState> {
    const out = new Map<string, NodeState>();
    const visit = (n: FakeNode) => {
      out.set(n.id, n._state());
      n._kids.forEach(visit);
    };
    visit(root);
    return out;
  }

  restore(snapshot: Map<string, NodeState>): void {
    for (const node of this.nodes.values()) {
      const state = snapshot.get(node.id);
      if (state) node._restore(state, this.nodes);
      else {
        node._removed = true;
        node._parent = null;
        node._kids = [];
      }
    }
    this.onSelectionMaybeChanged();
  }
}

export class FakeNode {
  _removed = false;
  _parent: FakeNode | null = null;
  _kids: FakeNode[] = [];
  protected _name: string;
  protected _x = 0;
  protected _y = 0;
  protected _width = 100;
  protected _height = 100;
  protected _locked = false;
  protected _visible = true;
  _fills: ReadonlyArray<Paint> | symbol | undefined = undefined;
  protected _pluginData = new Map<string, string>();
  protected _relaunch: Record<string, string> = {};

  constructor(
    readonly world: FakeWorld,
    readonly type: FakeNodeType,
    name: string,
    readonly id: string = world.newId(),
  ) {
    this._name = name;
    world.register(this);
  }

  get removed(): boolean {
    return this._removed;
  }

  /** Every read or write of a removed node fails as in Figma. */
  protected alive(op: string): void {
    if (this._removed) throw new Error(`in ${op}: The node with id ${JSON.stringify(this.id)} does not exist`);
  }
  protected write(op: string): void {
    this.alive(op);
    this.world.touch();
  }

  get name(): string {
    this.alive('get_name');
    return this._name;
  }
  set name(v: string) {
    this.write('set_name');
    if (typeof v !== 'string') throw new Error(`in set_name: Expected a string, got ${typeof v}`);
    this._name = v;
  }
  get parent(): FakeNode | null {
    this.alive('get_parent');
    return this._parent;
  }
  get x(): number {
    this.alive('get_x');
    return this._x;
  }
  set x(v: number) {
    this.write('set_x');
    if (!Number.isFinite(v)) throw new Error(`in set_x: Expected a finite number, got ${v}`);
    this._x = v;
  }
  get y(): number {
    this.alive('get_y');
    return this._y;
  }
  set y(v: number) {
    this.write('set_y');
    if (!Number.isFinite(v)) throw new Error(`in set_y: Expected a finite number, got ${v}`);
    this._y = v;
  }
  get width(): number {
    this.alive('get_width');
    return this._width;
  }
  get height(): number {
    this.alive('get_height');
    return this._height;
  }
  get locked(): boolean {
    this.alive('get_locked');
    return this._locked;
  }
  set locked(v: boolean) {
    this.write('set_locked');
    this._locked = !!v;
  }
  get visible(): boolean {
    this.alive('get_visible');
    return this._visible;
  }
  set visible(v: boolean) {
    this.write('set_visible');
    this._visible = !!v;
  }

  /** Page-level position: offsets of enclosing frames add up; groups add none (their children share the parent's space). */
  get absoluteBoundingBox(): Rect {
    this.alive('get_absoluteBoundingBox');
    let x = this._x;
    let y = this._y;
    for (let p = this._parent; p && p.type !== 'PAGE' && p.type !== 'DOCUMENT'; p = p._parent) {
      if (p.type !== 'GROUP') {
        x += p._x;
        y += p._y;
      }
    }
    return { x, y, width: this._width, height: this._height };
  }

  resize(width: number, height: number): void {
    this.write('resize');
    for (const [field, v] of [
      ['width', width],
      ['height', height],
    ] as const) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0.01)
        throw new Error(`in resize: Expected "${field}" to have value >= 0.01, got ${v}`);
    }
    this._width = width;
    this._height = height;
  }
  resizeWithoutConstraints(width: number, height: number): void {
    this.resize(width, height);
  }

  remove(): void {
    this.write('remove');
    if (this._parent) this._parent._kids = this._parent._kids.filter((k) => k !== this);
    this._parent = null;
    const markRemoved = (n: FakeNode) => {
      n._removed = true;
      n._kids.forEach(markRemoved);
    };
    markRemoved(this);
    this.world.onSelectionMaybeChanged();
  }

  setPluginData(key: string, value: string): void {
    this.write('setPluginData');
    if (typeof key !== 'string' || typeof value !== 'string') throw new Error('in setPluginData: Expected key and value to be strings');
    const bytes = this.world.utf8.encode(this.world.pluginId + key + value).length;
    if (bytes > PLUGIN_DATA_ENTRY_LIMIT) {
      throw new Error(
        `in setPluginData: Plugin data entry for key ${JSON.stringify(key)} is ${bytes} bytes; the limit is ${PLUGIN_DATA_ENTRY_LIMIT} bytes per entry`,
      );
    }
    if (value === '') this._pluginData.delete(key);
    else this._pluginData.set(key, value);
  }
  getPluginData(key: string): string {
    this.alive('getPluginData');
    return this._pluginData.get(key) ?? '';
  }
  getPluginDataKeys(): string[] {
    this.alive('getPluginDataKeys');
    return [...this._pluginData.keys()];
  }

  setRelaunchData(data: Record<string, string>): void {
    this.write('setRelaunchData');
    for (const [command, description] of Object.entries(data)) {
      const known = this.world.relaunchCommands;
      if (known && !known.includes(command)) {
        throw new Error(
          `in setRelaunchData: Relaunch command ${JSON.stringify(command)} is not in the manifest's relaunchButtons (${known.join(', ')})`,
        );
      }
      if (typeof description !== 'string' || description.length > RELAUNCH_DESCRIPTION_LIMIT) {
        throw new Error(
          `in setRelaunchData: Description for ${JSON.stringify(command)} must be a string of at most ${RELAUNCH_DESCRIPTION_LIMIT} characters`,
        );
      }
    }
    this._relaunch = { ...data };
  }
  getRelaunchData(): Record<string, string> {
    this.alive('getRelaunchData');
    return { ...this._relaunch };
  }

  exportAsync(settings?: ExportSettings): Promise<Uint8Array> {
    try {
      this.alive('exportAsync');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.world.exportNode(this, settings);
  }

  /** Depth-first list of this node and its descendants. */
  findAll(predicate?: (n: FakeNode) => boolean): FakeNode[] {
    this.alive('findAll');
    const out: FakeNode[] = [];
    const visit = (n: FakeNode) => {
      for (const k of n._kids) {
        if (!predicate || predicate(k)) out.push(k);
        visit(k);
      }
    };
    visit(this);
    return out;
  }

  _state(): NodeState {
    return {
      name: this._name,
      x: this._x,
      y: this._y,
      width: this._width,
      height: this._height,
      locked: this._locked,
      visible: this._visible,
      fills: this._fills,
      pluginData: new Map(this._pluginData),
      relaunch: { ...this._relaunch },
      parentId: this._parent ? this._parent.id : null,
      childIds: this._kids.map((k) => k.id),
    };
  }
  _restore(s: NodeState, registry: Map<string, FakeNode>): void {
    this._removed = false;
    this._name = s.name;
    this._x = s.x;
    this._y = s.y;
    this._width = s.width;
    this._height = s.height;
    this._locked = s.locked;
    this._visible = s.visible;
    this._fills = s.fills;
    this._pluginData = new Map(s.pluginData);
    this._relaunch = { ...s.relaunch };
    this._parent = s.parentId ? (registry.get(s.parentId) ?? null) : null;
    this._kids = s.childIds.map((id) => registry.get(id)!).filter(Boolean);
  }
}

/** Child list operations shared by pages, frames, components, instances and groups. */
function appendTo(parent: FakeNode, child: FakeNode, index: number): void {
  if (child._removed) throw new Error(`in appendChild: The node with id ${JSON.stringify(child.id)} does not exist`);
  if (parent.type === 'INSTANCE' || insideInstance(parent)) {
    throw new Error('in appendChild: Cannot move node. New parent is an instance or is inside of an instance');
  }
  for (let p: FakeNode | null = parent; p; p = p._parent) {
    if (p === child) throw new Error('in appendChild: Cannot move node. A node cannot be its own ancestor');
  }
  if (child._parent) child._parent._kids = child._parent._kids.filter((k) => k !== child);
  const at = Math.max(0, Math.min(index, parent._kids.length));
  parent._kids.splice(at, 0, child);
  child._parent = parent;
  parent.world.touch();
}
function insideInstance(n: FakeNode): boolean {
  for (let p = n._parent; p; p = p._parent) if (p.type === 'INSTANCE') return true;
  return false;
}

export class FakeShapeNode extends FakeNode {
  get fills(): ReadonlyArray<Paint> | symbol {
    this.alive('get_fills');
    return this._fills ?? [];
  }
  set fills(value: ReadonlyArray<Paint> | symbol) {
    this.write('set_fills');
    this._fills = normaliseFills(value, this.world.mixed);
  }
  /** The fills shown, top paint last (Figma paints the array bottom to top). */
  _paints(): ReadonlyArray<Paint> {
    return typeof this._fills === 'symbol' || !this._fills ? [] : this._fills;
  }
}

export class FakeTextNode extends FakeShapeNode {
  protected _characters = '';
  get characters(): string {
    this.alive('get_characters');
    return this._characters;
  }
  set characters(v: string) {
    this.write('set_characters');
    this._characters = String(v);
  }
  /** Fake-only: style ranges with different fills make `fills` read as figma.mixed. */
  __setMixedFills(): void {
    this._fills = this.world.mixed;
  }
}

export class FakeFrameNode extends FakeShapeNode {
  get children(): ReadonlyArray<FakeNode> {
    this.alive('get_children');
    return Object.freeze(this._kids.slice());
  }
  appendChild(child: FakeNode): void {
    this.write('appendChild');
    appendTo(this, child, this._kids.length);
  }
  insertChild(index: number, child: FakeNode): void {
    this.write('insertChild');
    appendTo(this, child, index);
  }
}

export class FakeComponentNode extends FakeFrameNode {
  createInstance(): FakeFrameNode {
    this.alive('createInstance');
    const instance = new FakeFrameNode(this.world, 'INSTANCE', this._name);
    instance.resize(this._width, this._height);
    instance._fills = this._fills;
    if (this._parent) appendTo(this._parent, instance, this._parent._kids.length);
    return instance;
  }
}

export class FakeGroupNode extends FakeNode {
  get children(): ReadonlyArray<FakeNode> {
    this.alive('get_children');
    return Object.freeze(this._kids.slice());
  }
  appendChild(child: FakeNode): void {
    this.write('appendChild');
    appendTo(this, child, this._kids.length);
  }
}

export class FakePageNode extends FakeNode {
  _selection: FakeNode[] = [];
  constructor(world: FakeWorld, name: string, id?: string) {
    super(world, 'PAGE', name, id);
  }
  get children(): ReadonlyArray<FakeNode> {
    this.alive('get_children');
    return Object.freeze(this._kids.slice());
  }
  appendChild(child: FakeNode): void {
    this.write('appendChild');
    appendTo(this, child, this._kids.length);
  }
  insertChild(index: number, child: FakeNode): void {
    this.write('insertChild');
    appendTo(this, child, index);
  }
  /** Read-only: assign a new array to change it. Removed nodes drop out, as in Figma. */
  get selection(): ReadonlyArray<FakeNode> {
    this.alive('get_selection');
    return Object.freeze(this._selection.filter((n) => !n._removed));
  }
  set selection(nodes: ReadonlyArray<FakeNode>) {
    this.alive('set_selection');
    for (const n of nodes) {
      if (n._removed) throw new Error(`in set_selection: The node with id ${JSON.stringify(n.id)} does not exist`);
      let page: FakeNode | null = n._parent;
      while (page && page.type !== 'PAGE') page = page._parent;
      if (page !== this) throw new Error(`in set_selection: Node ${JSON.stringify(n.id)} is not on this page`);
    }
    this._selection = nodes.slice();
    this.world.onSelectionMaybeChanged();
  }
}

export class FakeDocumentNode extends FakeNode {
  constructor(world: FakeWorld) {
    super(world, 'DOCUMENT', 'Document', '0:0');
  }
  get children(): ReadonlyArray<FakeNode> {
    return Object.freeze(this._kids.slice());
  }
  appendChild(page: FakePageNode): void {
    appendTo(this, page, this._kids.length);
  }
}

export const FILLABLE_TYPES: FakeNodeType[] = ['FRAME', 'RECTANGLE', 'ELLIPSE', 'POLYGON', 'STAR', 'COMPONENT', 'INSTANCE', 'TEXT'];
