/**
 * Turns whatever the engine threw into a code and a sentence a designer can act on.
 * Errors cross comlink as plain Errors (comlink keeps only name, message and stack), so the code
 * is read from a `code` property when it survived, else from the name or a "[code]" / "code:"
 * prefix in the message.
 */
import { ENGINE_ERROR_CODES, type EngineErrorCode } from '../../common/engine-types.js';

const PLAIN_LANGUAGE: Record<EngineErrorCode, string> = {
  'invalid-request': 'The settings were not accepted',
  'model-missing-file': 'The model package is missing a file',
  'model-corrupt': 'The model package is damaged',
  'model-mismatch': 'The model files do not belong together',
  'size-exceeds-gpu-limits': 'This size is too large for your graphics card; try a smaller frame or fewer steps',
  'gpu-device-lost': 'The graphics card stopped responding; try again, and reopen Flowfill if it keeps happening',
  cancelled: 'Cancelled',
  'storage-full': 'Not enough storage space for this model',
  'download-failed': 'The download did not complete',
  internal: 'Something went wrong inside the image engine',
};

export interface DescribedError {
  code: EngineErrorCode;
  /** One sentence for the panel; keeps the engine's own detail after a colon. */
  message: string;
}

function isEngineErrorCode(value: unknown): value is EngineErrorCode {
  return typeof value === 'string' && (ENGINE_ERROR_CODES as readonly string[]).includes(value);
}

/** "[model-corrupt] detail" (worker/engine/engine-error.ts) or "model-corrupt: detail". */
const CODE_PREFIX = /^\s*(?:\[([a-z0-9-]+)\]|([a-z0-9-]+):)\s*/;

function findCode(error: unknown, message: string): EngineErrorCode {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (isEngineErrorCode(code)) return code;
    const name = (error as { name?: unknown }).name;
    if (isEngineErrorCode(name)) return name;
  }
  const prefixed = CODE_PREFIX.exec(message);
  const prefixedCode = prefixed?.[1] ?? prefixed?.[2];
  if (isEngineErrorCode(prefixedCode)) return prefixedCode;
  if (/cancel|abort/i.test(message)) return 'cancelled';
  if (/device (was )?lost/i.test(message)) return 'gpu-device-lost';
  return 'internal';
}

export function describeEngineError(error: unknown): DescribedError {
  const raw =
    error instanceof Error
      ? error.message
      : typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string'
        ? (error as { message: string }).message
        : String(error);
  const code = findCode(error, raw);
  const prefixed = CODE_PREFIX.exec(raw);
  const hasCodePrefix = prefixed !== null && isEngineErrorCode(prefixed[1] ?? prefixed[2]);
  const detail = (hasCodePrefix ? raw.slice(prefixed[0].length) : raw).trim();
  const summary = PLAIN_LANGUAGE[code];
  const message = detail && detail !== summary && code !== 'cancelled' ? `${summary}: ${detail}` : summary;
  return { code, message };
}
