/**
 * What this host gives the engine, for the report a first user sends: the worker's context,
 * whether WebAssembly (and its SIMD and threads) compiles, the WebGPU adapter (vendor,
 * architecture, fallback or not, features, subgroup sizes, the limits that bound model and
 * attention sizes), which onnxruntime build runs and how, and a self-test on each backend with its
 * timings: session creation, first run (on WebGPU mostly shader compiles) and the median run, plus
 * the fused-attention check (self-test-graphs.ts).
 */
import { maxAbs } from '../parity/compare-arrays.js';
import type {
  AttentionCheck,
  Backend,
  Capabilities,
  EngineDiagnostics,
  GpuAdapterReport,
  SelfTestResult,
} from '../../common/engine-types.js';
import { createSessionAsync, type BackendSession } from '../engine/ort-backend.js';
import { ATTENTION_CHECK, buildAttentionCheckAsync, buildMlpSelfTestAsync, type SelfTestGraph } from './self-test-graphs.js';

export interface DiagnosticsContext {
  capabilities(): Promise<Capabilities>;
  /** onnxruntime's env (version, wasm settings). */
  ortEnv: { versions?: Record<string, string | undefined>; wasm: { numThreads?: number; proxy?: boolean } };
  /** Which ORT build the worker bundles, in words. */
  ortBuild: string;
}

/** Tolerance of the self-tests against float64 JavaScript: float32 kernels are within 1e-5 here. */
const TOLERANCE = 1e-3;
const STEP_RUNS = 5;

/** Tiny modules: an empty one, one using v128 (SIMD) and one using shared memory atomics (threads), as wasm-feature-detect has them. */
const WASM_EMPTY = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
const WASM_SIMD = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
const WASM_THREADS = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11,
]);

export function webAssemblyReport(): EngineDiagnostics['webAssembly'] {
  try {
    new WebAssembly.Module(WASM_EMPTY);
  } catch (error) {
    return {
      compiles: false,
      simd: false,
      threads: false,
      error: `WebAssembly does not compile here: ${error instanceof Error ? error.message : String(error)} (a Content-Security-Policy without 'wasm-unsafe-eval'?)`,
    };
  }
  const threads =
    WebAssembly.validate(WASM_THREADS) &&
    typeof SharedArrayBuffer === 'function' &&
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return { compiles: true, simd: WebAssembly.validate(WASM_SIMD), threads };
}

interface GpuAdapterLike {
  features: Iterable<string>;
  limits: Record<string, number>;
  info?: {
    vendor?: string;
    architecture?: string;
    device?: string;
    description?: string;
    isFallbackAdapter?: boolean;
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  isFallbackAdapter?: boolean;
}

const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];

