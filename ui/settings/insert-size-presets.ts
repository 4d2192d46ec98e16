/**
 * Sizes of the node Flowfill inserts when nothing is selected, in Figma canvas units. The
 * generation size is planned separately (common/resolution-planner) from the node's aspect
 * ratio; these only decide the frame on the canvas.
 */
import { CUSTOM_SIDE_RANGE, clampToRange, type GenerationSettings } from './settings.js';

export interface InsertSizePreset {
  id: string;
  label: string;
  width: number;
  height: number;
}

export const INSERT_SIZE_PRESETS: readonly InsertSizePreset[] = [
  { id: 'square', label: '1:1', width: 512, height: 512 },
  { id: 'landscape-4-3', label: '4:3', width: 640, height: 480 },
  { id: 'landscape-3-2', label: '3:2', width: 768, height: 512 },
  { id: 'wide-16-9', label: '16:9', width: 1024, height: 576 },
  { id: 'tall-9-16', label: '9:16', width: 576, height: 1024 },
];

export const CUSTOM_INSERT_SIZE_ID = 'custom';

/** The insert size the settings ask for; an unknown preset id falls back to the first preset. */
export function resolveInsertSize(settings: Pick<GenerationSettings, 'insertSize' | 'customWidth' | 'customHeight'>): {
  width: number;
  height: number;
} {
  if (settings.insertSize === CUSTOM_INSERT_SIZE_ID) {
    return {
      width: clampToRange(settings.customWidth, CUSTOM_SIDE_RANGE, 512),
      height: clampToRange(settings.customHeight, CUSTOM_SIDE_RANGE, 512),
    };
  }
  const preset = INSERT_SIZE_PRESETS.find((p) => p.id === settings.insertSize) ?? INSERT_SIZE_PRESETS[0];
  return { width: preset.width, height: preset.height };
}
