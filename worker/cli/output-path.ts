/**
 * The output file is checked before the model loads, so that a long generation is never lost to a
 * missing folder or a read-only file at the very end.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './cli-errors.js';
import { displayPath } from './user-paths.js';

/** Throws UsageError naming the path when `file` (absolute) cannot be written. */
export async function checkOutputPathAsync(file: string, flag = '--out'): Promise<void> {
  const shown = displayPath(file);
  const folder = path.dirname(file);
  const folderStat = await stat(folder).catch(() => undefined);
  if (!folderStat)
    throw new UsageError(`${flag} ${shown}: the folder ${displayPath(folder)} does not exist; create it first or write elsewhere`);
  if (!folderStat.isDirectory()) throw new UsageError(`${flag} ${shown}: ${displayPath(folder)} is a file, not a folder`);
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory())
    throw new UsageError(`${flag} ${shown}: that is a folder; name a file in it, e.g. ${displayPath(path.join(file, 'out.png'))}`);
  try {
    await access(existing ? file : folder, constants.W_OK);
  } catch {
    throw new UsageError(
      existing
        ? `${flag} ${shown}: the file exists and cannot be overwritten (permission denied)`
        : `${flag} ${shown}: cannot write in ${displayPath(folder)} (permission denied)`,
    );
  }
}
