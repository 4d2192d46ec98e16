/** The record written on the layer: the exact settings the engine reports it used. */
import type { GenerationResult } from '../../common/engine-types.js';
import { PROVENANCE_FORMAT, PROVENANCE_VERSION, type ProvenanceRecord } from '../../common/provenance.js';
import type { Job } from './job.js';

export function provenanceFor(job: Pick<Job, 'parent'>, result: GenerationResult, createdAt: Date): ProvenanceRecord {
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
