/**
 * Engine benchmark (npm run bench -- --help for the options):
 *   npm run bench -- [--backend wasm|webgpu] [--model dir] [--size WxH] [--steps 8] [--guidance 4] [--runs 3] [--out report.json]
 * Creates the sessions on the backend (WASM: onnxruntime-web's WASM build; WebGPU: Dawn for Node
 * and onnxruntime-web's WebGPU EP), generates --runs images through the engine's pipeline and
 * prints every stage cold (first in this process) and warm (median of the later images), with the
 * process-level cold start and peak memory. On WASM the same graphs also run on onnxruntime-node's
 * CPU EP (the native peer) with same-shaped inputs, for the WASM/native ratio. Without --model it
 * uses models/default/.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Backend } from '../../common/engine-types.js';
import { median, runStageBenchAsync, type StageRow, formatMs } from '../bench/stage-bench.js';
import { graphCaptureLine, isGraphCaptureChoice, type GraphCaptureChoice } from '../bench/graph-capture-line.js';
import { probeWebGpuAsync } from '../engine/ort-backend.js';
import type { RuntimeOptions } from '../engine/model-family.js';
import { INT8_MATMULS, isInt8MatMul } from '../engine/onnx/layers.js';
import { openPackageAsync } from '../engine/package-source.js';
import { readSd3PackageFilesAsync } from '../engine/sd3/read-sd3-package-files.js';
import { runCli, UsageError } from './cli-errors.js';
import { runNativePeerAsync, type NativeTimings } from './native-peer.js';
import { modelFolderSourceAsync, registerRepoEmbeddedModel, useNodeBackendAsync } from './node-host.js';
import { resolveUserPath } from './user-paths.js';

/** performance.now() counts from the process's start in Node: this is when the tool's modules had loaded. */
const MODULE_LOADED_MS = performance.now();

interface BenchArgs {
  backend: Backend;
  model?: string;
  size?: [number, number];
  steps: number;
  guidance: number;
  runs: number;
  nativeThreads: number;
  graphCapture: GraphCaptureChoice;
  int8MatMul: Int8MatMulChoice;
  out?: string;
}

type Int8MatMulChoice = NonNullable<RuntimeOptions['int8MatMul']>;

export const BENCH_USAGE = `Usage: npm run bench -- [options]

Times every stage of image generation through the engine's pipeline on one backend, cold (first in
this process) and warm (median of the later images), with peak memory. On WASM the same graphs
also run on onnxruntime-node's CPU EP (the native peer) for comparison.

      --backend <name>         wasm (default) or webgpu (Dawn for Node; set FLOWFILL_DAWN_FLAGS for Dawn toggles)
      --model <folder>         a model package folder (default: models/default/)
      --size <W>x<H>           image size in pixels (default: the model's native size)
      --steps <n>              denoising steps (default: 8)
      --guidance <g>           guidance; above 1 runs CFG at batch 2 (default: 4)
      --runs <n>               images on the same sessions; the first is cold, the rest give warm medians (default: 3)
      --native-threads <n>     intra-op threads of the native peer, WASM only (default: 1)
      --graph-capture <auto|on|off>  WebGPU: replay the denoising loop from a capture (default auto: small
                               transformers); when images were replayed, the last one is made again
                               without and the difference printed
      --int8-matmul <auto|dequantized|dynamic-quantized>  how a package's int8 transformer weights
                               multiply (default auto: dynamic-quantized on WASM; the native peer
                               always runs the package's graph as shipped, i.e. dequantized)
      --out <file.json>        also write the report as JSON
  -h, --help                   show this help and exit`;

