/**
 * The v2 models still in training — the candidate (model/eval/v2-candidate/, installed by
 * `bash model/install-package.sh --candidate <slice output>`) and the 16-block line beside it
 * (model/eval/v2-deep16/, `--into model/eval/v2-deep16`) — as PyTorch 2.11's dynamo exporter
 * writes it on the GPU machine: opset 18 transformer, anonymous weight names, int8 weights behind
 * Cast -> Mul. The int8 fixture (int8-package.test.ts) comes from the older exporter, so only this
 * package shows that the engine runs what the training actually ships. Since session 54 model/flowfill/export.py
 * asks for the TorchScript exporter again (its fused norms); v2-candidate stays a dynamo export, and v2-deep16
 * becomes a TorchScript one at its next GPU export, so the two cover both.
 */
import path from 'node:path';
import { createEngine } from '../../worker/engine/engine.js';
import { decodePng } from '../../worker/engine/png.js';
import { readFolderAsync } from '../../worker/cli/node-host.js';
import { repoRoot } from '../fixture-paths.js';
import { int8GraphCensus } from './int8-fixture.js';

describe.each(['v2-candidate', 'v2-deep16'])('%s package (dynamo export)', (state) => {
  const pkgDir = path.join(repoRoot, 'model', 'eval', state, 'package');

  test('int8 weights are dequantised in the graph, as flowfill.json counts them, with nothing in float16', () => {
    for (const census of int8GraphCensus(pkgDir)) {
      expect({ net: census.net, count: census.dequantised }).toEqual({ net: census.net, count: census.listed });
      for (const type of census.elemTypes) expect([1, 7]).toContain(type);
    }
  });

  test('the engine verifies its hashes and generates a 2:1 image on WASM at the guidance the package recommends', async () => {
    const engine = createEngine({ backend: 'wasm' });
    try {
      const info = await engine.loadModel({ kind: 'files', files: await readFolderAsync(pkgDir) });
      expect(info.name).toContain('v2');
      // A guidance-distilled student recommends 1 (guidance 5 washes it out to white), its teacher 2; the panel
      // and the CLI take the package's value, so this does too.
      expect(info.recommended?.guidance).toEqual(expect.any(Number));
      const result = await engine.generate({
        jobId: state,
        prompt: 'shopping cart icon, line style, dark blue on white',
        width: 256,
        height: 128,
        steps: 4,
        guidance: info.recommended!.guidance!,
        seed: 3,
      });
      const image = decodePng(result.png);
      expect([image.width, image.height, result.backend]).toEqual([256, 128, 'wasm']);
      // The prompt asks for white around a dark blue icon: the corners are light, and something is dark.
      const at = (x: number, y: number) => image.rgba[(y * image.width + x) * 4 + 2];
      expect(Math.min(at(2, 2), at(253, 2), at(2, 125), at(253, 125))).toBeGreaterThan(150);
      let darkest = 255;
      for (let i = 0; i < image.rgba.length; i += 4) darkest = Math.min(darkest, image.rgba[i]);
      expect(darkest).toBeLessThan(100);
    } finally {
      await engine.dispose();
    }
  }, 120_000);
});
