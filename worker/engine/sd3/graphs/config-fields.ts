/**
 * Checked reads of config.json fields for the graph builders. Each failure is an EngineError
 * that names the file, the field, the value found and what Flowfill accepts, so a checkpoint
 * from an unexpected family stops before anything is built.
 */
import { EngineError } from '../../engine-error.js';

export class ConfigFields {
  private readonly json: Record<string, unknown>;

  constructor(
    json: unknown,
    /** The file as the user knows it, e.g. "transformer/config.json". */
    readonly path: string,
  ) {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new EngineError('model-corrupt', `${path} is not a JSON object`);
    }
    this.json = json as Record<string, unknown>;
  }

  fail(field: string, message: string): never {
    throw new EngineError('model-mismatch', `${this.path}: ${field} ${message}`);
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  raw(field: string): unknown {
    return this.json[field];
  }

  /** An integer in [min, max]; `fallback` when the field is absent or null (diffusers' default). */
  int(field: string, min: number, max = Number.MAX_SAFE_INTEGER, fallback?: number): number {
    const value = this.json[field] ?? fallback;
    if (value === undefined) this.fail(field, `is missing; it must be an integer from ${min} to ${max}`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(field, `is ${JSON.stringify(value)}; it must be an integer from ${min} to ${max}`);
    }
    return value;
  }

  /** A finite number; `fallback` when absent or null. */
  number(field: string, fallback?: number): number {
    const value = this.json[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(field, `is ${JSON.stringify(value)}; it must be a finite number`);
    return value;
  }

  /** A list of integers, each in [min, max]. */
  intList(field: string, min: number, max: number, fallback?: number[]): number[] {
    const value = this.json[field] ?? fallback;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max)) {
      this.fail(field, `is ${JSON.stringify(value)}; it must be a list of integers from ${min} to ${max}`);
    }
    return [...value] as number[];
  }

  bool(field: string, fallback: boolean): boolean {
    const value = this.json[field] ?? fallback;
    if (typeof value !== 'boolean') this.fail(field, `is ${JSON.stringify(value)}; it must be true or false`);
    return value;
  }

  /** One of `allowed` (null allowed when listed); `fallback` when absent. */
  oneOf<T extends string | null>(field: string, allowed: readonly T[], fallback: T): T {
    const value = field in this.json ? this.json[field] : fallback;
    if (!allowed.includes(value as T)) {
      this.fail(field, `is ${JSON.stringify(value)}; Flowfill builds ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    }
    return value as T;
  }

  /** `_class_name`, when present, must be `expected` (a FLUX or SDXL folder is refused here). */
  className(expected: string): void {
    const value = this.json._class_name;
    if (value !== undefined && value !== expected) {
      throw new EngineError('model-mismatch', `${this.path}: _class_name is ${JSON.stringify(value)}; Flowfill builds ${expected} here`);
    }
  }
}