function parseBenchArgs(argv: string[]): BenchArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        backend: { type: 'string' },
        model: { type: 'string' },
        size: { type: 'string' },
        steps: { type: 'string' },
        guidance: { type: 'string' },
        runs: { type: 'string' },
        'native-threads': { type: 'string' },
        'graph-capture': { type: 'string' },
        'int8-matmul': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const { values } = parsed;
  if (values.help) return 'help';
  const positiveInteger = (flag: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected a positive integer`);
    return n;
  };
  if (values.backend !== undefined && values.backend !== 'wasm' && values.backend !== 'webgpu') {
    throw new UsageError(`--backend ${JSON.stringify(values.backend)}: expected wasm or webgpu`);
  }
  const capture = values['graph-capture'] ?? 'auto';
  if (!isGraphCaptureChoice(capture)) throw new UsageError(`--graph-capture ${JSON.stringify(capture)}: expected auto, on or off`);
  const int8MatMul = values['int8-matmul'] ?? 'auto';
  if (int8MatMul !== 'auto' && !isInt8MatMul(int8MatMul))
    throw new UsageError(`--int8-matmul ${JSON.stringify(int8MatMul)}: expected auto, ${INT8_MATMULS.join(', ')}`);
  const args: BenchArgs = {
    backend: values.backend ?? 'wasm',
    graphCapture: capture,
    int8MatMul,
    steps: positiveInteger('steps', values.steps, 8),
    guidance: values.guidance === undefined ? 4 : Number(values.guidance),
    runs: positiveInteger('runs', values.runs, 3),
    nativeThreads: positiveInteger('native-threads', values['native-threads'], 1),
  };
  if (!(args.guidance >= 0)) throw new UsageError(`--guidance ${JSON.stringify(values.guidance)}: expected a number of 0 or more`);
  if (values.model !== undefined) args.model = resolveUserPath(values.model);
  if (values.out !== undefined) {
    if (!values.out.endsWith('.json'))
      throw new UsageError(`--out ${JSON.stringify(values.out)}: expected a .json file name, e.g. bench.json`);
    args.out = resolveUserPath(values.out);
  }
  if (values.size !== undefined) {
    const match = /^(\d+)x(\d+)$/.exec(values.size);
    if (!match) throw new UsageError(`--size ${JSON.stringify(values.size)}: expected <width>x<height>, e.g. 256x256`);
    args.size = [Number(match[1]), Number(match[2])];
  }
  return args;
}

/** Samples process memory every 20 ms, keeping the peak of each phase (the backend, native) apart. */
class PeakMemory {
  readonly peaks = new Map<string, { rss: number; arrayBuffers: number }>();
  private timer?: ReturnType<typeof setInterval>;
  constructor(private current: string) {}
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

/** The native peer's runs as rows named like the engine's. */
function nativeRows(runs: NativeTimings[]): Map<string, StageRow> {
  const rows = new Map<string, StageRow>();
  if (runs.length === 0) return rows;
  const add = (stage: string, pick: (t: NativeTimings) => number): void => {
    const later = runs.slice(1).map(pick);
    rows.set(stage, { stage, coldMs: pick(runs[0]), ...(later.length ? { warmMs: median(later) } : {}) });
  };
  add('session creation (all graphs)', (t) => t.sessionCreateMs);
  add('text encoding', (t) => t.textEncodeMs);
  add('denoise step, first', (t) => t.denoiseStepMs[0]);
  add('denoise step, median', (t) => median(t.denoiseStepMs));
  add('VAE decode', (t) => t.vaeDecodeMs);
  return rows;
}

/**
 * The adapter Dawn gives (vendor, architecture, description) and the features it offers — whether
 * e.g. `chromium-experimental-subgroup-matrix` (tensor-core matrix multiplies) is there says which of
 * onnxruntime's kernels are possible; an error saying what to do when there is no adapter.
 */
async function describeAdapterAsync(): Promise<{ description: string; features: string[]; subgroupMatrixConfigs: string[] }> {
  const probe = await probeWebGpuAsync();
  if (!probe.adapter) {
    throw new Error(
      '--backend webgpu: Dawn for Node found no GPU adapter (it needs a Vulkan driver; on a machine without a GPU, SwiftShader: ' +
        'LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json); use --backend wasm',
    );
  }
  const { vendor, architecture, description } = probe.adapter;
  return {
    description: [vendor, architecture, description].filter(Boolean).join(' / ') || 'adapter without a description',
    features: probe.features ?? [],
    subgroupMatrixConfigs: probe.subgroupMatrixConfigs ?? [],
  };
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args === 'help') {
    console.log(BENCH_USAGE);
    return;
  }
  registerRepoEmbeddedModel();
  const source = args.model ? await modelFolderSourceAsync(args.model) : { kind: 'embedded' as const };
  const pkg = await readSd3PackageFilesAsync(await openPackageAsync(source));
  await useNodeBackendAsync(args.backend);
  const adapter = args.backend === 'webgpu' ? await describeAdapterAsync() : undefined;
  const [width, height] = args.size ?? [pkg.geometry.nativeSize, pkg.geometry.nativeSize];
  const memory = new PeakMemory(args.backend);
  memory.start();
  const benchStarted = performance.now();
  // Wall-clock marks, so samplers outside the process (nvidia-smi) can cut their logs by phase.
  const phases: { phase: string; epochMs: number }[] = [{ phase: 'bench started', epochMs: Date.now() }];
  const result = await runStageBenchAsync(pkg, {
    backend: args.backend,
    width,
    height,
    steps: args.steps,
    guidance: args.guidance,
    images: args.runs,
    runtimeOptions: { graphCapture: args.graphCapture, int8MatMul: args.int8MatMul },
    onPhase: (phase) => {
      phases.push({ phase, epochMs: Date.now() });
      process.stderr.write(`${args.backend}: ${phase}\n`);
    },
  });
  const firstPngFromStart = benchStarted + result.firstPngMs;

  const native: NativeTimings[] = [];
  if (args.backend === 'wasm') {
    memory.phase('native');
    for (let run = 0; run < args.runs; run++) {
      native.push(
        await runNativePeerAsync(pkg, { width: result.width, height: result.height }, args.steps, result.cfg, args.nativeThreads),
      );
      memory.sample();
      process.stderr.write(`native: run ${run + 1}/${args.runs}\n`);
    }
  }
  memory.stop();

  const backendWords =
    args.backend === 'wasm' ? 'onnxruntime-web WASM, 1 thread' : `onnxruntime-web WebGPU EP on Dawn for Node (${adapter?.description})`;
  console.log(
    `model ${pkg.name} (${pkg.id}); ${result.width}x${result.height}, ${args.steps} steps, guidance ${args.guidance} (${result.cfg ? 'CFG, batch 2' : 'no CFG'}), ${args.runs} image(s)`,
  );
  console.log(
    `backend: ${backendWords}${native.length ? `; native peer: onnxruntime-node CPU EP, ${args.nativeThreads} intra-op thread(s)` : ''}; node ${process.version}, ${process.platform}/${process.arch}`,
  );
  if (adapter) {
    console.log(`adapter features: ${adapter.features.join(', ') || 'none'}`);
    console.log(`subgroup-matrix configurations: ${adapter.subgroupMatrixConfigs.join(', ') || 'none'}`);
  }
  console.log(
    `cold = first in this process; warm = median of the later images (session creation: a second creation)${native.length ? '; wasm/native compares warm times (cold with one image)' : ''}`,
  );
  const nativeByStage = nativeRows(native);
  const header = ['stage', 'cold ms', 'warm ms', ...(native.length ? ['native cold ms', 'native warm ms', 'wasm/native'] : [])];
  const table = result.rows.map((row) => {
    const cells = [row.stage, formatMs(row.coldMs), formatMs(row.warmMs)];
    if (native.length) {
      const peer = nativeByStage.get(row.stage);
      const ours = row.warmMs ?? row.coldMs;
      const theirs = peer ? (peer.warmMs ?? peer.coldMs) : undefined;
      // Sub-0.1 ms stages (e.g. zero embeddings without a text encoder) have no meaningful ratio.
      const ratio = theirs === undefined || ours < 0.1 || theirs < 0.1 ? '—' : (ours / theirs).toFixed(2);
      cells.push(formatMs(peer?.coldMs), formatMs(peer?.warmMs), ratio);
    }
    return cells;
  });
  printTable(header, table);
  console.log(
    `cold start: process start to first PNG ${formatMs(firstPngFromStart)} ms; tool modules loaded at ${formatMs(MODULE_LOADED_MS)} ms; module load to first PNG ${formatMs(firstPngFromStart - MODULE_LOADED_MS)} ms`,
  );
  if (args.backend === 'webgpu') console.log(graphCaptureLine(result.graphCapture, args.runs));
  const { mode, rebuildMs, fallback } = result.int8MatMul;
  console.log(
    `transformer int8 MatMul: ${mode} (--int8-matmul ${args.int8MatMul})${rebuildMs ? `; graph rebuilt in ${formatMs(rebuildMs)} ms` : ''}${fallback ? `; kept as shipped: ${fallback}` : ''}`,
  );
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  for (const [phase, peak] of memory.peaks) {
    console.log(
      `peak memory during ${phase} (process.memoryUsage, cumulative): rss ${mib(peak.rss)}, arrayBuffers ${mib(peak.arrayBuffers)}`,
    );
  }
  if (pkg.textEncoders.length === 0) console.log('note: this model has no text encoder; text encoding is building zero embeddings');
  if (args.out) {
    const report = {
      ...result,
      node: process.version,
      ...(adapter
        ? {
            adapter: adapter.description,
            adapterFeatures: adapter.features,
            subgroupMatrixConfigs: adapter.subgroupMatrixConfigs,
          }
        : {}),
      processStartToFirstPngMs: firstPngFromStart,
      moduleLoadedMs: MODULE_LOADED_MS,
      moduleLoadToFirstPngMs: firstPngFromStart - MODULE_LOADED_MS,
      processStartEpochMs: performance.timeOrigin,
      phases,
      peakMemory: Object.fromEntries(memory.peaks),
      ...(native.length ? { native: { threads: args.nativeThreads, rows: [...nativeByStage.values()] } } : {}),
    };
    await writeFile(args.out, `${JSON.stringify(report, null, 1)}\n`);
    console.log(`report written to ${args.out}`);
  }
}

runCli('bench', async () => {
  try {
    await main();
  } finally {
    // Dawn for Node can keep the event loop alive after its last use (seen after a failed adapter
    // request): an unattended GPU run must not hang. An unref'd timer never holds a process that
    // would exit on its own; runCli has set the exit status by the time it fires.
    setTimeout(() => process.exit(), 2000).unref();
  }
});
