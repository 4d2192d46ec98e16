import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './golden.js';

// These modules must run unchanged in Node, a browser worker and the CLI: no ORT, no DOM, no
// unseeded randomness (DESIGN §2.2 determinism; team rule: never Math.random in worker/).
const modules = [
  'worker/engine/flow-match-euler.ts',
  'worker/engine/guidance.ts',
  'worker/engine/pos-embed.ts',
  'worker/engine/prng.ts',
  'worker/engine/png.ts',
  'worker/engine/image-convert.ts',
  'worker/engine/latent-preview.ts',
  'worker/engine/latent-shape.ts',
  'worker/engine/text-embeddings.ts',
  'worker/engine/tokenize.ts',
  'common/resolution-planner.ts',
];

describe('engine-core modules are host-neutral', () => {
  test.each(modules)('%s', (file) => {
    const source = fs.readFileSync(path.join(repoRoot, file), 'utf8');
    const imports = [...source.matchAll(/^import\s[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
    for (const spec of imports) expect(['fast-png', '@huggingface/tokenizers'].includes(spec) || spec.startsWith('./')).toBe(true);
    expect(source).not.toMatch(/onnxruntime|\bdocument\.|\bwindow\.|Math\.random|\bcanvas\b/i);
  });
});
