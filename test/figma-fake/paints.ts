/**
 * Paint validation and freezing. Figma hands out fills as frozen arrays of frozen paints ("all the
 * properties in those objects [are] readonly"): code must build a new array and assign it whole.
 * Assigning checks every paint and rejects unknown keys, as Figma's setter does.
 */

const PAINT_TYPES = ['SOLID', 'IMAGE', 'GRADIENT_LINEAR', 'GRADIENT_RADIAL', 'GRADIENT_ANGULAR', 'GRADIENT_DIAMOND', 'VIDEO', 'PATTERN'];
const SCALE_MODES = ['FILL', 'FIT', 'CROP', 'TILE'];
const COMMON_KEYS = ['type', 'visible', 'opacity', 'blendMode', 'boundVariables'];
const KEYS_BY_TYPE: Record<string, string[]> = {
  SOLID: [...COMMON_KEYS, 'color'],
  IMAGE: [...COMMON_KEYS, 'scaleMode', 'imageHash', 'imageTransform', 'scalingFactor', 'rotation', 'filters'],
};

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map(deepCopy) as unknown as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = deepCopy((value as Record<string, unknown>)[key]);
    return out as T;
  }
  return value;
}

function unit(field: string, v: unknown): void {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1))
    throw new Error(`in set_fills: Expected "${field}" to be a number in [0, 1], got ${String(v)}`);
}

/** Validates a fills value, returns the frozen copy Figma would store (defaults filled in). */
export function normaliseFills(value: unknown, mixed: symbol): ReadonlyArray<Paint> {
  if (value === mixed) throw new Error('in set_fills: Cannot set fills to figma.mixed');
  if (!Array.isArray(value)) throw new Error(`in set_fills: Expected an array of paints, got ${typeof value}`);
  const out = value.map((paint, i) => {
    if (!paint || typeof paint !== 'object') throw new Error(`in set_fills: Expected fills[${i}] to be a paint object`);
    const p = deepCopy(paint) as Record<string, unknown>;
    if (typeof p.type !== 'string' || !PAINT_TYPES.includes(p.type)) {
      throw new Error(`in set_fills: Invalid fills[${i}].type ${JSON.stringify(p.type)}; expected one of ${PAINT_TYPES.join(', ')}`);
    }
    const allowed = KEYS_BY_TYPE[p.type];
    if (allowed) {
      const unknown = Object.keys(p).filter((k) => !allowed.includes(k));
      if (unknown.length) throw new Error(`in set_fills: Unrecognized key(s) in object: ${unknown.map((k) => `'${k}'`).join(', ')}`);
    }
    if (p.type === 'SOLID') {
      const c = p.color as Record<string, unknown> | undefined;
      if (!c || typeof c !== 'object') throw new Error(`in set_fills: fills[${i}].color is required for SOLID paints`);
      unit(`fills[${i}].color.r`, c.r);
      unit(`fills[${i}].color.g`, c.g);
      unit(`fills[${i}].color.b`, c.b);
    }
    if (p.type === 'IMAGE') {
      if (typeof p.scaleMode !== 'string' || !SCALE_MODES.includes(p.scaleMode)) {
        throw new Error(
          `in set_fills: Invalid fills[${i}].scaleMode ${JSON.stringify(p.scaleMode)}; expected one of ${SCALE_MODES.join(', ')}`,
        );
      }
      if (p.imageHash !== null && typeof p.imageHash !== 'string')
        throw new Error(`in set_fills: fills[${i}].imageHash must be a string or null`);
    }
    if (p.opacity !== undefined) unit(`fills[${i}].opacity`, p.opacity);
    if (p.visible !== undefined && typeof p.visible !== 'boolean') throw new Error(`in set_fills: fills[${i}].visible must be a boolean`);
    return { visible: true, opacity: 1, blendMode: 'NORMAL', ...p };
  });
  return deepFreeze(out) as unknown as ReadonlyArray<Paint>;
}
