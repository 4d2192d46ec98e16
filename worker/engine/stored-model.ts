/**
 * The seam for models a host keeps itself (the browser worker's model store, in OPFS). The engine
 * never knows where they live: the host registers an opener that turns a stored model's id into
 * the package's files. Hosts without a store (the Node CLI) register nothing, and loading a
 * 'stored' source says so.
 */
import { EngineError } from './engine-error.js';
import type { PackageFiles } from './package-source.js';

export type StoredPackageOpener = (id: string) => Promise<PackageFiles>;

let opener: StoredPackageOpener | undefined;

export function setStoredPackageOpener(next: StoredPackageOpener | undefined): void {
  opener = next;
}

export async function openStoredPackageAsync(id: string): Promise<PackageFiles> {
  if (!opener) {
    throw new EngineError('invalid-request', `stored model "${id}" cannot be opened: this host has no model store; load from a folder or a URL instead`);
  }
  return opener(id);
}
