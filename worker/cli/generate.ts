/**
 * One image from the command line, through the same engine the plugin's worker runs:
 *   npm run generate -- "rocket, flat style, on a teal background" --size 256x256 -o rocket.png
 * `--help` lists the options (generate-args.ts). Everything that can be wrong with the command
 * line is found before the model's sessions are created: the arguments, the output path, the
 * init image, the model folder, and the request against the model's own limits.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GenerationRequest, InitImage, ModelInfo } from '../../common/engine-types.js';
import { planGenerationSize } from '../../common/resolution-planner.js';
import { createEngine } from '../engine/engine.js';
import { engineErrorCodeOf } from '../engine/engine-error.js';
import { loadModelPackageAsync } from '../engine/load-model-package.js';
import { deriveGeometry, readTransformerConfig, readVaeConfig } from '../engine/sd3/configs.js';
import { runCli, UsageError } from './cli-errors.js';
import { generateUsage, parseGenerateArgs, type DefaultModelSizes, type GenerateArgs } from './generate-args.js';
import { DEFAULT_MODEL_DIR, modelFolderSourceAsync, registerRepoEmbeddedModel, useNodeBackendAsync } from './node-host.js';
import { checkOutputPathAsync } from './output-path.js';
import { ProgressLine } from './progress-line.js';
import { readImageFileAsync } from './read-image-file.js';
import { displayPath, resolveUserPath } from './user-paths.js';

/** SD3's defaults when the model recommends nothing (diffusers StableDiffusion3Pipeline.__call__). */
const SD3_STEPS = 28;
const SD3_GUIDANCE = 7;

/** The embedded model's sizes for --help, read from its configs; undefined when it is not there. */
async function defaultModelSizesAsync(): Promise<DefaultModelSizes | undefined> {
  try {
    const json = async (rel: string) => JSON.parse(await readFile(path.join(DEFAULT_MODEL_DIR, rel), 'utf8')) as Record<string, unknown>;
    const transformer = readTransformerConfig('transformer/config.json', await json('transformer/config.json'));
    const vae = readVaeConfig('vae_decoder/config.json', await json('vae_decoder/config.json'));
    return deriveGeometry(transformer, vae);
  } catch {
    return undefined;
  }
}

/**
 * The request the command line asks for. Without --size: the model's native size, or with --init
 * the size the planner gives the init image's shape (as the plugin sizes a frame).
 */
function buildRequest(
  args: GenerateArgs,
  model: Pick<ModelInfo, 'nativeSize' | 'maxSide' | 'sizeMultiple' | 'recommended'>,
  init?: InitImage,
): GenerationRequest {
  const size =
    args.size ?? (init ? planGenerationSize(init.width, init.height, model) : { width: model.nativeSize, height: model.nativeSize });
  return {
    jobId: 'cli',
    prompt: args.prompt,
    ...(args.negative !== undefined ? { negativePrompt: args.negative } : {}),
    width: size.width,
    height: size.height,
    steps: args.steps ?? model.recommended?.steps ?? SD3_STEPS,
    guidance: args.guidance ?? model.recommended?.guidance ?? SD3_GUIDANCE,
    seed: args.seed,
    ...(args.shift !== undefined ? { shift: args.shift } : {}),
    ...(args.strength !== undefined ? { strength: args.strength } : {}),
    ...(init ? { init } : {}),
  };
}

/** A request the model refuses is a command-line mistake: say it with the option names. */
function asUsageError(error: unknown): never {
  if (engineErrorCodeOf(error) !== 'invalid-request') throw error;
  const message = (error as Error).message
    .replace(/^\[invalid-request\] /, '')
    .replace(/^width /, '--size width ')
    .replace(/^height /, '--size height ')
    .replace(/^(steps|guidance|seed|shift|strength) /, '--$1 ')
    .replace(/^init image given/, '--init given')
    .replace(/drop init for text-to-image/, 'drop --init for text-to-image');
  throw new UsageError(message);
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(): Promise<void> {
  // 1. The command line
  const parsed = parseGenerateArgs(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(`${generateUsage(await defaultModelSizesAsync())}\n`);
    return;
  }
  const args = parsed;

  // 2. Files: where the image goes, the init image, the model folder
  const out = resolveUserPath(args.out);
  await checkOutputPathAsync(out);
  const init = args.init !== undefined ? await readImageFileAsync(resolveUserPath(args.init)) : undefined;
  registerRepoEmbeddedModel();
  const source = args.model !== undefined ? await modelFolderSourceAsync(resolveUserPath(args.model)) : { kind: 'embedded' as const };

  // 3. The package, and the request checked against it (no session yet)
  const loadStarted = performance.now();
  const pkg = await loadModelPackageAsync(source);
  const request = buildRequest(args, pkg.summary, init);
  try {
    pkg.checkRequest(request);
  } catch (error) {
    asUsageError(error);
  }

  // 4. Sessions
  await useNodeBackendAsync(args.backend);
  const engine = createEngine({
    backend: args.backend,
    ...(args.memoryBudgetBytes !== undefined ? { runtime: { memoryBudgetBytes: args.memoryBudgetBytes } } : {}),
  });
  try {
    const info = await engine.loadPackage(pkg);
    const loadMs = performance.now() - loadStarted;

    // 5. Generate, with a progress line on stderr
    const progress = args.quiet ? undefined : new ProgressLine(process.stderr);
    const result = await engine.generate(request, (p) => progress?.update(p.step, p.total)).finally(() => progress?.finish());

    // 6. Write the image, then report
    await writeFile(out, result.png);
    const t = result.timings;
    const steps = t.denoiseStepMs;
    console.log(`model    ${info.name} (${info.id})`);
    console.log(`backend  ${result.backend}`);
    console.log(
      `size     ${result.width}x${result.height}, ${result.settings.steps} step${result.settings.steps === 1 ? '' : 's'}, guidance ${result.settings.guidance}, seed ${result.seed}`,
    );
    console.log(`load     ${loadMs.toFixed(0)} ms (package check + session creation)`);
    console.log(`text     ${t.textEncodeMs.toFixed(1)} ms`);
    if (t.vaeEncodeMs !== undefined) console.log(`vae enc  ${t.vaeEncodeMs.toFixed(1)} ms`);
    console.log(
      `denoise  ${steps.reduce((a, b) => a + b, 0).toFixed(1)} ms (${steps.length} step${steps.length === 1 ? '' : 's'}, median ${median(steps).toFixed(1)} ms/step)`,
    );
    console.log(`vae dec  ${t.vaeDecodeMs.toFixed(1)} ms`);
    console.log(`total    ${t.totalMs.toFixed(1)} ms`);
    for (const note of new Set(result.notes)) console.log(`note     ${note}`);
    console.log(`wrote    ${displayPath(out)} (${result.png.length} bytes)`);
  } finally {
    await engine.dispose();
  }
}

runCli('generate', main);
