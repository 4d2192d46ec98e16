/**
 * Tiled VAE decoding on the fixture's decoder inputs, with real ONNX decoders run by
 * onnxruntime-web (WASM).
 *
 * - Local decoders (nearest ×8 upsampling, then one of the fixture VAE's convolutions) must give
 *   the untiled image: a pointwise one at every pixel (blending two equal values changes
 *   nothing), a 3×3 one everywhere outside the blend bands. That proves the tiling, blending and
 *   placement are exact.
 * - The fixture's full tiny VAE differs tiled and untiled everywhere, not only at seams: its
 *   GroupNorm statistics are taken per tile and its mid-block attention sees only the tile, and
 *   with random weights and 8-latent tiles those change a lot. The numbers are printed; the real
 *   SD3 VAE is tiled at 128 latents (1024 px), as diffusers does.
 */
import { DataType } from '../../worker/engine/onnx/data-types.js';
import { GraphBuilder } from '../../worker/engine/onnx/graph-builder.js';
import { conv2d } from '../../worker/engine/onnx/layers.js';
import type { BackendSession } from '../../worker/engine/ort-backend.js';
import { buildVaeDecoderGraph, readAutoencoderKlConfig } from '../../worker/engine/sd3/graphs/vae.js';
import { tiledDecodeAsync, tileStarts, type DecodeTileAsync, type DecodedImage } from '../../worker/engine/sd3/vae-tiling.js';
import {
  f32,
  fixtureConfig,
  fixtureWeightsAsync,
  goldenArray,
  goldenCase,
  loadGraphAsync,
  maxAbsDiff,
  relativeL2,
} from './graph-harness.js';

const SCALE = 8;
const sessions: BackendSession[] = [];
afterAll(async () => {
  for (const session of sessions) await session.releaseAsync();
});

function decoderOf(session: BackendSession, input: string, output: string): DecodeTileAsync {
  return async (data, dims) => {
    const out = await session.runAsync({ [input]: f32(data, dims) });
    return { data: out[output].data as Float32Array, dims: out[output].dims };
  };
}

/** Pixels (y or x) covered by a blend: the first (tile − stride)·scale pixels after each tile start but the first. */
function blendBand(size: number, tile: number): Set<number> {
  const starts = tileStarts(size, { tileLatentSize: tile, scaleFactor: SCALE });
  const stride = starts[1] ?? size;
  const band = new Set<number>();
  for (const start of starts.slice(1)) for (let p = start * SCALE; p < Math.min(size, start + tile - stride) * SCALE; p++) band.add(p);
  return band;
}

/** Max |a − b| at pixels in a blend band (either axis) and away from them. */
function seamSplit(a: DecodedImage, b: DecodedImage, tile: number): { seam: number; away: number } {
  const [, channels, height, width] = a.dims;
  const rows = blendBand(height / SCALE, tile);
  const columns = blendBand(width / SCALE, tile);
  let seam = 0;
  let away = 0;
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = (c * height + y) * width + x;
        const d = Math.abs(a.data[i] - b.data[i]);
        if (rows.has(y) || columns.has(x)) seam = Math.max(seam, d);
        else away = Math.max(away, d);
      }
    }
  }
  return { seam, away };
}

