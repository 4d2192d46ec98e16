/**
 * How the command-line tools fail: one line on stderr in the user's words, and an exit status
 * that says what kind of failure it was — 2 for a wrong command line (fix the arguments), 1 for
 * everything else (a model, a file, the engine). Node's system errors (ENOENT, EACCES, …) never
 * reach the user raw: they become a sentence naming the path.
 */
import { displayPath } from './user-paths.js';

/** A wrong command line: the message says which argument and what would be right. Exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const SYSTEM_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  ENOSPC: 'the disk is full',
  EROFS: 'the file system is read-only',
  EEXIST: 'already exists',
};

/** The error as one line for the user. */
export function describeCliError(error: unknown): string {
  const system = error as { code?: unknown; path?: unknown; message?: unknown };
  if (typeof system?.code === 'string' && SYSTEM_ERRORS[system.code]) {
    return typeof system.path === 'string' ? `${displayPath(system.path)}: ${SYSTEM_ERRORS[system.code]}` : SYSTEM_ERRORS[system.code];
  }
  // The engine's "[code] " prefix is for programs (engineErrorCodeOf); people read the sentence.
  return (error instanceof Error ? error.message : String(error)).replace(/^\[[a-z-]+\] /, '');
}

/**
 * Runs a tool's main function: on failure prints "<tool>: <message>" (and, for a wrong command
 * line, where to find the usage) and sets the exit status: 2 for a wrong command line,
 * `failureStatus` for anything else (tools whose 1 already means a result, like parity, pass 3).
 */
export function runCli(tool: string, main: () => Promise<void>, failureStatus = 1): void {
  main().catch((error: unknown) => {
    const usage = error instanceof UsageError;
    process.stderr.write(`${tool}: ${describeCliError(error)}\n${usage ? `Run "npm run ${tool} -- --help" for the options.\n` : ''}`);
    process.exitCode = usage ? 2 : failureStatus;
  });
}
