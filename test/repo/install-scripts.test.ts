/**
 * Every installed package with an install script is declared in package.json's allowScripts
 * (allowed or denied), so `npm ci` has nothing to warn about and nothing runs unreviewed.
 * A new dependency with an install script fails here until someone decides about it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../fixture-paths.js';

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];

/** name@version of every package under node_modules (nested ones too) that npm would run a script for. */
function packagesWithInstallScripts(modules: string, found = new Set<string>()): Set<string> {
  if (!existsSync(modules)) return found;
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue;
    const folders = entry.startsWith('@') ? readdirSync(path.join(modules, entry)).map((name) => path.join(entry, name)) : [entry];
    for (const folder of folders) {
      const dir = path.join(modules, folder);
      const manifestPath = path.join(dir, 'package.json');
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
        name: string;
        version: string;
        scripts?: Record<string, string>;
      };
      const scripts = Object.keys(manifest.scripts ?? {});
      // npm runs `node-gyp rebuild` for a binding.gyp package that declares no install script.
      if (scripts.some((name) => INSTALL_SCRIPTS.includes(name)) || existsSync(path.join(dir, 'binding.gyp')))
        found.add(`${manifest.name}@${manifest.version}`);
      packagesWithInstallScripts(path.join(dir, 'node_modules'), found);
    }
  }
  return found;
}

test('every package with an install script is allowed or denied in allowScripts', () => {
  const { allowScripts = {} } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    allowScripts?: Record<string, boolean>;
  };
  const declared = (id: string) => {
    const name = id.slice(0, id.lastIndexOf('@'));
    return id in allowScripts || name in allowScripts;
  };
  const found = [...packagesWithInstallScripts(path.join(repoRoot, 'node_modules'))];
  expect(found.length).toBeGreaterThan(0);
  expect(found.filter((id) => !declared(id))).toEqual([]);
});

test('onnxruntime-node, whose script would download CUDA libraries, is denied', () => {
  const { allowScripts } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    allowScripts: Record<string, boolean>;
  };
  expect(allowScripts['onnxruntime-node']).toBe(false);
});
