/**
 * Full-size SD3-family checks on a real GPU (Node + Dawn), against diffusers on the same GPU:
 *
 *   npm run bench:real -- --model <diffusers folder> --reference <folder from model/realcheck/reference.py outputs>
 *       [--precision fp32|fp16|int8|int4] [--backend webgpu|wasm] [--runs 5] [--out result.json]
 *
 * Loads the checkpoint through the engine's own code (graphs built in TypeScript from the configs
 * and safetensors, sessions on the backend), then: the step-0 transformer output at each reference
 * size (batch 2, CFG) against diffusers fp32 (max |error|, relative L2); the median step time at
 * each size; a 4-step flow-match Euler loop with guidance 5 from the reference noise and
 * embeddings, and its VAE decode, against diffusers; the full-size text encoders on fixed ids when
 * the folder has them. Prints one JSON object (also written to --out): sizes, load and session
 * times, host RSS peak. GPU memory is sampled outside (nvidia-smi), see model/realcheck/README.md.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Backend } from '../../common/engine-types.js';
import { decideAttentionKernelAsync } from '../engine/fused-attention-check.js';
import { latentsToVaeInput, denormalizeVaeOutput } from '../engine/image-convert.js';
import { PRECISIONS, type Precision } from '../engine/onnx/layers.js';
import { probeWebGpuAsync } from '../engine/ort-backend.js';
import { openPackageAsync } from '../engine/package-source.js';
import { forEachDenoiseStepAsync } from '../engine/sd3/denoise-latents.js';
import { createScheduler, decodeLatentsAsync, denoiseLatents, floatOutput } from '../engine/sd3/pipeline.js';
import { readSd3PackageFilesAsync } from '../engine/sd3/read-sd3-package-files.js';
import { createSd3RuntimeAsync, releaseSd3RuntimeAsync } from '../engine/sd3/runtime.js';
import { maxAbs, relativeL2 } from '../parity/compare-arrays.js';
import { openFolderAsync, useNodeBackendAsync } from './node-host.js';

interface Args {
  model: string;
  reference: string;
  precision: Precision;
  backend: Backend;
  runs: number;
  out?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Partial<Args> = { precision: 'fp32', backend: 'webgpu', runs: 5 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[++i];
    if (value === undefined) throw new Error(`${argv[i - 1]} needs a value`);
    switch (argv[i - 1]) {
      case '--model':
        args.model = path.resolve(value);
        break;
      case '--reference':
        args.reference = path.resolve(value);
        break;
      case '--precision':
        if (!(PRECISIONS as readonly string[]).includes(value)) throw new Error(`--precision ${value}: use ${PRECISIONS.join(', ')}`);
        args.precision = value as Precision;
        break;
      case '--backend':
        if (value !== 'webgpu' && value !== 'wasm') throw new Error('--backend: webgpu or wasm');
        args.backend = value;
        break;
      case '--runs':
        args.runs = Number(value);
        break;
      case '--out':
        args.out = path.resolve(value);
        break;
      default:
        throw new Error(`unknown option ${argv[i - 1]}`);
    }
  }
  if (!args.model || !args.reference)
    throw new Error(
      'usage: npm run bench:real -- --model <diffusers folder> --reference <reference folder> [--precision …] [--backend …] [--runs N] [--out file]',
    );
  return args as Args;
}

interface RefArray {
  file: string;
  shape: number[];
}

function compare(actual: Float32Array, expected: Float32Array): { maxAbs: number; relL2: number } {
  return { maxAbs: maxAbs(actual, expected), relL2: relativeL2(actual, expected) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let rssPeak = 0;
  // unref: a failure while loading must end the process, not leave it waiting on the sampler.
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 100).unref();
  const report: Record<string, unknown> = {
    model: args.model,
    precision: args.precision,
    backend: args.backend,
    startedEpochMs: Date.now(),
  };
  const log = (message: string) => console.error(`[bench:real ${((performance.now() - started) / 1000).toFixed(1)} s] ${message}`);
  const started = performance.now();
  await useNodeBackendAsync(args.backend);
  const manifest = JSON.parse(await readFile(path.join(args.reference, 'reference.json'), 'utf8')) as {
    arrays: Record<string, RefArray>;
    cases: { size: number | string; latent?: number; latentHeight?: number; latentWidth?: number }[];
    loop?: { size?: number; latentHeight?: number; latentWidth?: number; steps: number; guidance: number };
    timings_ms: Record<string, number>;
  };
  const array = async (name: string): Promise<Float32Array> => {
    const spec = manifest.arrays[name];
    if (!spec) throw new Error(`reference has no ${name}`);
    const bytes = await readFile(path.join(args.reference, spec.file));
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  };

  // 1. Load: graphs built from the checkpoint, weights converted, sessions created
  const attention = await decideAttentionKernelAsync(args.backend);
  report.attentionKernel = attention;
  log(`attention kernel: ${attention.kernel}${attention.note ? ` (${attention.note})` : ''}`);
  const probe = args.backend === 'webgpu' ? await probeWebGpuAsync() : undefined;
  const shaderF16 = probe?.shaderF16 ?? false;
  const adapterFeatures = probe?.features ?? [];
  report.adapterFeatures = adapterFeatures;
  if (adapterFeatures.length) log(`adapter features: ${adapterFeatures.join(', ')}`);
  const subgroupMatrixConfigs = probe?.subgroupMatrixConfigs ?? [];
  report.subgroupMatrixConfigs = subgroupMatrixConfigs;
  if (probe) log(`subgroup-matrix configurations: ${subgroupMatrixConfigs.join(', ') || 'none'}`);
  let mark = performance.now();
  const files = await openPackageAsync({ kind: 'files', files: await openFolderAsync(args.model), description: args.model });
  const pkg = await readSd3PackageFilesAsync(files, {
    backend: args.backend,
    shaderF16,
    precision: args.precision,
    attention: attention.kernel,
  });
  report.buildAndConvertMs = performance.now() - mark;
  report.weightBytes = pkg.weightBytes;
  log(`graphs built and weights converted (${((pkg.weightBytes ?? 0) / 1e9).toFixed(2)} GB)`);
  mark = performance.now();
  const runtime = await createSd3RuntimeAsync(pkg, args.backend);
  report.sessionCreateMs = performance.now() - mark;
  log('sessions created');
  const { in_channels: channels, joint_attention_dim: D, pooled_projection_dim: P } = pkg.transformer.config;
  const embeds = await array('encoder_hidden_states');
  const pooled = await array('pooled_projections');
  const S = embeds.length / (2 * D);

  try {
    // 2. Step 0 at each size, then the step time
    const steps: Record<string, unknown>[] = [];
    for (const { size, latent, latentHeight = latent!, latentWidth = latent! } of manifest.cases) {
      const x = await array(`step0_${size}_hidden_states`);
      const t = await array(`step0_${size}_timestep`);
      const feeds = {
        hidden_states: { type: 'float32' as const, data: x, dims: [2, channels, latentHeight, latentWidth] },
        timestep: { type: 'float32' as const, data: t, dims: [2] },
        encoder_hidden_states: { type: 'float32' as const, data: embeds, dims: [2, S, D] },
        pooled_projections: { type: 'float32' as const, data: pooled, dims: [2, P] },
      };
      mark = performance.now();
      const first = await runtime.transformer.runAsync(feeds);
      const firstRunMs = performance.now() - mark;
      const out = floatOutput(first, 'out_hidden_states', 'transformer', x.length);
      const error = compare(out, await array(`step0_${size}_out_fp32`));
      const times: number[] = [];
      for (let r = 0; r < args.runs; r++) {
        mark = performance.now();
        await runtime.transformer.runAsync(feeds);
        times.push(performance.now() - mark);
      }
      const stepMs = median(times);
      const torchFp16 = manifest.timings_ms[`torch_fp16_step_${size}`];
      const torchFp32 = manifest.timings_ms[`torch_fp32_step_${size}`];
      steps.push({
        size,
        firstRunMs,
        stepMs,
        stepTimes: times,
        ...error,
        torchFp16Ms: torchFp16,
        torchFp32Ms: torchFp32,
        ratioToTorchFp16: torchFp16 ? stepMs / torchFp16 : undefined,
      });
      log(
        `${size}²: step-0 max|err| ${error.maxAbs.toExponential(2)} relL2 ${error.relL2.toExponential(2)}; step ${stepMs.toFixed(1)} ms (PyTorch fp16 ${torchFp16?.toFixed(1)} ms)`,
      );
    }
    report.steps = steps;

    // 3. The 4-step loop and its decode, against diffusers
    if (manifest.loop) {
      const { size, steps: n, guidance } = manifest.loop;
      const latentHeight = manifest.loop.latentHeight ?? size! / 8;
      const latentWidth = manifest.loop.latentWidth ?? size! / 8;
      const scheduler = createScheduler(pkg);
      scheduler.setTimesteps(n);
      const reference = await array('loop_latents_after_each_step');
      const noise = await array('loop_noise');
      let worst = { maxAbs: 0, relL2: 0 };
      const loopStarted = performance.now();
      const final = await forEachDenoiseStepAsync(
        denoiseLatents({
          runtime,
          scheduler,
          latents: noise,
          latentShape: { channels, height: latentHeight, width: latentWidth },
          conditioning: { embeds, pooled, batch: 2, sequenceLength: S },
          guidance,
        }),
        async (step) => {
          const e = compare(await step.readLatentsAsync(), reference.subarray((step.step - 1) * noise.length, step.step * noise.length));
          worst = { maxAbs: Math.max(worst.maxAbs, e.maxAbs), relL2: Math.max(worst.relL2, e.relL2) };
        },
      );
      const loopMs = performance.now() - loopStarted;
      const vaeInput = compare(latentsToVaeInput(final, pkg.vaeDecoder.config), await array('loop_vae_decoder_input'));
      mark = performance.now();
      const decoded = await decodeLatentsAsync(runtime.vaeDecoder, pkg, final, latentHeight, latentWidth);
      const decodeMs = performance.now() - mark;
      const image = compare(denormalizeVaeOutput(decoded.raw, decoded.channels, decoded.height, decoded.width), await array('loop_image'));
      report.loop = { size, steps: n, latents: worst, vaeInput, image, decodeMs, loopMsWithPerStepReads: loopMs };
      log(
        `4-step loop: latents relL2 ${worst.relL2.toExponential(2)}, image max|err| ${image.maxAbs.toExponential(2)} relL2 ${image.relL2.toExponential(2)}`,
      );
    }

    // 4. Full-size text encoders on fixed ids
    if (runtime.textEncoders.size > 0 && manifest.arrays.text_encoder_input_ids) {
      const encoders: Record<string, unknown> = {};
      for (const component of pkg.textEncoders) {
        const session = runtime.textEncoders.get(component.name)!;
        const ids = await array(`${component.name}_input_ids`);
        const input = BigInt64Array.from(ids, (v) => BigInt(Math.round(v)));
        mark = performance.now();
        const outputs = await session.runAsync({ input_ids: { type: 'int64', data: input, dims: [1, ids.length] } });
        const ms = performance.now() - mark;
        if (component.kind === 't5') {
          encoders[component.name] = {
            ms,
            lastHiddenState: compare(outputs.last_hidden_state.data as Float32Array, await array('text_encoder_3_last_hidden_state')),
          };
        } else {
          const penultimate = `hidden_states.${component.lastHiddenStateIndex! - 1}`;
          encoders[component.name] = {
            ms,
            penultimate: compare(outputs[penultimate].data as Float32Array, await array(`${component.name}_penultimate`)),
            textEmbeds: compare(outputs.text_embeds.data as Float32Array, await array(`${component.name}_text_embeds`)),
          };
        }
      }
      report.textEncoders = encoders;
      log(`text encoders: ${JSON.stringify(encoders)}`);
    }
  } finally {
    await releaseSd3RuntimeAsync(runtime);
    clearInterval(sampler);
  }
  report.hostRssPeakBytes = rssPeak;
  report.totalMs = performance.now() - started;
  const text = JSON.stringify(report, null, 1);
  console.log(text);
  if (args.out) await writeFile(args.out, text);
}

main().catch((error) => {
  console.error(`bench:real: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  // A GPU device or session left open would keep Node alive after the failure; the run is over.
  process.exit(1);
});
