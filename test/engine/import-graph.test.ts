/**
 * Dependency rules of the engine that the compiler cannot check (the per-context tsconfigs
 * already prove which platform APIs each part may use):
 * - no import cycles in worker/ and common/, type-only imports included;
 * - one module of the engine knows onnxruntime (ort-backend.ts); hosts pick the build;
 * - the engine imports nothing of Node, the CLI, the browser runtime glue or the plugin;
 * - the generic engine reaches model families only through the family list (load-model-package.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../fixture-paths.js';
import { findImportCycles, readImportGraph } from '../import-graph.js';

const graph = readImportGraph(repoRoot, ['worker', 'common']);
const engineModules = [...graph.imports.keys()].filter((file) => file.startsWith('worker/engine/'));

function importsOf(file: string): string[] {
  return graph.imports.get(file) ?? [];
}

test('the graph covers the engine (a check over an empty graph would pass for nothing)', () => {
  expect(engineModules).toEqual(
    expect.arrayContaining(['worker/engine/engine.ts', 'worker/engine/sd3/pipeline.ts', 'worker/engine/ort-backend.ts']),
  );
  expect(importsOf('worker/engine/sd3/pipeline.ts')).toContain('worker/engine/sd3/text-encoding.ts');
  expect([...graph.imports.values()].flat().filter((target) => target.endsWith('(unresolved)'))).toEqual([]);
});

test('worker/ and common/ have no import cycles', () => {
  expect(findImportCycles(graph).map((cycle) => cycle.join(' → '))).toEqual([]);
});

test('the cycle finder reports a cycle made of type-only imports', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowfill-cycle-'));
  try {
    writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b.js';\nexport interface A { b?: B }\n");
    writeFileSync(path.join(dir, 'b.ts'), "import { c } from './c.js';\nexport interface B { n: number }\nexport const d = c;\n");
    writeFileSync(path.join(dir, 'c.ts'), "export const c = 1;\nexport type A = import('./a.js').A;\n");
    expect(findImportCycles(readImportGraph(dir, ['.']))).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('only ort-backend.ts imports onnxruntime inside the engine', () => {
  const importers = engineModules.filter((file) => importsOf(file).some((target) => target.startsWith('onnxruntime')));
  expect(importers).toEqual(['worker/engine/ort-backend.ts']);
});

test('the engine imports no Node module, CLI, browser runtime glue or plugin code', () => {
  const offending = engineModules.flatMap((file) =>
    importsOf(file)
      .filter((target) => /^node:|^worker\/(cli|runtime|parity)\/|^(src|ui)\//.test(target))
      .map((target) => `${file} → ${target}`),
  );
  expect(offending).toEqual([]);
});

test('generic engine modules reach a model family only through the family list', () => {
  const generic = engineModules.filter((file) => !file.startsWith('worker/engine/sd3/'));
  const reaching = generic.filter((file) => importsOf(file).some((target) => target.startsWith('worker/engine/sd3/')));
  expect(reaching).toEqual(['worker/engine/load-model-package.ts']);
});
