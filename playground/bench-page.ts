/**
 * The benchmark page (bench.html on the site, /bench on the playground server): runs the built-in
 * model in a fresh worker (dist/site/bench-worker.js) on the chosen backend and size, and fills
 * the per-stage table, cold and warm. The query string presets the form and `autorun` starts it:
 * /bench?backend=wasm&size=64&steps=1&images=2&autorun. The last report is on
 * `window.flowfillBench.report` for automation.
 */
import * as Comlink from 'comlink';
import type { BenchReport, BenchRequest, BenchWorkerApi } from '../worker/bench/bench-types.js';
import { graphCaptureLine, isGraphCaptureChoice } from '../worker/bench/graph-capture-line.js';

declare global {
  interface Window {
    flowfillBench: { report?: BenchReport; error?: string; running: boolean };
  }
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const form = $<HTMLFormElement>('form');
const backend = $<HTMLSelectElement>('backend');
const size = $<HTMLSelectElement>('size');
const steps = $<HTMLInputElement>('steps');
const guidance = $<HTMLInputElement>('guidance');
const capture = $<HTMLSelectElement>('capture');
const images = $<HTMLInputElement>('images');
const runButton = $<HTMLButtonElement>('run');
const status = $<HTMLDivElement>('status');
const table = $<HTMLTableElement>('stages');
const facts = $<HTMLUListElement>('facts');

window.flowfillBench = { running: false };

/** Milliseconds for a cell: one decimal, '—' when not measured. */
const ms = (value: number | undefined): string => (value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(1));

function presetFromQuery(): boolean {
  const query = new URLSearchParams(location.search);
  const chosen = query.get('backend');
  if (chosen === 'wasm' || chosen === 'webgpu') backend.value = chosen;
  else if (!('gpu' in navigator)) backend.value = 'wasm';
  const chosenCapture = query.get('capture');
  if (isGraphCaptureChoice(chosenCapture)) capture.value = chosenCapture;
  const side = query.get('size');
  if (side && /^\d+$/.test(side)) {
    if (![...size.options].some((option) => option.value === side)) size.add(new Option(`${side}×${side}`, side));
    size.value = side;
  }
  for (const [name, input] of [
    ['steps', steps],
    ['guidance', guidance],
    ['images', images],
  ] as const) {
    const value = query.get(name);
    if (value !== null) input.value = value;
  }
  return query.has('autorun');
}

function readRequest(): BenchRequest {
  const integer = (input: HTMLInputElement, name: string, max: number): number => {
    const n = Number(input.value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new Error(`${name} ${JSON.stringify(input.value)}: expected a whole number from 1 to ${max}`);
    return n;
  };
  const g = Number(guidance.value);
  if (!(g >= 0)) throw new Error(`guidance ${JSON.stringify(guidance.value)}: expected a number of 0 or more (above 1 runs CFG)`);
  return {
    backend: backend.value as BenchRequest['backend'],
    size: Number(size.value),
    steps: integer(steps, 'steps', 200),
    guidance: g,
    images: integer(images, 'images', 20),
    graphCapture: isGraphCaptureChoice(capture.value) ? capture.value : 'auto',
  };
}

function show(report: BenchReport, clickToFirstPngMs: number): void {
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const row of report.rows) {
    const tr = body.insertRow();
    tr.insertCell().textContent = row.stage;
    for (const value of [row.coldMs, row.warmMs]) {
      const td = tr.insertCell();
      td.className = 'ms';
      td.textContent = ms(value);
    }
  }
  table.hidden = false;
  const lines = [
    `model ${report.model.name} (${report.model.id}); ${report.width}×${report.height}, ${report.steps} steps, guidance ${report.guidance} (${report.cfg ? 'CFG, batch 2' : 'no CFG'}), ${report.images} image(s)`,
    `backend ${report.backend}${report.adapter ? ` (${report.adapter})` : ''}; WASM threads ${report.wasmThreads}${report.crossOriginIsolated ? ' (cross-origin isolated)' : ''}`,
    ...(report.backend === 'webgpu' ? [graphCaptureLine(report.graphCapture, report.images)] : []),
    `cold start: click to first PNG ${ms(clickToFirstPngMs)} ms; worker start to first PNG ${ms(report.workerStartToFirstPngMs)} ms (built-in model read by ${ms(report.modelReadMs)} ms)`,
    report.userAgent,
  ];
  facts.replaceChildren(...lines.map((line) => Object.assign(document.createElement('li'), { textContent: line })));
}

async function runAsync(): Promise<void> {
  let request: BenchRequest;
  try {
    request = readRequest();
  } catch (error) {
    status.className = 'error';
    status.textContent = (error as Error).message;
    return;
  }
  window.flowfillBench = { running: true };
  runButton.disabled = true;
  status.className = '';
  status.textContent = `running on ${request.backend}: ${request.size}×${request.size}, ${request.steps} steps, ${request.images} image(s)…`;
  const clicked = performance.now();
  const worker = new Worker('bench-worker.js');
  try {
    const api = Comlink.wrap<BenchWorkerApi>(worker);
    const report = await api.runAsync(request);
    // The worker's clock starts with the worker; both clocks' origins are wall-clock times.
    const clickToFirstPngMs = report.workerTimeOrigin + report.workerStartToFirstPngMs - (performance.timeOrigin + clicked);
    show(report, clickToFirstPngMs);
    status.textContent = 'done';
    window.flowfillBench = { running: false, report };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    status.className = 'error';
    status.textContent = `failed: ${message}`;
    window.flowfillBench = { running: false, error: message };
  } finally {
    worker.terminate();
    runButton.disabled = false;
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void runAsync();
});

if (presetFromQuery()) void runAsync();
