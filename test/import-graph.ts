/**
 * The import graph of the repository's TypeScript, for dependency rules the compiler cannot check
 * (no cycles; which modules may import onnxruntime). Edges come from TypeScript's own
 * `preProcessFile`, so type-only imports (`import type`, `typeof import('x')`) count: a cycle made
 * only of types still ties modules together for a reader, though a bundler erases it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface ImportGraph {
  /** Repository-relative path of each module → the specifiers it imports, resolved to repository-relative paths when relative. */
  imports: Map<string, string[]>;
}

function listTypeScript(root: string, dir: string, out: string[]): void {
  for (const name of readdirSync(path.join(root, dir))) {
    const rel = path.posix.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) listTypeScript(root, rel, out);
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(rel);
  }
}

/** `./x.js` from `dir/a.ts` → `dir/x.ts` (or .tsx, or dir/x/index.ts); bare specifiers stay as they are. */
function resolve(root: string, from: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier)).replace(/\.(m?js|tsx?)$/, '');
  for (const candidate of [`${base}.ts`, `${base}.tsx`, `${base}/index.ts`]) {
    try {
      if (statSync(path.join(root, candidate)).isFile()) return candidate;
    } catch {
      // try the next form
    }
  }
  return `${base} (unresolved)`;
}

/** Every .ts/.tsx file under `folders` (relative to `root`) and what it imports. */
export function readImportGraph(root: string, folders: string[]): ImportGraph {
  const files: string[] = [];
  for (const folder of folders) listTypeScript(root, folder, files);
  const imports = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(path.join(root, file), 'utf8'), true, true);
    imports.set(file, [...new Set(info.importedFiles.map((entry) => resolve(root, file, entry.fileName)))]);
  }
  return { imports };
}

/** Each import cycle once, as the list of modules around it (first module repeated at the end). */
export function findImportCycles(graph: ImportGraph): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.imports.get(file) ?? []) {
      if (!graph.imports.has(next)) continue;
      if (state.get(next) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        const key = [...cycle.slice(0, -1)].sort().join(' ');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...graph.imports.keys()].sort()) if (!state.has(file)) visit(file);
  return cycles;
}
