/**
 * Engine benchmark:
 *   npm run bench -- [--model dir] [--size WxH] [--steps 8] [--guidance 4] [--runs 3] [--native-threads 1]
 * Each run creates the sessions, generates one image through the engine's pipeline on
 * onnxruntime-web WASM, then runs the same graphs with same-shaped inputs on onnxruntime-node's
 * CPU EP (the native peer), in the same process. Prints the medians over runs of every stage,
 * the WASM/native ratio, and peak memory. Without --model it uses models/default/.
 */
import type { GenerationRequest } from '../../common/engine-types.js';
import { openPackageAsync } from '../engine/package-source.js';
import { generateAsync } from '../engine/sd3/pipeline.js';
import { readSd3PackageFilesAsync } from '../engine/sd3/read-sd3-package-files.js';
import { createSd3RuntimeAsync, releaseSd3RuntimeAsync } from '../engine/sd3/runtime.js';
import { runNativePeerAsync } from './native-peer.js';
import { readFolderAsync, registerRepoEmbeddedModel } from './node-host.js';

interface BenchArgs {
  model?: string;
  size?: [number, number];
  steps: number;
  guidance: number;
  runs: number;
  nativeThreads: number;
}

function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = { steps: 8, guidance: 4, runs: 3, nativeThreads: 1 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--model': args.model = value; break;
      case '--size': {
        const match = /^(\d+)x(\d+)$/.exec(value ?? '');
        if (!match) throw new Error('--size needs WxH, e.g. 512x512');
        args.size = [Number(match[1]), Number(match[2])];
        break;
      }
      case '--steps': args.steps = Number(value); break;
      case '--guidance': args.guidance = Number(value); break;
      case '--runs': args.runs = Number(value); break;
      case '--native-threads': args.nativeThreads = Number(value); break;
      default: throw new Error(`unknown option ${argv[i]}; usage: npm run bench -- [--model dir] [--size WxH] [--steps N] [--runs R] [--guidance g] [--native-threads T]`);
    }
    i += 1;
  }
  for (const key of ['steps', 'runs', 'nativeThreads'] as const) {
    if (!Number.isInteger(args[key]) || args[key] < 1) throw new Error(`--${key} must be a positive integer, got ${args[key]}`);
  }
  return args;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Samples process memory every 20 ms, keeping the peak of each phase (wasm, native) apart. */
class PeakMemory {
  readonly peaks = new Map<string, { rss: number; arrayBuffers: number }>();
  private current = 'wasm';
  private timer?: ReturnType<typeof setInterval>;
  start(): void {
    this.timer = setInterval(() => this.sample(), 20);
  }
  phase(name: string): void {
    this.sample();
    this.current = name;
    this.sample();
  }
  sample(): void {
    const usage = process.memoryUsage();
    const peak = this.peaks.get(this.current) ?? { rss: 0, arrayBuffers: 0 };
    peak.rss = Math.max(peak.rss, usage.rss);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, usage.arrayBuffers);
    this.peaks.set(this.current, peak);
  }
  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  registerRepoEmbeddedModel();
  const source = args.model ? { kind: 'files' as const, files: await readFolderAsync(args.model) } : { kind: 'embedded' as const };
  const pkg = await readSd3PackageFilesAsync(await openPackageAsync(source));
  const [width, height] = args.size ?? [pkg.geometry.nativeSize, pkg.geometry.nativeSize];
  const cfg = args.guidance > 1;
  const web = { session: [] as number[], text: [] as number[], step: [] as number[], vae: [] as number[], total: [] as number[] };
  const native = { session: [] as number[], text: [] as number[], step: [] as number[], vae: [] as number[], total: [] as number[] };
  const memory = new PeakMemory();
  memory.start();
  for (let run = 0; run < args.runs; run++) {
    // onnxruntime-web, WASM: the engine's own pipeline.
    memory.phase('wasm');
    const runtime = await createSd3RuntimeAsync(pkg, 'wasm');
    const request: GenerationRequest = { jobId: `bench-${run}`, prompt: 'a rocket, flat style, on a teal background', width, height, steps: args.steps, guidance: args.guidance, seed: run };
    const result = await generateAsync(runtime, request, { isCancelled: () => false, notes: [] });
    await releaseSd3RuntimeAsync(runtime);
    memory.sample();
    const t = result.timings;
    web.session.push(runtime.sessionCreateMs);
    web.text.push(t.textEncodeMs);
    web.step.push(...t.denoiseStepMs);
    web.vae.push(t.vaeDecodeMs);
    web.total.push(runtime.sessionCreateMs + t.totalMs);

    // onnxruntime-node CPU: the same graphs and shapes.
    memory.phase('native');
    const started = performance.now();
    const peer = await runNativePeerAsync(pkg, { width: result.width, height: result.height }, args.steps, cfg, args.nativeThreads);
    memory.sample();
    native.session.push(peer.sessionCreateMs);
    native.text.push(peer.textEncodeMs);
    native.step.push(...peer.denoiseStepMs);
    native.vae.push(peer.vaeDecodeMs);
    native.total.push(performance.now() - started);
    process.stderr.write(`run ${run + 1}/${args.runs} done\n`);
  }
  memory.stop();

  console.log(`model ${pkg.name} (${pkg.id}); ${width}x${height}, ${args.steps} steps, guidance ${args.guidance} (${cfg ? 'CFG, batch 2' : 'no CFG'}), ${args.runs} runs, medians`);
  console.log(`web: onnxruntime-web WASM, 1 thread; native peer: onnxruntime-node CPU EP, ${args.nativeThreads} intra-op thread(s); node ${process.version}, ${process.platform}/${process.arch}`);
  const rows: Record<string, { 'wasm ms': string; 'native ms': string; 'wasm/native': string }> = {};
  const add = (stage: string, a: number[], b: number[]): void => {
    const wa = median(a);
    const na = median(b);
    // Sub-0.1 ms stages (e.g. zero embeddings without a text encoder) have no meaningful ratio.
    const ratio = wa < 0.1 || na < 0.1 ? 'n/a' : (wa / na).toFixed(2);
    rows[stage] = { 'wasm ms': wa.toFixed(1), 'native ms': na.toFixed(1), 'wasm/native': ratio };
  };
  add('session creation (all graphs)', web.session, native.session);
  add('text encoding', web.text, native.text);
  add('denoise step', web.step, native.step);
  add('VAE decode', web.vae, native.vae);
  add('total (sessions + image)', web.total, native.total);
  console.table(rows);
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  for (const [phase, peak] of memory.peaks) {
    console.log(`peak memory during ${phase} (process.memoryUsage, cumulative): rss ${mib(peak.rss)}, arrayBuffers ${mib(peak.arrayBuffers)}`);
  }
  if (pkg.textEncoders.length === 0) console.log('note: this model has no text encoder; text encoding is building zero embeddings');
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
