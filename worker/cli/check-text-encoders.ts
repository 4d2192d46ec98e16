/**
 * SD3 text encoders built in TypeScript, checked against diffusers on one backend:
 *   npx tsx worker/cli/check-text-encoders.ts <golden dir> [--backend wasm|webgpu]
 *       [--precision fp32,fp16,int8,int4] [--attention unfused,fused] [--runs 3] [--no-probe]
 *
 * <golden dir> is a folder in the "flowfill-diffusers-golden/1" format (cases.json, the arrays, the
 * diffusers model folders), e.g. test/fixtures/.extracted/sd3-diffusers-tiny (extracted by the
 * tests), or a full-size one made the same way. For every case × precision × attention form it
 * tokenises [negative, prompt] with each tokenizer folder, builds CLIP-L, CLIP-G and T5 from
 * config.json + safetensors, runs them, assembles the conditioning as encode_prompt does and
 * prints max |error| and relative L2 against the case's prompt embeds and pooled embeds, with the
 * build, session and run times (median of --runs). Then, unless --no-probe, it runs a probe of the
 * backend's attention: fused MultiHeadAttention and the unfused form against a float64 reference
 * over sequence lengths and head sizes, which shows where a backend's fused kernel is wrong.
 * Exit code 1 when token ids differ or fp32 misses the fixture tolerance (WASM 1e-4, WebGPU 1e-3).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Backend } from '../../common/engine-types.js';
import { bytesSource } from '../engine/byte-source.js';
import { DataType } from '../engine/onnx/data-types.js';
import { GraphBuilder } from '../engine/onnx/graph-builder.js';
import {
  attentionWithBias,
  PRECISIONS,
  unfusedAttention,
  type AttentionForm,
  type LayerContext,
  type Precision,
} from '../engine/onnx/layers.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../engine/onnx/serialize-graph.js';
import { createSessionAsync, type BackendSession } from '../engine/ort-backend.js';
import { openWeightSetAsync, WeightSet } from '../engine/safetensors.js';
import { buildClipTextEncoderGraph, readClipTextConfig } from '../engine/sd3/graphs/clip-text-encoder.js';
import { buildT5EncoderGraph, readT5EncoderConfig } from '../engine/sd3/graphs/t5-encoder.js';
import { readTokenizerFilesAsync } from '../engine/sd3/tokenizer-files.js';
import { assembleSd3Conditioning, type ClipStyleOutput, type Tensor32 } from '../engine/sd3/text-embeddings.js';
import { PromptTokenizer, toInt64 } from '../engine/sd3/tokenize.js';
import { useNodeBackendAsync } from './node-host.js';

interface Args {
  dir: string;
  backend: Backend;
  precisions: Precision[];
  attention: AttentionForm[];
  runs: number;
  probe: boolean;
}

const USAGE =
  'usage: npx tsx worker/cli/check-text-encoders.ts <golden dir> [--backend wasm|webgpu] [--precision fp32,fp16,int8,int4] [--attention unfused,fused] [--runs 3] [--no-probe]';

function parseArgs(argv: string[]): Args {
  const args: Partial<Args> = { backend: 'wasm', precisions: [...PRECISIONS], attention: ['unfused', 'fused'], runs: 3, probe: true };
  const list = <T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T[] => {
    const items = (value ?? '').split(',');
    const bad = items.find((item) => !(allowed as readonly string[]).includes(item));
    if (bad !== undefined)
      throw new Error(`${flag} ${JSON.stringify(bad)} is unknown; use a comma-separated list of ${allowed.join(', ')}`);
    return items as T[];
  };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--backend':
        args.backend = list('--backend', value, ['wasm', 'webgpu'] as const)[0];
        i++;
        break;
      case '--precision':
        args.precisions = list('--precision', value, PRECISIONS);
        i++;
        break;
      case '--attention':
        args.attention = list('--attention', value, ['unfused', 'fused'] as const);
        i++;
        break;
      case '--runs':
        args.runs = Number(value);
        if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error(`--runs ${value} must be a whole number ≥ 1`);
        i++;
        break;
      case '--no-probe':
        args.probe = false;
        break;
      default:
        if (argv[i].startsWith('--') || args.dir) throw new Error(`unexpected ${argv[i]}; ${USAGE}`);
        args.dir = argv[i];
    }
  }
  if (!args.dir) throw new Error(USAGE);
  return args as Args;
}

interface ArraySpec {
  file: string;
  shape: number[];
}
interface GoldenCase {
  name: string;
  prompt: string;
  negative: string;
  model: string;
  max_sequence_length: number;
  arrays: Record<string, ArraySpec>;
}

const ENCODERS = [
  ['text_encoder', 'tokenizer'],
  ['text_encoder_2', 'tokenizer_2'],
  ['text_encoder_3', 'tokenizer_3'],
] as const;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function errors(actual: Float32Array, reference: Float32Array): { max: number; rel: number } {
  let max = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = actual[i] - reference[i];
    max = Math.max(max, Math.abs(d));
    num += d * d;
    den += reference[i] * reference[i];
  }
  return { max, rel: Math.sqrt(num / den) };
}

async function sessionAsync(graph: ReturnType<typeof buildT5EncoderGraph>, backend: Backend): Promise<BackendSession> {
  const serialized = await serializeGraphAsync(graph);
  const externalData = [];
  for (const file of serialized.externalFiles) externalData.push({ path: file.path, data: await externalFileBytesAsync(file) });
  return createSessionAsync({ label: graph.name, model: serialized.model, externalData, backend });
}

/**
 * onnxruntime-web destroys its WebGPU device when its last session is released and the engine's
 * backend then treats WebGPU as lost; a tiny session held for the whole run keeps one device.
 */
