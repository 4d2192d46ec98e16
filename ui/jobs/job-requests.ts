/**
 * The engine request of each planned image, from the settings snapshot taken when the user asked
 * (or, to regenerate, from the record on the layer). Pure.
 *
 * Seeds (all uint32, wrapping):
 *  - fill / new frame: settings.seed + i for the i-th image of the batch, so filling three frames
 *    gives three different images and the batch is reproducible from one seed;
 *  - seed variation i: settings.seed + i, skipping the parent's own seed so no variation repeats it;
 *  - image variation i: settings.seed + i;
 *  - regenerate: the record's seed, exactly.
 */
import type { GenerationRequest } from '../../common/engine-types.js';
import type { ProvenanceParent, ProvenanceRecord } from '../../common/provenance.js';
import type { GenerationSettings } from '../settings/settings.js';
import type { JobKind } from './job.js';

const UINT32_SPAN = 0x1_0000_0000;

function addSeed(base: number, offset: number): number {
  return (base + offset) % UINT32_SPAN;
}

/** The seed of variation `index`, stepping over the parent's seed so variation 0 is never the parent again. */
export function seedForVariation(base: number, index: number, parentSeed?: number): number {
  if (parentSeed === undefined) return addSeed(base, index);
  const parentOffset = (parentSeed - base + UINT32_SPAN) % UINT32_SPAN;
  return addSeed(base, index >= parentOffset ? index + 1 : index);
}

/** One image the planner decided on: where it goes and at what generation size. */
export interface PlannedImage {
  kind: JobKind;
  /** Variations: the layer they vary. */
  variesNodeId?: string;
  width: number;
  height: number;
  /** Variations: 0-based index in the row. */
  variationIndex?: number;
  /** Regenerate: the record to reproduce. Variations: the source's record, when it has one. */
  sourceRecord?: ProvenanceRecord;
}

export interface ImageRequest {
  request: Omit<GenerationRequest, 'jobId' | 'init'>;
  /** Image variations (and regenerating one): the layer whose pixels start the image. */
  sourceNodeId?: string;
  parent?: ProvenanceParent;
}

/** One request per planned image, in order. `settings` is the snapshot taken when the user asked. */
export function imageRequests(planned: readonly PlannedImage[], settings: GenerationSettings): ImageRequest[] {
  let fillIndex = 0;
  const fromSettings = {
    prompt: settings.prompt,
    negativePrompt: settings.negativePrompt,
    steps: settings.steps,
    guidance: settings.guidance,
  };
  return planned.map((image): ImageRequest => {
    const size = { width: image.width, height: image.height };
    const record = image.sourceRecord;
    const parent: ProvenanceParent | undefined =
      image.variesNodeId === undefined
        ? undefined
        : record
          ? { nodeId: image.variesNodeId, seed: record.seed }
          : { nodeId: image.variesNodeId };
    switch (image.kind) {
      case 'regenerate': {
        if (!record) return { request: { ...fromSettings, ...size, seed: settings.seed } };
        const request = {
          prompt: record.prompt,
          negativePrompt: record.negativePrompt,
          steps: record.steps,
          guidance: record.guidance,
          seed: record.seed,
          ...size,
          ...(record.shift !== undefined ? { shift: record.shift } : {}),
        };
        // An image variation is reproduced from its parent's current pixels, at the same strength.
        if (record.strength !== undefined && record.parent) {
          return { request: { ...request, strength: record.strength }, sourceNodeId: record.parent.nodeId, parent: { ...record.parent } };
        }
        return { request };
      }
      case 'seed-variation': {
        const base = record
          ? { prompt: record.prompt, negativePrompt: record.negativePrompt, steps: record.steps, guidance: record.guidance }
          : fromSettings;
        return {
          request: { ...base, ...size, seed: seedForVariation(settings.seed, image.variationIndex ?? 0, record?.seed) },
          ...(parent ? { parent } : {}),
        };
      }
      case 'image-variation': {
        // With an empty prompt the source's own prompt describes it best.
        const prompt = settings.prompt.trim() === '' && record ? record.prompt : settings.prompt;
        return {
          request: {
            ...fromSettings,
            prompt,
            ...size,
            seed: addSeed(settings.seed, image.variationIndex ?? 0),
            strength: settings.strength,
          },
          ...(parent ? { sourceNodeId: parent.nodeId, parent } : {}),
        };
      }
      case 'fill':
      case 'new-frame':
        return { request: { ...fromSettings, ...size, seed: addSeed(settings.seed, fillIndex++) } };
    }
  });
}
