import { resolveInsertSize } from '../../../ui/settings/insert-size-presets.js';
import {
  STEPS_RANGE,
  STRENGTH_RANGE,
  clampToRange,
  createDefaultSettings,
  drawRandomSeed,
  normalizeSettings,
  parseSeed,
  recommendationAdvice,
  withModelRecommendation,
} from '../../../ui/settings/settings.js';
import { STYLE_PRESETS, isPresetActive, togglePreset } from '../../../ui/settings/style-presets.js';

const preset = (id: string) => STYLE_PRESETS.find((p) => p.id === id)!;

describe('settings', () => {
  test('clampToRange clamps, snaps to the step and falls back on NaN', () => {
    expect(clampToRange(0, STEPS_RANGE, 20)).toBe(1);
    expect(clampToRange(1e9, STEPS_RANGE, 20)).toBe(100);
    expect(clampToRange(12.6, STEPS_RANGE, 20)).toBe(13);
    expect(clampToRange(0.61, STRENGTH_RANGE, 0.5)).toBe(0.6);
    expect(clampToRange(Number.NaN, STEPS_RANGE, 20)).toBe(20);
  });

  test('parseSeed accepts only integers in [0, 2^32-1]', () => {
    expect(parseSeed(' 42 ')).toBe(42);
    expect(parseSeed('4294967295')).toBe(4294967295);
    expect(parseSeed('4294967296')).toBeUndefined();
    expect(parseSeed('-1')).toBeUndefined();
    expect(parseSeed('1.5')).toBeUndefined();
    expect(parseSeed('')).toBeUndefined();
  });

  test('random seeds come from crypto and are uint32', () => {
    const seeds = Array.from({ length: 50 }, drawRandomSeed);
    expect(seeds.every((s) => Number.isInteger(s) && s >= 0 && s <= 0xffffffff)).toBe(true);
    expect(new Set(seeds).size).toBeGreaterThan(45);
  });

  test('normalizeSettings repairs each bad field and keeps the good ones', () => {
    const defaults = createDefaultSettings(5);
    const repaired = normalizeSettings(
      { prompt: 'owl', steps: '12', guidance: 99, seed: -3, fillMode: 'keep', variations: 3.4, insertSize: 'custom' },
      defaults,
    );
    expect(repaired).toEqual({
      ...defaults,
      prompt: 'owl',
      guidance: 20,
      samplingFromModel: false,
      fillMode: 'keep',
      variations: 3,
      insertSize: 'custom',
    });
    expect(normalizeSettings(null, defaults)).toEqual(defaults);
  });

  test('steps and guidance follow the model’s recommendation, clamped, until the designer sets them', () => {
    const defaults = createDefaultSettings(1);
    expect(withModelRecommendation(defaults, { steps: 20, guidance: 1, shift: 6 })).toMatchObject({
      steps: 20,
      guidance: 1,
      samplingFromModel: true,
    });
    expect(withModelRecommendation(defaults, { steps: 28, guidance: 7 })).toMatchObject({ steps: 28, guidance: 7 });
    expect(withModelRecommendation(defaults, { guidance: 0.5 }).guidance).toBe(1); // GUIDANCE_RANGE's floor
    expect(withModelRecommendation(defaults, { steps: 500 })).toMatchObject({ steps: 100, guidance: 4.5 });
    expect(withModelRecommendation(defaults, undefined)).toBe(defaults);
    const chosen = { ...defaults, guidance: 3, samplingFromModel: false };
    expect(withModelRecommendation(chosen, { steps: 28, guidance: 7 })).toBe(chosen);
  });

  test('the advice names only what differs from the recommendation', () => {
    const settings = { ...createDefaultSettings(1), steps: 28, guidance: 3 };
    expect(recommendationAdvice(settings, { steps: 20, guidance: 1 })).toBe('20 steps, guidance 1');
    expect(recommendationAdvice(settings, { steps: 28, guidance: 1, shift: 6 })).toBe('guidance 1');
    expect(recommendationAdvice(settings, { steps: 28, guidance: 3 })).toBeUndefined();
    expect(recommendationAdvice(settings, undefined)).toBeUndefined();
    // A recommendation outside the fields' ranges is advised as taking it would set it, so taking it ends the advice.
    const over = recommendationAdvice(settings, { steps: STEPS_RANGE.max + 50 });
    expect(over).toBe(`${STEPS_RANGE.max} steps`);
    expect(recommendationAdvice({ ...settings, steps: STEPS_RANGE.max }, { steps: STEPS_RANGE.max + 50 })).toBeUndefined();
  });

  test('settings stored before samplingFromModel existed follow the model only if they held the defaults', () => {
    const defaults = createDefaultSettings(1);
    expect(normalizeSettings({ steps: 20, guidance: 4.5 }, defaults).samplingFromModel).toBe(true);
    expect(normalizeSettings({ steps: 30, guidance: 4.5 }, defaults).samplingFromModel).toBe(false);
    expect(normalizeSettings({ steps: 20, guidance: 6 }, defaults).samplingFromModel).toBe(false);
    expect(normalizeSettings({ steps: 30, guidance: 6, samplingFromModel: true }, defaults).samplingFromModel).toBe(true);
    expect(normalizeSettings({ samplingFromModel: 'yes' }, defaults).samplingFromModel).toBe(true);
  });

  test('insert size presets and custom sizes (clamped to Figma’s 4096 limit)', () => {
    const defaults = createDefaultSettings(1);
    expect(resolveInsertSize({ ...defaults, insertSize: 'tall-9-16' })).toEqual({ width: 576, height: 1024 });
    expect(resolveInsertSize({ ...defaults, insertSize: 'custom', customWidth: 9000, customHeight: 300 })).toEqual({
      width: 4096,
      height: 300,
    });
    expect(resolveInsertSize({ ...defaults, insertSize: 'no-such-preset' })).toEqual({ width: 512, height: 512 });
  });
});

describe('style presets', () => {
  test('toggling adds the visible text, and toggling again removes it', () => {
    const once = togglePreset('rocket', preset('flat'));
    expect(once).toBe('rocket, flat style');
    expect(isPresetActive(once, preset('flat'))).toBe(true);
    expect(togglePreset(once, preset('flat'))).toBe('rocket');
  });

  test('a preset replaces the other presets of its group and keeps the user’s words', () => {
    const prompt = 'rocket, flat style, on a teal background, shiny';
    expect(togglePreset(prompt, preset('modern'))).toBe('rocket, on a teal background, shiny, modern style');
    expect(togglePreset(prompt, preset('bg-white'))).toBe('rocket, flat style, shiny, on a white background');
  });

  test('matching ignores case and spacing around commas', () => {
    expect(isPresetActive('rocket ,  Flat Style', preset('flat'))).toBe(true);
    expect(isPresetActive('rocket, flat styles', preset('flat'))).toBe(false);
  });
});