async function holdWebGpuDeviceAsync(): Promise<void> {
  const b = new GraphBuilder('device_keeper');
  b.output(b.op('Neg', [b.input('x', DataType.FLOAT, [1])]), 'y', [1]);
  await createSessionAsync({ label: 'device keeper', model: (await serializeGraphAsync(b.build())).model, backend: 'webgpu' });
}

async function checkCaseAsync(
  root: string,
  c: GoldenCase,
  precision: Precision,
  attention: AttentionForm,
  args: Args,
): Promise<{ row: Record<string, string>; pass: boolean }> {
  const folder = path.join(root, c.model);
  const read = async (relative: string) => {
    try {
      return new Uint8Array(await readFile(path.join(folder, relative)));
    } catch {
      return undefined;
    }
  };
  const open = async (relative: string) => {
    const bytes = await read(relative);
    return bytes && bytesSource(path.join(folder, relative), bytes);
  };
  const golden = async (name: string) => {
    const bytes = await readFile(path.join(root, c.arrays[name].file));
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };
  const goldenIds = async (name: string) => {
    const bytes = await readFile(path.join(root, c.arrays[name].file));
    return Array.from(new BigInt64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), Number);
  };
  const transformer = JSON.parse(new TextDecoder().decode(await read('transformer/config.json')));
  const clip: ClipStyleOutput[] = [];
  let t5: Tensor32 | undefined;
  let idsMatch = true;
  const times = { build: 0, session: 0, run: 0 };
  for (const [encoder, tokenizerFolder] of ENCODERS) {
    const configBytes = await read(`${encoder}/config.json`);
    if (!configBytes) continue;
    const files = await readTokenizerFilesAsync(read, tokenizerFolder);
    const isT5 = encoder === 'text_encoder_3';
    const tokenizer = new PromptTokenizer(files.tokenizerJson, files.tokenizerConfig, isT5 ? { maxLength: c.max_sequence_length } : {});
    const batch = tokenizer.encodeBatch([c.negative, c.prompt]);
    const expected = [...(await goldenIds(`${tokenizerFolder}_negative_ids`)), ...(await goldenIds(`${tokenizerFolder}_prompt_ids`))];
    idsMatch &&= expected.length === batch.ids.length && expected.every((id, i) => id === batch.ids[i]);

    let started = performance.now();
    const json = JSON.parse(new TextDecoder().decode(configBytes));
    const weights: WeightSet = await openWeightSetAsync(open, encoder, 'model');
    const clipConfig = isT5 ? undefined : readClipTextConfig(json, `${encoder}/config.json`);
    const graph = isT5
      ? buildT5EncoderGraph(readT5EncoderConfig(json, `${encoder}/config.json`), weights, precision, { attention })
      : buildClipTextEncoderGraph(clipConfig!, weights, precision, { attention });
    times.build += performance.now() - started;
    started = performance.now();
    const session = await sessionAsync(graph, args.backend);
    times.session += performance.now() - started;
    try {
      const runTimes: number[] = [];
      let outputs: Awaited<ReturnType<BackendSession['runAsync']>> = {};
      for (let run = 0; run < args.runs; run++) {
        started = performance.now();
        outputs = await session.runAsync({ input_ids: { type: 'int64', data: toInt64(batch.ids), dims: batch.dims } });
        runTimes.push(performance.now() - started);
      }
      times.run += median(runTimes);
      const tensor = (name: string): Tensor32 => {
        const t = outputs[name];
        if (t?.type !== 'float32') throw new Error(`${encoder}: no float32 output ${name}`);
        return { data: t.data, dims: [...t.dims] };
      };
      if (isT5) t5 = tensor('last_hidden_state');
      else clip.push({ hiddenStates: tensor(`hidden_states.${clipConfig!.num_hidden_layers - 1}`), pooled: tensor('text_embeds') });
    } finally {
      await session.releaseAsync();
    }
  }
  const both = assembleSd3Conditioning(clip, {
    jointAttentionDim: transformer.joint_attention_dim,
    pooledProjectionDim: transformer.pooled_projection_dim,
    t5,
    maxSequenceLength: c.max_sequence_length,
  });
  const embeds = errors(
    both.promptEmbeds.data,
    Float32Array.from([...(await golden('negative_prompt_embeds')), ...(await golden('prompt_embeds'))]),
  );
  const pooled = errors(
    both.pooledEmbeds.data,
    Float32Array.from([...(await golden('negative_pooled_prompt_embeds')), ...(await golden('pooled_prompt_embeds'))]),
  );
  const tolerance = args.backend === 'wasm' ? 1e-4 : 1e-3;
  const pass = idsMatch && (precision !== 'fp32' || (embeds.max < tolerance && pooled.max < tolerance));
  return {
    pass,
    row: {
      case: c.name,
      precision,
      attention,
      ids: idsMatch ? 'exact' : 'DIFFER',
      embeds_max: embeds.max.toExponential(2),
      embeds_relL2: embeds.rel.toExponential(2),
      pooled_max: pooled.max.toExponential(2),
      pooled_relL2: pooled.rel.toExponential(2),
      build_ms: times.build.toFixed(0),
      session_ms: times.session.toFixed(0),
      run_ms: times.run.toFixed(1),
      result: pass ? 'pass' : 'FAIL',
    },
  };
}

