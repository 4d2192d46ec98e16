/**
 * The full-size SD3 Medium, SD3.5 Medium and SD3.5 Large transformers and the SD3 VAE build from
 * their real configs. The weights are synthetic headers over a sparse zero file (the repository
 * has no multi-gigabyte checkpoints): the test checks that building reads no weights, that the
 * parameter counts are the architecture's, and that every external-data file stays under 2 GB
 * (what onnxruntime-web can load), and prints node counts per op type.
 *
 * Expected sizes, from the architecture (diffusers counts parameters; the pos-embed table is a
 * stored buffer besides them):
 *   SD3 Medium   2,028,328,000 parameters + 192²·1536 =  56,623,104 pos-embed values
 *   SD3.5 Medium 2,243,171,520 parameters + 384²·1536 = 226,492,416 pos-embed values
 *   SD3.5 Large  8,056,627,520 parameters + 192²·2432 =  89,653,248 pos-embed values
 *   SD3 VAE         83,819,683 parameters (encoder 34,274,208, decoder 49,545,475)
 */
import { PRECISIONS, type Precision } from '../../worker/engine/onnx/layers.js';
import { DEFAULT_MAX_EXTERNAL_FILE_BYTES, serializeGraphAsync } from '../../worker/engine/onnx/serialize-graph.js';
import { buildSd3TransformerGraph, readSd3TransformerConfig, sd3TransformerSize } from '../../worker/engine/sd3/graphs/sd3-transformer.js';
import {
  autoencoderKlParameterCount,
  buildVaeDecoderGraph,
  buildVaeEncoderGraph,
  readAutoencoderKlConfig,
} from '../../worker/engine/sd3/graphs/vae.js';
import { elementCount, syntheticWeights, transformerStateDict, vaeStateDict } from './diffusers-state-dict.js';
import { SD35_LARGE_TRANSFORMER, SD35_MEDIUM_TRANSFORMER, SD3_MEDIUM_TRANSFORMER, SD3_VAE } from './full-size-configs.js';
import { fixtureConfig, fixtureWeightsAsync, opCounts } from './graph-harness.js';

const GB = 1e9;

describe("the synthetic state dicts are diffusers' (checked on the tiny fixture checkpoints)", () => {
  it.each(['sd35m_style', 'sd3m_style_no_t5'])('%s: transformer and VAE tensor names and shapes match the real headers', async (model) => {
    for (const [component, dict] of [
      ['transformer', transformerStateDict(readSd3TransformerConfig(fixtureConfig(model, 'transformer')))],
      ['vae', vaeStateDict(readAutoencoderKlConfig(fixtureConfig(model, 'vae')))],
    ] as const) {
      const real = await fixtureWeightsAsync(model, component);
      const realShapes = Object.fromEntries(real.names().map((name) => [name, real.tensors.get(name)!.shape]));
      expect(Object.fromEntries(dict)).toEqual(realShapes);
    }
  });
});

const MODELS = [
  { name: 'SD3 Medium', json: SD3_MEDIUM_TRANSFORMER, parameters: 2_028_328_000, posEmbedValues: 56_623_104 },
  { name: 'SD3.5 Medium', json: SD35_MEDIUM_TRANSFORMER, parameters: 2_243_171_520, posEmbedValues: 226_492_416 },
  { name: 'SD3.5 Large', json: SD35_LARGE_TRANSFORMER, parameters: 8_056_627_520, posEmbedValues: 89_653_248 },
];

describe('full-size transformers build from their configs without reading weights', () => {
  it.each(MODELS)('$name', async ({ name, json, parameters, posEmbedValues }) => {
    const config = readSd3TransformerConfig(json);
    const dict = transformerStateDict(config);
    expect(sd3TransformerSize(config)).toEqual({ parameters, posEmbedValues });
    expect(elementCount(dict)).toBe(parameters + posEmbedValues);
    const lines = [`${name}: ${(parameters / 1e9).toFixed(3)} B parameters + ${(posEmbedValues / 1e6).toFixed(1)} M pos-embed values`];
    for (const precision of PRECISIONS) {
      const { weights, file } = syntheticWeights(`${name} transformer`, dict);
      const graph = buildSd3TransformerGraph(config, weights, precision);
      const serialized = await serializeGraphAsync(graph);
      for (const external of serialized.externalFiles) expect(external.byteLength).toBeLessThan(DEFAULT_MAX_EXTERNAL_FILE_BYTES);
      // Only the inline constants (RMS-norm weights and other tensors under 1 KiB) are read.
      expect(file.bytesRead).toBeLessThan(1 << 20);
      expect(graph.nodes.filter((n) => n.opType === 'MultiHeadAttention')).toHaveLength(
        config.num_layers + config.dual_attention_layers.length,
      );
      const quantized = graph.nodes.filter((n) => n.opType === 'MatMulNBits').length;
      if (precision === 'int8' || precision === 'int4') expect(quantized).toBeGreaterThan(config.num_layers * 10);
      else expect(quantized).toBe(0);
      lines.push(
        `  ${precision}: ${(serialized.weightBytes / GB).toFixed(2)} GB in ${serialized.externalFiles.length} external files ` +
          `(largest ${(Math.max(...serialized.externalFiles.map((f) => f.byteLength)) / GB).toFixed(2)} GB), ` +
          `model.onnx ${(serialized.model.byteLength / 1e6).toFixed(2)} MB, ${graph.nodes.length} nodes`,
      );
      if (precision === 'fp16') lines.push(`    ${opCounts(graph)}`);
    }
    console.log(lines.join('\n'));
  });
});

describe('the SD3 VAE builds from its config', () => {
  it('decoder and encoder, parameter counts and external files', async () => {
    const config = readAutoencoderKlConfig(SD3_VAE);
    const dict = vaeStateDict(config);
    expect(autoencoderKlParameterCount(config, 'encoder')).toBe(34_274_208);
    expect(autoencoderKlParameterCount(config, 'decoder')).toBe(49_545_475);
    expect(elementCount(dict)).toBe(83_819_683);
    const lines = ['SD3 VAE: 83.8 M parameters'];
    for (const precision of ['fp32', 'fp16'] as Precision[]) {
      for (const [part, build] of [
        ['decoder', buildVaeDecoderGraph],
        ['encoder', buildVaeEncoderGraph],
      ] as const) {
        const { weights } = syntheticWeights('SD3 vae', dict);
        const graph = build(config, weights, precision);
        const serialized = await serializeGraphAsync(graph);
        for (const external of serialized.externalFiles) expect(external.byteLength).toBeLessThan(DEFAULT_MAX_EXTERNAL_FILE_BYTES);
        lines.push(
          `  ${part} ${precision}: ${(serialized.weightBytes / 1e6).toFixed(1)} MB, ${graph.nodes.length} nodes: ${opCounts(graph)}`,
        );
      }
    }
    console.log(lines.join('\n'));
  });
});