export async function webGpuReportAsync(): Promise<EngineDiagnostics['webgpu']> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } } }).navigator?.gpu;
  if (!gpu) return { available: false, reason: 'no navigator.gpu in the engine worker (WebGPU is off, or this is not a secure context)' };
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (error) {
    return { available: false, reason: `requestAdapter failed: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!adapter) return { available: false, reason: 'navigator.gpu.requestAdapter() returned no adapter (a blocklisted GPU or driver?)' };
  const info = adapter.info ?? {};
  const limits: Record<string, number> = {};
  for (const name of LIMITS) if (typeof adapter.limits[name] === 'number') limits[name] = adapter.limits[name];
  const report: GpuAdapterReport = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false,
    features: [...adapter.features].sort(),
    ...(typeof info.subgroupMinSize === 'number' ? { subgroupMinSize: info.subgroupMinSize } : {}),
    ...(typeof info.subgroupMaxSize === 'number' ? { subgroupMaxSize: info.subgroupMaxSize } : {}),
    limits,
  };
  return { available: true, adapter: report };
}

/** Creates, runs once, then runs STEP_RUNS more times; compares with the reference. */
async function runSelfTestAsync(
  graph: SelfTestGraph,
  backend: Backend,
): Promise<{ loadMs: number; firstRunMs: number; stepMs: number; maxAbsError: number }> {
  const feeds = Object.fromEntries(
    Object.entries(graph.feeds).map(([name, t]) => [name, { type: 'float32' as const, data: t.data, dims: t.dims }]),
  );
  let started = performance.now();
  const session: BackendSession = await createSessionAsync({ label: `self-test ${graph.name}`, model: graph.model, backend });
  try {
    const loadMs = performance.now() - started;
    started = performance.now();
    const first = await session.runAsync(feeds);
    const firstRunMs = performance.now() - started;
    const times: number[] = [];
    for (let i = 0; i < STEP_RUNS; i++) {
      started = performance.now();
      await session.runAsync(feeds);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const output = first[graph.output];
    if (!output || output.type !== 'float32') throw new Error(`no float32 output "${graph.output}"`);
    return { loadMs, firstRunMs, stepMs: times[Math.floor(times.length / 2)], maxAbsError: maxAbs(output.data, graph.expected) };
  } finally {
    await session.releaseAsync();
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function runDiagnosticsAsync(context: DiagnosticsContext): Promise<EngineDiagnostics> {
  const scope = globalThis as {
    isSecureContext?: boolean;
    crossOriginIsolated?: boolean;
    navigator?: { hardwareConcurrency?: number; userAgent?: string };
  };
  const webAssembly = webAssemblyReport();
  const webgpu = await webGpuReportAsync();
  const capabilities = await context.capabilities();
  const backends: Backend[] = webgpu.available ? ['wasm', 'webgpu'] : ['wasm'];
  const [mlp, attention] = await Promise.all([buildMlpSelfTestAsync(), buildAttentionCheckAsync()]);

  const selfTests: SelfTestResult[] = [];
  const attentionChecks: AttentionCheck[] = [];
  for (const backend of backends) {
    try {
      const result = await runSelfTestAsync(mlp, backend);
      selfTests.push({
        backend,
        ok: result.maxAbsError <= TOLERANCE,
        loadMs: round(result.loadMs),
        firstRunMs: round(result.firstRunMs),
        stepMs: round(result.stepMs),
        maxAbsError: result.maxAbsError,
        ...(result.maxAbsError <= TOLERANCE ? {} : { error: `max |error| ${result.maxAbsError.toExponential(2)} exceeds ${TOLERANCE}` }),
      });
    } catch (error) {
      selfTests.push({ backend, ok: false, error: message(error) });
    }
    try {
      const result = await runSelfTestAsync(attention, backend);
      const ok = result.maxAbsError <= TOLERANCE;
      attentionChecks.push({
        backend,
        ...ATTENTION_CHECK,
        maxAbsError: result.maxAbsError,
        ok,
        ...(ok ? {} : { error: `fused MultiHeadAttention is wrong here: max |error| ${result.maxAbsError.toExponential(2)}` }),
      });
    } catch (error) {
      attentionChecks.push({ backend, ...ATTENTION_CHECK, ok: false, error: message(error) });
    }
  }
  return {
    worker: {
      secureContext: scope.isSecureContext === true,
      crossOriginIsolated: scope.crossOriginIsolated === true,
      ...(scope.navigator?.hardwareConcurrency !== undefined ? { hardwareConcurrency: scope.navigator.hardwareConcurrency } : {}),
      ...(scope.navigator?.userAgent ? { userAgent: scope.navigator.userAgent } : {}),
    },
    webAssembly,
    webgpu,
    ort: {
      version: context.ortEnv.versions?.web ?? context.ortEnv.versions?.common ?? 'unknown',
      build: context.ortBuild,
      wasmThreads: context.ortEnv.wasm.numThreads ?? 1,
      proxy: context.ortEnv.wasm.proxy ?? false,
    },
    backend: capabilities.backend,
    ...(capabilities.fallbackReason ? { fallbackReason: capabilities.fallbackReason } : {}),
    selfTests,
    attention: attentionChecks,
  };
}
