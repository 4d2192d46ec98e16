import { latentToPreview, predictCleanLatent, validateLatentRgbFactors } from '../../worker/engine/latent-preview.js';
import { SD3_LATENT_RGB_FACTORS } from '../../worker/engine/sd3/latent-rgb-factors.js';
import { FlowMatchEulerDiscreteScheduler } from '../../worker/engine/flow-match-euler.js';
import { readF32, readJson } from './golden.js';

describe('latent → RGB preview', () => {
  test('SD3 fallback factors: 16 rows of [r, g, b] plus bias, as ComfyUI latent_formats.SD3', () => {
    expect(SD3_LATENT_RGB_FACTORS.factors).toHaveLength(16);
    expect(SD3_LATENT_RGB_FACTORS.factors[0]).toEqual([-0.0922, -0.0175, 0.0749]);
    expect(SD3_LATENT_RGB_FACTORS.factors[15]).toEqual([-0.1448, -0.1463, -0.1189]);
    expect(SD3_LATENT_RGB_FACTORS.bias).toEqual([0.2394, 0.2135, 0.1925]);
  });

  test('rgb = Σ_c x_c·factors[c] + bias, clamp(−1, 1), (v + 1)·127.5 rounded', () => {
    // 2 channels, 1×2 latent (channel planes: [a0, a1], [b0, b1]).
    const factors = {
      factors: [
        [1, 0, 0.5],
        [0, 1, 0.5],
      ],
      bias: [0, 0.1, -2],
    };
    const latent = new Float32Array([0.5, -3, 0.25, 0.5]);
    const { rgba, width, height } = latentToPreview(latent, 2, 1, 2, factors);
    expect([width, height]).toEqual([2, 1]);
    const px = (v: number) => Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5);
    expect(Array.from(rgba)).toEqual([
      px(0.5),
      px(0.25 + 0.1),
      px(0.5 * 0.5 + 0.25 * 0.5 - 2),
      255,
      px(-3),
      px(0.5 + 0.1),
      px(-3 * 0.5 + 0.5 * 0.5 - 2),
      255,
    ]);
  });

  test('a fixture latent gives a full-size preview with the SD3 factors', () => {
    const latents = readF32('d_final_latents.bin');
    const preview = latentToPreview(latents, 16, 8, 8, SD3_LATENT_RGB_FACTORS);
    expect(preview.rgba).toHaveLength(8 * 8 * 4);
    expect(new Set(preview.rgba.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(4); // not flat
  });

  test("predictCleanLatent: x0 = x − σ·v at the scheduler's current sigma", () => {
    const cfg = readJson('scheduler/scheduler_config.json');
    const s = new FlowMatchEulerDiscreteScheduler(cfg);
    s.setTimesteps(4);
    const x = readF32('a_noise.bin');
    const v = readF32('a_step0_guided.bin');
    const x0 = predictCleanLatent(x, v, s.currentSigma);
    expect(s.currentSigma).toBe(1);
    expect(x0[5]).toBe(Math.fround(x[5] - v[5]));
    expect(() => predictCleanLatent(x, v.subarray(1), 1)).toThrow(/must match/);
  });

  test('factors from a package are validated against the channel count', () => {
    expect(() => validateLatentRgbFactors({ factors: [[1, 2, 3]] }, 16, 'flowfill.json latentRgbFactors')).toThrow(
      /flowfill.json latentRgbFactors: factors has 1 rows but the latent has 16 channels/,
    );
    expect(() => validateLatentRgbFactors({ factors: [[1, 2]] }, 1)).toThrow(/factors\[0\] must be 3 finite numbers/);
    expect(() => validateLatentRgbFactors({ factors: [[1, 2, 3]], bias: [0] }, 1)).toThrow(/bias must be 3 finite numbers/);
    expect(() => validateLatentRgbFactors(null, 4)).toThrow(/expected \{ factors: number\[4\]\[3\]/);
    expect(() => latentToPreview(new Float32Array(8), 4, 1, 2, SD3_LATENT_RGB_FACTORS)).toThrow(
      /factors has 16 rows but the latent has 4 channels/,
    );
  });
});
