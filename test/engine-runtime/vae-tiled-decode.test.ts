/**
 * The pipeline's decode stage (decodeLatentsAsync) tiled against untiled, through a real trained VAE:
 * v1's (models/v1/, the built-in model before v2, onnxruntime-web on WASM), the hard case, as its
 * GroupNorms see only the tile. v2's decoder (models/default/) keeps no per-tile statistics: tiled, it
 * differs from untiled only inside the blend bands (measured: max 4.13 levels, mean 0.26). The latents are the VAE
 * encoder's own for a 512² test picture (gradients, discs, stripes), so the decoder sees
 * in-distribution latents.
 *
 * This VAE has no mid-block attention (mid_block_add_attention false), but its GroupNorms take
 * their statistics per tile, so every tile differs from the whole image everywhere, not only at its
 * edges (measured, 32-latent tiles = the model's native 256 px, as diffusers sizes them: mean
 * |Δ| ≈ 12 levels of 8 bits, max 255 where the untiled output itself leaves [−1, 1]). What tiling
 * must not add is a seam: the mean error inside the blend bands may exceed the mean error away
 * from them by at most 10 % (measured: 12.08 vs 11.82 levels, +2 %).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { openPackageAsync } from '../../worker/engine/package-source.js';
import { decodeLatentsAsync } from '../../worker/engine/sd3/pipeline.js';
import { readSd3PackageFilesAsync } from '../../worker/engine/sd3/read-sd3-package-files.js';
import { createSd3RuntimeAsync, releaseSd3RuntimeAsync, vaeEncoderSessionAsync, type Sd3Runtime } from '../../worker/engine/sd3/runtime.js';
import { tileStarts } from '../../worker/engine/sd3/vae-tiling.js';
import { repoRoot } from '../fixture-paths.js';

const SIZE = 512;
const TILE = 32;
let runtime: Sd3Runtime;

async function folderFiles(root: string, prefix = ''): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const name of await readdir(path.join(root, prefix))) {
    const relative = prefix ? `${prefix}/${name}` : name;
    if ((await stat(path.join(root, relative))).isDirectory()) Object.assign(files, await folderFiles(root, relative));
    else files[relative] = new Uint8Array(await readFile(path.join(root, relative)));
  }
  return files;
}

beforeAll(async () => {
  const files = await folderFiles(path.join(repoRoot, 'models/v1'));
  const pkg = await readSd3PackageFilesAsync(await openPackageAsync({ kind: 'files', files, description: 'models/v1' }));
  runtime = await createSd3RuntimeAsync(pkg, 'wasm');
}, 120_000);

afterAll(async () => {
  if (runtime) await releaseSd3RuntimeAsync(runtime);
});

/** A 512² picture in [−1, 1]: smooth gradients, hard-edged discs, fine stripes. */
function testPicture(): Float32Array {
  const image = new Float32Array(3 * SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const disc = (x - 180) ** 2 + (y - 200) ** 2 < 90 ** 2 ? 1 : (x - 380) ** 2 + (y - 330) ** 2 < 70 ** 2 ? -1 : 0;
      const stripes = y > 420 ? Math.sign(Math.sin(x / 3)) * 0.5 : 0;
      const rgb = [x / SIZE - 0.5 + disc * 0.8, y / SIZE - 0.5 + stripes, 0.3 - disc * 0.4 + stripes * 0.5];
      for (let c = 0; c < 3; c++) image[(c * SIZE + y) * SIZE + x] = Math.max(-1, Math.min(1, rgb[c]));
    }
  }
  return image;
}

/** Scaled latents as the denoiser produces them: (mean − shift_factor) · scaling_factor. */
async function latentsOfPicture(): Promise<Float32Array> {
  const encoder = (await vaeEncoderSessionAsync(runtime))!;
  const outputs = await encoder.runAsync({ sample: { type: 'float32', data: testPicture(), dims: [1, 3, SIZE, SIZE] } });
  const output = outputs[runtime.pkg.vaeEncoder!.graph.summary.outputs[0].name];
  const vae = runtime.pkg.vaeDecoder.config;
  const count = vae.latent_channels * (SIZE / 8) * (SIZE / 8);
  // mean-and-logvar packages give 2C channels; the mean is the first C.
  return Float32Array.from(output.data.subarray(0, count) as Float32Array, (z) => (z - vae.shift_factor) * vae.scaling_factor);
}

const clamp = (v: number) => Math.max(-1, Math.min(1, v));

function blendBand(latentSize: number): Set<number> {
  const starts = tileStarts(latentSize, { tileLatentSize: TILE, scaleFactor: 8 });
  const stride = starts[1];
  const band = new Set<number>();
  for (const start of starts.slice(1)) for (let p = start * 8; p < Math.min(latentSize, start + TILE - stride) * 8; p++) band.add(p);
  return band;
}

test('a tiled decode matches the untiled one, and its seams are no worse than elsewhere', async () => {
  const latents = await latentsOfPicture();
  const latentSize = SIZE / 8;
  const untiled = await decodeLatentsAsync(runtime.vaeDecoder, runtime.pkg, latents, latentSize, latentSize);
  const tiled = await decodeLatentsAsync(runtime.vaeDecoder, runtime.pkg, latents, latentSize, latentSize, TILE);
  expect([tiled.width, tiled.height, tiled.channels]).toEqual([untiled.width, untiled.height, untiled.channels]);

  let lo = Infinity;
  let hi = -Infinity;
  for (const v of untiled.raw) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  console.log(`untiled output range [${lo.toFixed(2)}, ${hi.toFixed(2)}]`);
  const band = blendBand(latentSize);
  let seam = 0;
  let away = 0;
  let sumSeam = 0;
  let sumAway = 0;
  let nSeam = 0;
  let nAway = 0;
  for (let c = 0; c < untiled.channels; c++) {
    for (let y = 0; y < SIZE; y++) {
      for (let x = 0; x < SIZE; x++) {
        const i = (c * SIZE + y) * SIZE + x;
        // what becomes pixels: image-convert.ts clamps to [−1, 1]
        const d = Math.abs(clamp(tiled.raw[i]) - clamp(untiled.raw[i]));
        if (band.has(y) || band.has(x)) {
          seam = Math.max(seam, d);
          sumSeam += d;
          nSeam += 1;
        } else {
          away = Math.max(away, d);
          sumAway += d;
          nAway += 1;
        }
      }
    }
  }
  // Output units: [−1, 1] maps to 0..255, so one 8-bit level is 2/255.
  const level = 2 / 255;
  console.log(
    `tiled (${TILE}-latent tiles, ${tileStarts(latentSize, { tileLatentSize: TILE, scaleFactor: 8 }).length}² of them) vs untiled ${SIZE}²: ` +
      `max |Δ| in blend bands ${(seam / level).toFixed(2)} levels, elsewhere ${(away / level).toFixed(2)} levels; ` +
      `mean |Δ| ${(sumSeam / nSeam / level).toFixed(3)} vs ${(sumAway / nAway / level).toFixed(3)} levels`,
  );
  expect(sumSeam / nSeam).toBeLessThan(1.1 * (sumAway / nAway));
  // tiling did change something: the test would notice a decode that ignored the tile size
  expect(Math.max(seam, away)).toBeGreaterThan(0);
}, 300_000);
