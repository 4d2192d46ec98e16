/**
 * Where a relative path on the command line points: the directory the user ran the command from.
 * `npm run generate` runs the script from the package root and keeps the user's directory in
 * INIT_CWD (https://docs.npmjs.com/cli/v11/commands/npm-run). INIT_CWD is inherited by
 * every process npm starts, so it is trusted only when npm started one of these tools itself —
 * a tool started by something else (a test under `npm test`) resolves against its own cwd.
 */
import path from 'node:path';

export function userDirectory(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const startedByNpmForUs = env.INIT_CWD !== undefined && (env.npm_lifecycle_script ?? '').includes('worker/cli/');
  return startedByNpmForUs ? env.INIT_CWD! : cwd;
}

/** `file` as given on the command line, made absolute against the user's directory. */
export function resolveUserPath(file: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return path.resolve(userDirectory(env, cwd), file);
}

/** How to show an absolute path back to the user: relative to their directory when it is inside it. */
export function displayPath(absolute: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const relative = path.relative(userDirectory(env, cwd), absolute);
  if (relative === '') return '.';
  return !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : absolute;
}
