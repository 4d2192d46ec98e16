/**
 * flowfill.json: what the Hugging Face layouts lack, for any model family — a display name, a
 * licence, the sha256 and size of every file, settings the model's authors recommend. A family
 * may read more fields of its own (SD3: latent→RGB preview factors, the T5 block length).
 */
import { EngineError } from './engine-error.js';
import { readPromptVocabulary } from './prompt-vocabulary.js';
import { isSha256Hex } from './sha256-stream.js';

export interface FlowfillManifest {
  name?: string;
  licence?: string;
  attribution?: string;
  files?: Record<string, { sha256?: string; bytes?: number }>;
  /** Default settings for this model: steps, guidance, shift. */
  recommended?: { steps?: number; guidance?: number; shift?: number };
  /** Earlier packages of the same weights this one replaces (ModelInfo.supersedes). */
  supersedes?: SupersededPackage[];
  /** What the model was trained to draw (./prompt-vocabulary.ts reads it). */
  vocabulary?: unknown;
}

export interface SupersededPackage {
  /** The earlier package's hash (ModelInfo.hash). */
  hash: string;
  /** Its id then, for people reading the file. */
  id?: string;
  /** What changed, in words. */
  why?: string;
}

/** Refuses manifest fields of the wrong type, naming the field. */
export function checkManifest<T extends Record<string, unknown>>(manifest: T): T & FlowfillManifest {
  for (const key of ['name', 'licence', 'attribution'] as const) {
    if (manifest[key] !== undefined && typeof manifest[key] !== 'string') {
      throw new EngineError('model-mismatch', `flowfill.json: ${key} is ${JSON.stringify(manifest[key])}; expected a string`);
    }
  }
  const recommended = manifest.recommended ?? {};
  if (typeof recommended !== 'object' || recommended === null) {
    throw new EngineError(
      'model-mismatch',
      `flowfill.json: recommended is ${JSON.stringify(recommended)}; expected an object such as {"steps": 28, "guidance": 7}`,
    );
  }
  for (const [key, value] of Object.entries(recommended)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new EngineError(
        'model-mismatch',
        `flowfill.json: recommended.${key} is ${JSON.stringify(value)}; expected a non-negative number`,
      );
    }
  }
  const supersedes = manifest.supersedes;
  if (supersedes !== undefined) {
    if (!Array.isArray(supersedes)) {
      throw new EngineError('model-mismatch', `flowfill.json: supersedes is ${JSON.stringify(supersedes)}; expected a list`);
    }
    supersedes.forEach((entry: unknown, i) => {
      const hash = typeof entry === 'object' && entry !== null ? (entry as { hash?: unknown }).hash : undefined;
      if (!isSha256Hex(hash)) {
        throw new EngineError(
          'model-mismatch',
          `flowfill.json: supersedes[${i}] is ${JSON.stringify(entry)}; expected {"hash": "<64 hex digits of the earlier package's hash>"}`,
        );
      }
    });
  }
  if (manifest.vocabulary !== undefined) readPromptVocabulary(manifest.vocabulary);
  return manifest as T & FlowfillManifest;
}

/** A package's display name and id: flowfill.json's name, else model_index.json's _name_or_path. */
export function packageIdentity(
  manifest: FlowfillManifest | undefined,
  modelIndex: Record<string, unknown>,
  hash: string,
  fallbackName: string,
): { id: string; name: string } {
  const name = manifest?.name ?? (typeof modelIndex._name_or_path === 'string' ? modelIndex._name_or_path : fallbackName);
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'model';
  return { id: `${slug}-${hash.slice(0, 12)}`, name };
}