/** q, k, v = deterministic patterns [1, S, heads·D]; causal or no bias; fused and unfused vs float64. */
async function probeAttentionAsync(backend: Backend): Promise<Record<string, string>[]> {
  const rows: Record<string, string>[] = [];
  const heads = 4;
  for (const D of [6, 8, 64]) {
    for (const S of [16, 32, 77, 256, 333]) {
      for (const causal of [false, true]) {
        const size = S * heads * D;
        const data = [1, 2, 3].map((phase) =>
          Float32Array.from({ length: size }, (_, i) => Math.fround(Math.sin(0.7 * i + phase) * Math.cos(0.13 * i))),
        );
        const mask = new Float32Array(heads * S * S).map((_, p) => (causal && p % S > Math.floor(p / S) % S ? -3.4028234663852886e38 : 0));
        const reference = new Float64Array(size);
        for (let h = 0; h < heads; h++) {
          for (let i = 0; i < S; i++) {
            const scores = Array.from({ length: S }, (_, j) => {
              let dot = 0;
              for (let d = 0; d < D; d++) dot += data[0][(i * heads + h) * D + d] * data[1][(j * heads + h) * D + d];
              return causal && j > i ? -Infinity : dot / Math.sqrt(D);
            });
            const top = Math.max(...scores);
            const exps = scores.map((s) => Math.exp(s - top));
            const total = exps.reduce((a, e) => a + e, 0);
            for (let d = 0; d < D; d++)
              reference[(i * heads + h) * D + d] = exps.reduce((a, e, j) => a + (e / total) * data[2][(j * heads + h) * D + d], 0);
          }
        }
        const row: Record<string, string> = { head_dim: String(D), tokens: String(S), mask: causal ? 'causal' : 'none' };
        for (const form of ['fused', 'unfused'] as const) {
          const b = new GraphBuilder(`probe_${form}`);
          const ctx: LayerContext = { b, weights: new WeightSet('probe', new Map()), precision: 'fp32' };
          const [q, k, v] = ['q', 'k', 'v'].map((name) => b.input(name, DataType.FLOAT, [1, S, heads * D]));
          const bias = b.float(mask, DataType.FLOAT, [1, heads, S, S]);
          b.output(form === 'fused' ? attentionWithBias(ctx, q, k, v, heads, bias) : unfusedAttention(ctx, q, k, v, heads, D, bias), 'y', [
            1,
            S,
            heads * D,
          ]);
          const session = await createSessionAsync({
            label: `probe ${form}`,
            model: (await serializeGraphAsync(b.build(), { externalThresholdBytes: Infinity })).model,
            backend,
          });
          try {
            const dims = [1, S, heads * D];
            const out = await session.runAsync({
              q: { type: 'float32', data: data[0], dims },
              k: { type: 'float32', data: data[1], dims },
              v: { type: 'float32', data: data[2], dims },
            });
            let max = 0;
            const y = out.y.data as Float32Array;
            for (let i = 0; i < size; i++) max = Math.max(max, Math.abs(y[i] - reference[i]));
            row[`${form}_max_err`] = max.toExponential(2);
          } finally {
            await session.releaseAsync();
          }
        }
        rows.push(row);
      }
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await useNodeBackendAsync(args.backend);
  if (args.backend === 'webgpu') await holdWebGpuDeviceAsync();
  const root = path.resolve(args.dir);
  const cases = JSON.parse(await readFile(path.join(root, 'cases.json'), 'utf8')) as { format?: string; cases: GoldenCase[] };
  if (cases.format !== 'flowfill-diffusers-golden/1')
    throw new Error(`${root}/cases.json has format ${JSON.stringify(cases.format)}; expected "flowfill-diffusers-golden/1"`);
  const rows: Record<string, string>[] = [];
  let pass = true;
  for (const c of cases.cases) {
    for (const precision of args.precisions) {
      for (const attention of args.attention) {
        const result = await checkCaseAsync(root, c, precision, attention, args);
        rows.push(result.row);
        pass &&= result.pass;
        console.log(Object.values(result.row).join('  '));
      }
    }
  }
  console.log(`\ntext encoders on ${args.backend} vs diffusers (${root}); fp32 tolerance ${args.backend === 'wasm' ? 1e-4 : 1e-3}:`);
  console.table(rows);
  if (args.probe) {
    console.log(`\nattention on ${args.backend}: max |error| against float64, q/k/v [1, tokens, 4 heads × head_dim]`);
    console.table(await probeAttentionAsync(args.backend));
  }
  process.exitCode = pass ? 0 : 1;
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 2;
});
