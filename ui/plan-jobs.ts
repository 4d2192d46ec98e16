/**
 * Turns the jobs the main thread planned (target node, generation size, kind) into engine jobs
 * (prompt, seed, steps, ...), and a finished result back into the provenance record stored on the
 * node. Pure: the settings snapshot taken when the user clicked decides everything.
 *
 * Seeds (all uint32, wrapping):
 *  - fill / new frame: settings.seed + i for the i-th target of the batch, so filling three frames
 *    gives three different images and the batch is reproducible from one seed;
 *  - seed variation i: settings.seed + i, skipping the parent's own seed so no variation repeats it;
 *  - image variation i: settings.seed + i;
 *  - regenerate: the record's seed, exactly.
 */
import type { GenerationResult } from '../common/engine-types.js';
import type { PlannedJob } from '../common/protocol.js';
import { PROVENANCE_FORMAT, PROVENANCE_VERSION, type ProvenanceRecord } from '../common/provenance.js';
import type { EngineJob } from './job-queue.js';
import type { GenerationSettings } from './settings.js';

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

function labelFor(job: PlannedJob): string {
  return job.variationIndex === undefined ? job.nodeName : `${job.nodeName} · ${job.variationIndex + 1}`;
}

/**
 * One engine job per planned job, in plan order. `settings` is the snapshot taken when the user
 * asked (its seed already drawn or locked).
 */
export function engineJobsFromPlan(planned: readonly PlannedJob[], settings: GenerationSettings): EngineJob[] {
  let fillIndex = 0;
  return planned.map((job): EngineJob => {
    const common = { jobId: job.jobId, label: labelFor(job) };
    const size = { width: job.gen.width, height: job.gen.height };
    const fromSettings = {
      prompt: settings.prompt,
      negativePrompt: settings.negativePrompt,
      steps: settings.steps,
      guidance: settings.guidance,
    };
    switch (job.kind) {
      case 'regenerate': {
        const record = job.sourceRecord;
        if (!record) return { ...common, request: { ...fromSettings, ...size, seed: settings.seed } };
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
          return { ...common, request: { ...request, strength: record.strength }, sourceNodeId: record.parent.nodeId, parent: record.parent };
        }
        return { ...common, request };
      }
      case 'seed-variation': {
        const record = job.sourceRecord;
        const index = job.variationIndex ?? 0;
        const base = record
          ? { prompt: record.prompt, negativePrompt: record.negativePrompt, steps: record.steps, guidance: record.guidance }
          : fromSettings;
        const parent = job.parentNodeId !== undefined ? { nodeId: job.parentNodeId, ...(record ? { seed: record.seed } : {}) } : undefined;
        return {
          ...common,
          request: { ...base, ...size, seed: seedForVariation(settings.seed, index, record?.seed) },
          ...(parent ? { parent } : {}),
        };
      }
      case 'image-variation': {
        const record = job.sourceRecord;
        const index = job.variationIndex ?? 0;
        // With an empty prompt the source's own prompt describes it best.
        const prompt = settings.prompt.trim() === '' && record ? record.prompt : settings.prompt;
        const sourceNodeId = job.parentNodeId ?? job.nodeId ?? undefined;
        return {
          ...common,
          request: { ...fromSettings, prompt, ...size, seed: addSeed(settings.seed, index), strength: settings.strength },
          ...(sourceNodeId !== undefined
            ? { sourceNodeId, parent: { nodeId: sourceNodeId, ...(record ? { seed: record.seed } : {}) } }
            : {}),
        };
      }
      case 'fill':
      case 'new-frame':
      default: {
        const seed = addSeed(settings.seed, fillIndex++);
        return { ...common, request: { ...fromSettings, ...size, seed } };
      }
    }
  });
}

/** The record written on the node: the exact settings the engine reports it used. */
export function provenanceFor(job: EngineJob, result: GenerationResult, createdAt: Date): ProvenanceRecord {
  const used = result.settings;
  const record: ProvenanceRecord = {
    format: PROVENANCE_FORMAT,
    version: PROVENANCE_VERSION,
    prompt: used.prompt,
    negativePrompt: used.negativePrompt ?? '',
    seed: result.seed,
    steps: used.steps,
    guidance: used.guidance,
    width: result.width,
    height: result.height,
    model: { id: result.modelId, hash: result.modelHash },
    backend: result.backend,
    createdAt: createdAt.toISOString(),
  };
  if (used.hasInit && used.strength !== undefined) record.strength = used.strength;
  // Seed and image variations both name their parent; only image variations have a strength.
  if (job.parent) record.parent = { ...job.parent };
  if (used.shift !== undefined) record.shift = used.shift;
  return record;
}
