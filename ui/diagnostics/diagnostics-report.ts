/**
 * The diagnostics report: where the panel runs (what the page sees) and what the engine worker
 * found (EngineDiagnostics), as one object and as the plain text a user pastes into an issue.
 */
import type { EngineDiagnostics, ModelInfo, StoreStatus } from '../../common/engine-types.js';
import { formatBytes } from '../engine/model-library.js';

/** What the panel's page sees about itself. */
export interface PageContext {
  /** 'embedded': everything inside the plugin's ui.html; 'hosted': the app from its origin. */
  mode: 'embedded' | 'hosted';
  /** location.href, shortened (an embedded panel's is a data: URL or about:srcdoc). */
  location: string;
  origin: string;
  secureContext: boolean;
  crossOriginIsolated: boolean;
  /** True when the page is not in a frame (the hosted app opened directly). */
  topLevel: boolean;
  userAgent: string;
  /** Whether the storage APIs answer here, and what they say when they do not. */
  storage: { opfs: string; indexedDb: string };
}

export interface DiagnosticsReport {
  createdAt: string;
  page: PageContext;
  engine?: EngineDiagnostics;
  engineError?: string;
  store?: StoreStatus;
  model?: Pick<ModelInfo, 'id' | 'name' | 'hash' | 'backend' | 'precision'>;
}

export interface DiagnosticsState {
  open: boolean;
  running: boolean;
  report?: DiagnosticsReport;
  /** What Copy report last did, in words. */
  copied?: string;
}

/** Reads the page's context (runs in the panel's document). */
export async function readPageContextAsync(mode: PageContext['mode']): Promise<PageContext> {
  const href = location.href;
  let opfs = 'available';
  try {
    if (!navigator.storage?.getDirectory) opfs = 'absent (no navigator.storage.getDirectory)';
    else await navigator.storage.getDirectory();
  } catch (error) {
    opfs = `refused: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  }
  let indexedDb = 'available';
  try {
    if (typeof indexedDB === 'undefined') indexedDb = 'absent';
    else await indexedDB.databases();
  } catch (error) {
    indexedDb = `refused: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  }
  return {
    mode,
    location: href.length > 120 ? `${href.slice(0, 100)}… (${href.length} characters)` : href,
    origin,
    secureContext: isSecureContext,
    crossOriginIsolated: crossOriginIsolated === true,
    topLevel: window.parent === window,
    userAgent: navigator.userAgent,
    storage: { opfs, indexedDb },
  };
}

const yesNo = (value: boolean | undefined) => (value === undefined ? 'unknown' : value ? 'yes' : 'no');
const ms = (value: number | undefined) => (value === undefined ? '—' : `${value.toFixed(1)} ms`);

/** The report as plain text, one fact per line, for "Copy report". */
export function formatDiagnosticsReport(report: DiagnosticsReport): string {
  const lines: string[] = [`Flowfill diagnostics, ${report.createdAt}`, ''];
  const { page } = report;
  lines.push(
    '## Where the panel runs',
    `mode: ${page.mode}${page.topLevel ? ' (top-level page)' : ' (in a frame)'}`,
    `location: ${page.location}`,
    `origin: ${page.origin}`,
    `secure context: ${yesNo(page.secureContext)}; cross-origin isolated: ${yesNo(page.crossOriginIsolated)}`,
    `OPFS: ${page.storage.opfs}; IndexedDB: ${page.storage.indexedDb}`,
    `user agent: ${page.userAgent}`,
    '',
  );
  const engine = report.engine;
  if (!engine) {
    lines.push('## Engine', `the engine did not answer: ${report.engineError ?? 'unknown reason'}`, '');
  } else {
    const wasm = engine.webAssembly;
    lines.push(
      '## Engine worker',
      `secure context: ${yesNo(engine.worker.secureContext)}; cross-origin isolated: ${yesNo(engine.worker.crossOriginIsolated)}; CPU threads: ${engine.worker.hardwareConcurrency ?? 'unknown'}`,
      `WebAssembly: ${wasm.compiles ? 'compiles' : `does not compile (${wasm.error ?? 'unknown'})`}; SIMD: ${yesNo(wasm.simd)}; threads: ${yesNo(wasm.threads)}`,
      `onnxruntime-web ${engine.ort.version}: ${engine.ort.build}; WASM threads: ${engine.ort.wasmThreads}; proxy worker: ${yesNo(engine.ort.proxy)}`,
      `backend in use: ${engine.backend}${engine.fallbackReason ? ` (not WebGPU: ${engine.fallbackReason})` : ''}`,
      '',
      '## WebGPU',
    );
    const gpu = engine.webgpu;
    if (!gpu.available || !gpu.adapter) lines.push(`no adapter: ${gpu.reason ?? 'unknown'}`);
    else {
      const a = gpu.adapter;
      lines.push(
        `adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || '(no info)'}; fallback adapter: ${yesNo(a.isFallbackAdapter)}`,
        `shader-f16: ${yesNo(a.features.includes('shader-f16'))}; subgroups: ${yesNo(a.features.includes('subgroups'))}; subgroup sizes: ${a.subgroupMinSize ?? '?'}–${a.subgroupMaxSize ?? '?'}`,
        `features: ${a.features.join(', ') || '(none)'}`,
        `limits: ${Object.entries(a.limits)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
    }
    lines.push(
      '',
      '## Self-test (a small MatMul/GELU/Softmax graph in a fresh worker; load = session creation, the first one also starting onnxruntime; first run includes shader compiles)',
    );
    for (const t of engine.selfTests) {
      lines.push(
        `${t.backend}: ${t.ok ? 'ok' : 'FAILED'}; load ${ms(t.loadMs)}, first run ${ms(t.firstRunMs)}, step ${ms(t.stepMs)}; max |error| ${t.maxAbsError?.toExponential(2) ?? '—'}${t.error ? `; ${t.error}` : ''}`,
      );
    }
    lines.push('', '## Fused attention (com.microsoft MultiHeadAttention vs plain JavaScript)');
    for (const a of engine.attention) {
      lines.push(
        `${a.backend}, ${a.tokens} tokens, ${a.heads}×${a.headSize}: ${a.ok ? 'ok' : 'WRONG'}; max |error| ${a.maxAbsError?.toExponential(2) ?? '—'}${a.error ? `; ${a.error}` : ''}`,
      );
    }
  }
  lines.push('', '## Storage');
  const store = report.store;
  if (!store) lines.push('no model store in this panel');
  else {
    lines.push(
      store.persistent
        ? `models kept in this origin's OPFS; persisted: ${yesNo(store.persisted)}; ${formatBytes(store.usageBytes)} used of ${formatBytes(store.quotaBytes)}`
        : `models last for the session only: ${store.sessionOnlyReason ?? 'no storage'}`,
      `models: ${store.models.map((m) => `${m.name} (${m.id}, ${formatBytes(m.bytes)}${m.precision ? `, ${m.precision}` : ''})`).join('; ') || 'none added'}`,
    );
  }
  if (report.model)
    lines.push(
      '',
      `model in use: ${report.model.name} (${report.model.id}, hash ${report.model.hash.slice(0, 16)}…) on ${report.model.backend}`,
    );
  return `${lines.join('\n')}\n`;
}
