/**
 * The panel's generation settings: their shape, defaults, valid ranges and how a raw value from
 * an input field (or from storage written by an older version) becomes a valid setting.
 * Pure: no DOM, no engine.
 */

import type { BackendPreference, ModelInfo } from '../../common/engine-types.js';
import type { FillMode } from '../../common/host-rpc.js';

/** A type alias, not an interface, so it stays assignable to JsonValue (it is stored as JSON). */
export type GenerationSettings = {
  prompt: string;
  negativePrompt: string;
  /** Denoising steps, STEPS_RANGE. */
  steps: number;
  /** Classifier-free guidance scale, GUIDANCE_RANGE; 1 turns guidance off. */
  guidance: number;
  /**
   * Steps and guidance follow the active model's recommendation (withModelRecommendation) until the
   * designer sets either: models differ too much for one default (a guidance-distilled model runs at 1,
   * where CFG at 4.5 would burn its images; SD3 Medium wants 7).
   */
  samplingFromModel: boolean;
  /** uint32; the seed the next generation uses (for its first image). */
  seed: number;
  /** When locked the seed is reused; when unlocked a fresh one is drawn after each Generate. */
  seedLocked: boolean;
  /** Images per target when inserting, VARIATIONS_RANGE. */
  variations: number;
  /** Image-variation strength in (0, 1]: how much of the source is re-noised. */
  strength: number;
  /** Id from INSERT_SIZE_PRESETS, or 'custom'. */
  insertSize: string;
  customWidth: number;
  customHeight: number;
  fillMode: FillMode;
  /** Where the engine runs: 'auto' prefers WebGPU on a hardware adapter; a software one loses to WASM unless asked for. */
  compute: BackendPreference;
};

export interface NumberRange {
  min: number;
  max: number;
  step: number;
}

export const STEPS_RANGE: NumberRange = { min: 1, max: 100, step: 1 };
export const GUIDANCE_RANGE: NumberRange = { min: 1, max: 20, step: 0.5 };
export const VARIATIONS_RANGE: NumberRange = { min: 1, max: 8, step: 1 };
export const STRENGTH_RANGE: NumberRange = { min: 0.05, max: 1, step: 0.05 };
/** Custom insert sizes, pixels; Figma refuses images beyond 4096 on a side. */
export const CUSTOM_SIDE_RANGE: NumberRange = { min: 16, max: 4096, step: 1 };
export const UINT32_MAX = 0xffffffff;

/** A fresh uint32 seed from the platform's CSPRNG; generation noise itself is seeded, never random. */
export function drawRandomSeed(): number {
  const words = new Uint32Array(1);
  globalThis.crypto.getRandomValues(words);
  return words[0];
}

export function createDefaultSettings(seed: number = drawRandomSeed()): GenerationSettings {
  return {
    prompt: '',
    negativePrompt: '',
    steps: 20,
    guidance: 4.5,
    samplingFromModel: true,
    seed,
    seedLocked: false,
    variations: 1,
    strength: 0.6,
    insertSize: 'square',
    customWidth: 1024,
    customHeight: 1024,
    fillMode: 'replace',
    compute: 'auto',
  };
}

/** Clamps to the range and snaps to its step, counted from min; NaN gives the fallback. */
export function clampToRange(value: number, range: NumberRange, fallback: number): number {
  if (!Number.isFinite(value)) return fallback;
  const clamped = Math.min(range.max, Math.max(range.min, value));
  const snapped = range.min + Math.round((clamped - range.min) / range.step) * range.step;
  // Rounding to the step's decimals keeps 0.6 from becoming 0.6000000000000001.
  const decimals = (String(range.step).split('.')[1] ?? '').length;
  return Number(Math.min(range.max, snapped).toFixed(decimals));
}

/** Parses a seed typed by a user; returns undefined when it is not an integer in [0, 2^32-1]. */
export function parseSeed(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d{1,10}$/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return value <= UINT32_MAX ? value : undefined;
}

/**
 * Makes a full valid settings object from anything (an older stored version, a hand-edited value):
 * every field that is missing or invalid takes its default.
 */
export function normalizeSettings(raw: unknown, defaults: GenerationSettings = createDefaultSettings()): GenerationSettings {
  const source = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const text = (key: keyof GenerationSettings): string => {
    const value = source[key];
    return typeof value === 'string' ? value : (defaults[key] as string);
  };
  const num = (key: keyof GenerationSettings, range: NumberRange): number => {
    const value = source[key];
    return typeof value === 'number' ? clampToRange(value, range, defaults[key] as number) : (defaults[key] as number);
  };
  const seed = source.seed;
  const steps = num('steps', STEPS_RANGE);
  const guidance = num('guidance', GUIDANCE_RANGE);
  return {
    prompt: text('prompt'),
    negativePrompt: text('negativePrompt'),
    steps,
    guidance,
    // Stored by a version without the field: values other than the defaults were the designer's own.
    samplingFromModel:
      typeof source.samplingFromModel === 'boolean'
        ? source.samplingFromModel
        : steps === defaults.steps && guidance === defaults.guidance && defaults.samplingFromModel,
    seed: typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed <= UINT32_MAX ? seed : defaults.seed,
    seedLocked: typeof source.seedLocked === 'boolean' ? source.seedLocked : defaults.seedLocked,
    variations: num('variations', VARIATIONS_RANGE),
    strength: num('strength', STRENGTH_RANGE),
    insertSize: text('insertSize'),
    customWidth: num('customWidth', CUSTOM_SIDE_RANGE),
    customHeight: num('customHeight', CUSTOM_SIDE_RANGE),
    fillMode: source.fillMode === 'keep' || source.fillMode === 'replace' ? source.fillMode : defaults.fillMode,
    compute: source.compute === 'auto' || source.compute === 'webgpu' || source.compute === 'wasm' ? source.compute : defaults.compute,
  };
}

/** Steps and guidance as the model recommends (flowfill.json "recommended"), unless the designer has set them. */
export function withModelRecommendation(settings: GenerationSettings, recommended: ModelInfo['recommended']): GenerationSettings {
  if (!settings.samplingFromModel || !recommended) return settings;
  return {
    ...settings,
    steps: recommended.steps === undefined ? settings.steps : clampToRange(recommended.steps, STEPS_RANGE, settings.steps),
    guidance:
      recommended.guidance === undefined ? settings.guidance : clampToRange(recommended.guidance, GUIDANCE_RANGE, settings.guidance),
  };
}

/**
 * What the model recommends where the settings differ from it ("20 steps, guidance 1"), or undefined:
 * the values taking the recommendation would set (within the fields' ranges), so that taking it ends the advice.
 */
export function recommendationAdvice(settings: GenerationSettings, recommended: ModelInfo['recommended']): string | undefined {
  if (!recommended) return undefined;
  const target = withModelRecommendation({ ...settings, samplingFromModel: true }, recommended);
  const parts: string[] = [];
  if (target.steps !== settings.steps) parts.push(`${target.steps} steps`);
  if (target.guidance !== settings.guidance) parts.push(`guidance ${target.guidance}`);
  return parts.length ? parts.join(', ') : undefined;
}
