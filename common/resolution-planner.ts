/**
 * Generation-size planning: a frame of any size gets a generation size the model can
 * make — same aspect ratio (error < 1 % where the grid allows), both sides multiples of
 * `sizeMultiple`, area close to `nativeSize²`, no side beyond `maxSide` nor Figma's 4096 px limit.
 * The image is placed with scaleMode FILL, so the host scales it to the frame.
 *
 * Host-neutral and pure: the plugin's main thread plans jobs with it, the engine validates with it.
 */

import type { ModelInfo } from './engine-types.js';

/** Figma's largest image side, px. Nothing Flowfill makes may exceed it. */
export const MAX_IMAGE_SIDE = 4096;

/** Aspect error (relative) under which a planned size counts as "same aspect ratio". */
export const ASPECT_TOLERANCE = 0.01;

/**
 * How far from the native area a size may drift to keep the aspect within tolerance: an area
 * factor of 1.25 costs as much as a 1 % aspect error. On a fine grid (SD3: 64 cells a side) an
 * under-1 % size within 3 % of the native area always exists; on a coarse one (a 256 px model has
 * 16 cells) this stops the planner from tripling the area to win the last fraction of a percent.
 */
export const AREA_FACTOR = 1.25;

/** Beyond this enlargement (linear) a fill says that the image will look soft: 256 px filling over 2048 px. */
export const SOFT_ENLARGEMENT = 8;

/** Below this fraction of the native area an explicit size says that the model will make little of it. */
export const SMALL_AREA_FRACTION = 1 / 4;

/**
 * Under the tolerance, aspect error still counts a little, so an exact ratio beats a 0.9 % one at
 * nearly the same area (4:3 → 1152×864 rather than 1184×880), while the native area stays the aim.
 */
const IN_TOLERANCE_ASPECT_WEIGHT = 0.25;

/** The part of ModelInfo the planner needs (all in pixels). */
export type SizeGeometry = Pick<ModelInfo, 'nativeSize' | 'maxSide' | 'sizeMultiple'>;

export interface PlannedSize {
  width: number;
  height: number;
  /**
   * How far the image's shape is from the frame's: max(q, 1/q) − 1 with q = (width/height) /
   * (frameWidth/frameHeight), so a frame N× too wide and one N× too tall read the same.
   */
  aspectError: number;
  /** True when the model's grid (or the 4096 px limit) forced a compromise on aspect or area. */
  clamped: boolean;
  /** How much the host enlarges the image to fill the frame (scaleMode FILL): max of the two side ratios. */
  enlargement: number;
  /** A short plain sentence when something was compromised or the image will be enlarged a lot. */
  note?: string;
}

export interface ValidatedSize {
  width: number;
  height: number;
  /** True when the requested size was changed (rounded to the size multiple). */
  adjusted: boolean;
  /** Why it was changed, and whether it is far below the model's native area. */
  note?: string;
}

function checkDimension(field: string, value: number): void {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new RangeError(`${field} must be a number, got ${String(value)}`);
  }
  if (!Number.isFinite(value)) {
    throw new RangeError(`${field} must be finite, got ${value}; pass the frame's size in pixels, e.g. 1024`);
  }
  if (value <= 0) {
    throw new RangeError(`${field} must be greater than 0, got ${value}; pass the frame's size in pixels, e.g. 1024`);
  }
}

function checkGeometry(geometry: SizeGeometry): void {
  for (const key of ['nativeSize', 'maxSide', 'sizeMultiple'] as const) {
    const v = geometry[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new RangeError(`model geometry ${key} must be a positive integer, got ${String(v)}`);
    }
  }
  if (sideLimit(geometry) < geometry.sizeMultiple) {
    throw new RangeError(`model geometry allows no size: maxSide ${geometry.maxSide} is below sizeMultiple ${geometry.sizeMultiple}`);
  }
}

/** Largest allowed side: min(maxSide, 4096), rounded down to the size multiple. */
export function sideLimit(geometry: SizeGeometry): number {
  const m = geometry.sizeMultiple;
  return Math.floor(Math.min(geometry.maxSide, MAX_IMAGE_SIDE) / m) * m;
}

/**
 * Plans the generation size for a frame of `frameWidth × frameHeight` (any positive finite numbers,
 * e.g. Figma's fractional frame sizes).
 *
 * Among all sizes on the grid (multiples of sizeMultiple up to the side limit) it picks the lowest
 * score = w · (aspect error / 1 %) + |ln(area / nativeSize²)| / ln(AREA_FACTOR), with w = 0.25 under 1 %
 * and 1 beyond (ties: smaller aspect error, then smaller area): under 1 %, the native area matters most;
 * beyond 1 %, each percent of aspect error weighs like a ×1.25 change of area.
 */
