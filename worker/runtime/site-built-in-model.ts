/**
 * The hosted site's built-in model: its files sit under model/ beside the worker, listed with their
 * sizes in model/files.json (written by scripts/build.mjs). Shared by the site's engine worker and
 * the benchmark page's worker.
 */
import { EngineError } from '../engine/engine-error.js';

/** The built-in model's file list, written by the build next to the model's files. */
export const BUILT_IN_LIST = 'model/files.json';

export interface SiteBuiltInModel {
  /** The listed files, or undefined when the site has no built-in model. */
  list: Promise<{ path: string; size: number }[] | undefined>;
  /** Every listed file's bytes (an embedded-model provider); EngineError naming the file that is wrong. */
  filesAsync(): Promise<Record<string, Uint8Array>>;
}

export function siteBuiltInModel(workerUrl: string): SiteBuiltInModel {
  const list: SiteBuiltInModel['list'] = fetch(new URL(BUILT_IN_LIST, workerUrl))
    .then(async (response) => (response.ok ? ((await response.json()) as { files: { path: string; size: number }[] }).files : undefined))
    .catch(() => undefined);
  const filesAsync = async (): Promise<Record<string, Uint8Array>> => {
    const files = await list;
    if (!files)
      throw new EngineError(
        'model-missing-file',
        `this site has no built-in model (${BUILT_IN_LIST} is missing); add a model from a folder or a URL`,
      );
    const bytes: Record<string, Uint8Array> = {};
    await Promise.all(
      files.map(async ({ path, size }) => {
        const url = new URL(`model/${path}`, workerUrl);
        const response = await fetch(url);
        if (!response.ok)
          throw new EngineError('model-missing-file', `the built-in model's ${path} answered HTTP ${response.status} at ${url}`);
        const data = new Uint8Array(await response.arrayBuffer());
        if (data.byteLength !== size)
          throw new EngineError(
            'model-corrupt',
            `the built-in model's ${path} has ${data.byteLength} bytes; ${BUILT_IN_LIST} says ${size}`,
          );
        bytes[path] = data;
      }),
    );
    return bytes;
  };
  return { list, filesAsync };
}