describe('tiled VAE decoding', () => {
  /** Latents → nearest ×8 → one conv with the fixture VAE's real weights: a decoder whose receptive field is `kernel` pixels. */
  async function localDecoderAsync(kernel: 1 | 3): Promise<DecodeTileAsync> {
    const weights = await fixtureWeightsAsync('sd3m_style_no_t5', 'vae');
    const b = new GraphBuilder('local_decoder');
    const latents = b.input('latent_sample', DataType.FLOAT, [1, 16, 'h', 'w']);
    const up = b.op('Resize', [latents, '', b.float([1, 1, SCALE, SCALE], DataType.FLOAT, [4])], {
      mode: 'nearest',
      coordinate_transformation_mode: 'asymmetric',
      nearest_mode: 'floor',
    });
    const ctx = { b, weights, precision: 'fp32' as const };
    const out =
      kernel === 1
        ? conv2d(ctx, up, 'encoder.down_blocks.2.resnets.0.conv_shortcut', { inChannels: 16, outChannels: 32, kernel: 1 })
        : conv2d(ctx, up, 'decoder.conv_out', { inChannels: 16, outChannels: 3, kernel: 3 });
    b.output(out, 'sample', [1, 'C', 'H', 'W']);
    const { session } = await loadGraphAsync(b.build());
    sessions.push(session);
    return decoderOf(session, 'latent_sample', 'sample');
  }

  it('local decoders: tiles assemble to the untiled image (pointwise: everywhere; 3×3: away from the blend bands)', async () => {
    const lines: string[] = [];
    for (const kernel of [1, 3] as const) {
      const decode = await localDecoderAsync(kernel);
      for (const prefix of ['p4', 'p1']) {
        const input = goldenArray(goldenCase(prefix), 'vae_decoder_input');
        const whole = await decode(input.data, input.dims);
        for (const tile of [4, 5, 8]) {
          let calls = 0;
          const tiled = await tiledDecodeAsync(input.data, input.dims, (d, dims) => (calls++, decode(d, dims)), {
            tileLatentSize: tile,
            scaleFactor: SCALE,
          });
          expect(tiled.dims).toEqual(whole.dims);
          const rows = tileStarts(input.dims[2], { tileLatentSize: tile, scaleFactor: SCALE }).length;
          const columns = tileStarts(input.dims[3], { tileLatentSize: tile, scaleFactor: SCALE }).length;
          expect(calls).toBe(rows * columns);
          const { seam, away } = seamSplit(tiled, whole, tile);
          lines.push(
            `${kernel}×${kernel} local decoder, latent ${input.dims[2]}×${input.dims[3]}, ${tile}-latent tiles (${rows}×${columns}): ` +
              `max |diff| in blend bands ${seam.toExponential(1)}, elsewhere ${away.toExponential(1)}`,
          );
          expect(away).toBeLessThan(1e-5);
          // A 3×3 conv sees each tile's zero-padded border; the blend ramp gives that border row a weight of 1/extent.
          if (kernel === 1) expect(seam).toBeLessThan(1e-5);
        }
      }
    }
    console.log(lines.join('\n'));
  });

  it('the fixture VAE decoder: one tile is the untiled decode; smaller tiles are blended and measured', async () => {
    const c = goldenCase('p4'); // latent 14×8
    const config = readAutoencoderKlConfig(fixtureConfig(c.model, 'vae'));
    const { session } = await loadGraphAsync(buildVaeDecoderGraph(config, await fixtureWeightsAsync(c.model, 'vae'), 'fp32'));
    sessions.push(session);
    const decode = decoderOf(session, 'latent_sample', 'sample');
    const input = goldenArray(c, 'vae_decoder_input');
    const whole = await decode(input.data, input.dims);
    expect(maxAbsDiff(whole.data, goldenArray(c, 'vae_decoder_output').data)).toBeLessThan(5e-4);
    const single = await tiledDecodeAsync(input.data, input.dims, decode, { tileLatentSize: 14, scaleFactor: SCALE });
    expect(maxAbsDiff(single.data, whole.data)).toBe(0);
    const lines = [
      `fixture VAE (random weights), latent 14×8, untiled output rms ${Math.sqrt(whole.data.reduce((a, v) => a + v * v, 0) / whole.data.length).toFixed(3)}:`,
    ];
    for (const tile of [8, 10]) {
      const tiled = await tiledDecodeAsync(input.data, input.dims, decode, { tileLatentSize: tile, scaleFactor: SCALE });
      expect(tiled.dims).toEqual(whole.dims);
      const { seam, away } = seamSplit(tiled, whole, tile);
      lines.push(
        `  ${tile}-latent tiles: max |diff| at seam pixels ${seam.toFixed(3)}, away from seams ${away.toFixed(3)}, relative L2 ${relativeL2(tiled.data, whole.data).toFixed(3)}`,
      );
    }
    console.log(lines.join('\n'));
  });

  it('refuses bad tile options and a decoder that returns the wrong size', async () => {
    const latents = new Float32Array(16 * 10 * 10);
    const dims = [1, 16, 10, 10];
    const upsample: DecodeTileAsync = async (_d, [bt, , h, w]) => ({
      data: new Float32Array(bt * 3 * h * w * 64),
      dims: [bt, 3, h * 8, w * 8],
    });
    await expect(tiledDecodeAsync(latents, dims, upsample, { tileLatentSize: 1, scaleFactor: 8 })).rejects.toThrow(
      /tileLatentSize 1 must be an integer of at least 2/,
    );
    await expect(tiledDecodeAsync(latents, dims, upsample, { tileLatentSize: 4, overlap: 0.7, scaleFactor: 8 })).rejects.toThrow(
      /overlap 0\.7 must be in \(0, 0\.5\]/,
    );
    await expect(tiledDecodeAsync(latents, [1, 16, 10, 9], upsample, { tileLatentSize: 4, scaleFactor: 8 })).rejects.toThrow(
      /do not have shape/,
    );
    const wrong: DecodeTileAsync = async (_d, [bt, , h, w]) => ({
      data: new Float32Array(bt * 3 * h * w * 16),
      dims: [bt, 3, h * 4, w * 4],
    });
    await expect(tiledDecodeAsync(latents, dims, wrong, { tileLatentSize: 4, scaleFactor: 8 })).rejects.toThrow(
      /the decoder returned \[1, 3, 16, 16\] for a \[1, 16, 4, 4\] tile/,
    );
  });
});
