import { ENGINE_ERROR_CODES, type EngineErrorCode } from '../../common/engine-types.js';

/**
 * The one error type the engine throws. `code` lets a host show a plain-language message;
 * the message itself names the field or file, the value, and a valid alternative.
 *
 * The code is also written at the start of the message ("[model-corrupt] …") because comlink
 * serialises thrown errors as { name, message, stack } only: the UI can recover the code with
 * `engineErrorCodeOf` even when the class and its fields did not survive the trip.
 */
export class EngineError extends Error {
  readonly code: EngineErrorCode;

  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(`[${code}] ${message}`, options);
    this.name = 'EngineError';
    this.code = code;
  }
}

/** The EngineErrorCode of an error, also after a structured-clone trip; 'internal' for anything else. */
export function engineErrorCodeOf(error: unknown): EngineErrorCode {
  if (error instanceof EngineError) return error.code;
  const message = error instanceof Error ? error.message : String(error);
  const match = /^\[([a-z-]+)\]/.exec(message);
  const code = match?.[1] as EngineErrorCode | undefined;
  return code && (ENGINE_ERROR_CODES as readonly string[]).includes(code) ? code : 'internal';
}
