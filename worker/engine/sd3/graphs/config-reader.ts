/**
 * Reads fields of a component's config.json for the graph builders: each getter checks the value
 * and throws an EngineError that names the file, the field, the value found and what is accepted
 * ("text_encoder_2/config.json: hidden_act is "relu"; Flowfill builds gelu, quick_gelu").
 * Defaults are the library's own (transformers/diffusers) where a field may be absent.
 */
import { EngineError } from '../../engine-error.js';

export class ConfigReader {
  private readonly fields: Record<string, unknown>;

  /** @param path the config's path in the model folder, for messages ("text_encoder/config.json"). */
  constructor(
    json: unknown,
    readonly path: string,
  ) {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new EngineError('model-mismatch', `${path} is ${json === null ? 'null' : typeof json}; expected a JSON object`);
    }
    this.fields = json as Record<string, unknown>;
  }

  /** An integer in [min, max]; `fallback` when the field is absent (required when no fallback). */
  integer(field: string, options: { min?: number; max?: number; fallback?: number } = {}): number {
    const { min = 1, max = Number.MAX_SAFE_INTEGER, fallback } = options;
    const value = this.fields[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer in ${min}..${max}`;
      this.fail(field, `expected ${range}`);
    }
    return value;
  }

  /** A finite number > 0; `fallback` when absent. */
  positiveNumber(field: string, fallback?: number): number {
    const value = this.fields[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) this.fail(field, 'expected a number > 0');
    return value;
  }

  /** One of `choices`; `fallback` when absent. */
  choice<T extends string>(field: string, choices: readonly T[], fallback?: T): T {
    const value = this.fields[field] ?? fallback;
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(field, `Flowfill builds ${choices.join(', ')}`);
    }
    return value as T;
  }

  /** Throws the error for `field` with its current value and `expectation`. */
  fail(field: string, expectation: string): never {
    const value = this.fields[field];
    const shown = value === undefined ? 'missing' : `${JSON.stringify(value)}`;
    throw new EngineError('model-mismatch', `${this.path}: ${field} is ${shown}; ${expectation}`);
  }
}