export function planGenerationSize(frameWidth: number, frameHeight: number, geometry: SizeGeometry): PlannedSize {
  checkDimension('frame width', frameWidth);
  checkDimension('frame height', frameHeight);
  checkGeometry(geometry);
  const m = geometry.sizeMultiple;
  const limit = sideLimit(geometry);
  const ratio = frameWidth / frameHeight;
  const targetArea = geometry.nativeSize * geometry.nativeSize;
  if (!Number.isFinite(ratio) || ratio <= 0) {
    throw new RangeError(`frame aspect ratio ${frameWidth}/${frameHeight} is not representable; use sizes within 1e-300..1e300`);
  }

  interface Candidate {
    width: number;
    height: number;
    aspectError: number;
    areaError: number;
  }
  const candidates: Candidate[] = [];
  const consider = (width: number, height: number): void => {
    if (width < m || height < m || width > limit || height > limit) return;
    candidates.push({
      width,
      height,
      aspectError: aspectMismatch(width / height, ratio),
      areaError: Math.abs(Math.log((width * height) / targetArea)),
    });
  };
  // For each height on the grid, the widths just below and above the exact ratio; and the same with
  // the roles swapped so very wide and very tall frames both see their best neighbours.
  for (let height = m; height <= limit; height += m) {
    const exact = (height * ratio) / m;
    consider(Math.floor(exact) * m, height);
    consider(Math.ceil(exact) * m, height);
  }
  for (let width = m; width <= limit; width += m) {
    const exact = width / ratio / m;
    consider(width, Math.floor(exact) * m);
    consider(width, Math.ceil(exact) * m);
  }
  // A ratio beyond what the grid holds (e.g. 1000:1) leaves no neighbours: the extreme sizes remain.
  if (ratio >= 1) consider(limit, m);
  if (ratio <= 1) consider(m, limit);

  const score = (c: Candidate): number =>
    (c.aspectError < ASPECT_TOLERANCE ? IN_TOLERANCE_ASPECT_WEIGHT : 1) * (c.aspectError / ASPECT_TOLERANCE) +
    c.areaError / Math.log(AREA_FACTOR);
  candidates.sort((a, b) => score(a) - score(b) || a.aspectError - b.aspectError || a.width * a.height - b.width * b.height);
  const chosen = candidates[0];

  // Report a compromise when the ideal size (exact ratio at native area) is off the allowed range,
  // or when the aspect could not be kept within tolerance.
  const idealWidth = Math.sqrt(targetArea * ratio);
  const idealHeight = Math.sqrt(targetArea / ratio);
  const sideClamped = idealWidth > limit || idealHeight > limit || idealWidth < m || idealHeight < m;
  const aspectMissed = chosen.aspectError >= ASPECT_TOLERANCE;
  const clamped = sideClamped || aspectMissed;
  const enlargement = Math.max(frameWidth / chosen.width, frameHeight / chosen.height);
  const parts: string[] = [];
  if (aspectMissed) {
    // Whether the image is wider or narrower than the frame, in the frame's terms.
    const side = chosen.width / chosen.height > ratio ? 'taller' : 'wider';
    parts.push(
      chosen.aspectError >= 1
        ? `the frame is ${formatFactor(chosen.aspectError + 1)}× ${side} than the model can make; the fill crops the image`
        : `the frame is ${round(chosen.aspectError * 100, 1)}% ${side} than the closest size; the fill crops the image`,
    );
  } else if (sideClamped) {
    const areaPct = Math.round(((chosen.width * chosen.height) / targetArea) * 100);
    parts.push(`${areaPct}% of the model's native area, as its sides go from ${m} to ${limit} px`);
  }
  if (enlargement > SOFT_ENLARGEMENT) {
    parts.push(
      `enlarged ${formatFactor(enlargement)}× to fill the ${round(frameWidth, 0)}×${round(frameHeight, 0)} frame, it will look soft`,
    );
  }
  const note = parts.length > 0 ? `Generating ${chosen.width}×${chosen.height}: ${parts.join('; ')}.` : undefined;
  return { width: chosen.width, height: chosen.height, aspectError: chosen.aspectError, clamped, enlargement, ...(note ? { note } : {}) };
}

/** max(a/b, b/a) − 1: 0 for equal ratios, the same for a shape N× too wide as for one N× too tall. */
export function aspectMismatch(ratioA: number, ratioB: number): number {
  const q = ratioA / ratioB;
  return Math.max(q, 1 / q) - 1;
}

/** 125, 2.5, 1.3: whole numbers from 10 up, one decimal below. */
function formatFactor(factor: number): string {
  return factor >= 10 ? String(Math.round(factor)) : String(round(factor, 1));
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * Checks an explicit generation size for the engine. Sizes that are not multiples of sizeMultiple
 * are rounded to the nearest multiple (with a note), and a size far below the model's native area
 * says so; sizes that are not positive numbers, or beyond the model's grid or 4096 px, are errors
 * naming the field, the value and the largest allowed value.
 */
export function validateGenerationSize(width: number, height: number, geometry: SizeGeometry): ValidatedSize {
  checkGeometry(geometry);
  const m = geometry.sizeMultiple;
  const limit = sideLimit(geometry);
  const fields = [
    ['width', width],
    ['height', height],
  ] as const;
  for (const [field, value] of fields) {
    checkDimension(field, value);
    if (value > limit) {
      const why =
        limit === Math.floor(MAX_IMAGE_SIDE / m) * m && geometry.maxSide >= MAX_IMAGE_SIDE
          ? `Figma's ${MAX_IMAGE_SIDE} px image limit`
          : `this model's positional grid (maxSide ${geometry.maxSide} px)`;
      throw new RangeError(`${field} ${value} is larger than ${why}; the largest ${field} is ${limit}`);
    }
  }
  const snap = (v: number): number => Math.min(limit, Math.max(m, Math.round(v / m) * m));
  const w = snap(width);
  const h = snap(height);
  const notes: string[] = [];
  if (w !== width) notes.push(`width ${width} is not a multiple of ${m}; using ${w}`);
  if (h !== height) notes.push(`height ${height} is not a multiple of ${m}; using ${h}`);
  const area = (w * h) / geometry.nativeSize ** 2;
  if (area < SMALL_AREA_FRACTION) {
    const pct = area < 0.01 ? round(area * 100, 1) : Math.round(area * 100);
    notes.push(
      `${w}×${h} is far below the model's native ${geometry.nativeSize}×${geometry.nativeSize} (${pct}% of its area): expect little detail`,
    );
  }
  return { width: w, height: h, adjusted: w !== width || h !== height, ...(notes.length ? { note: notes.join('; ') } : {}) };
}
