/**
 * npm run diagnostics -- [--webgpu]
 *
 * The engine half of the panel's Diagnostics, in Node: WebAssembly (SIMD, threads), the WebGPU
 * adapter (with --webgpu: Dawn's GPU as navigator.gpu, as `npm run generate -- --backend webgpu`
 * uses), the onnxruntime build, and the self-tests on each backend with their timings, including
 * the fused-attention check (com.microsoft MultiHeadAttention at 48 tokens against plain
 * JavaScript). Prints one line per fact; exits non-zero when a self-test fails.
 */
import { runDiagnosticsAsync } from '../diagnostics/run-diagnostics.js';
import { createEngine } from '../engine/engine.js';
import { useNodeBackendAsync } from './node-host.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const unknown = argv.filter((arg) => arg !== '--webgpu');
  if (unknown.length > 0) throw new Error(`unknown option ${unknown[0]}; usage: npm run diagnostics -- [--webgpu]`);
  const webgpu = argv.includes('--webgpu');
  await useNodeBackendAsync(webgpu ? 'webgpu' : 'wasm');
  const ort = (await import(webgpu ? 'onnxruntime-web/webgpu' : 'onnxruntime-web')) as unknown as { default?: { env: never }; env: never };
  const engine = createEngine({ backend: webgpu ? 'auto' : 'wasm' });
  const report = await runDiagnosticsAsync({
    capabilities: () => engine.capabilities(),
    ortEnv: (ort.default ?? ort).env,
    ortBuild: webgpu ? 'onnxruntime-web/webgpu in Node, Dawn (webgpu package) as navigator.gpu' : 'onnxruntime-web in Node (WASM)',
  });
  const gpu = report.webgpu.adapter;
  const lines = [
    `WebAssembly: ${report.webAssembly.compiles ? 'compiles' : 'does not compile'}; SIMD: ${report.webAssembly.simd}; threads: ${report.webAssembly.threads}`,
    `onnxruntime-web ${report.ort.version}: ${report.ort.build}; WASM threads: ${report.ort.wasmThreads}`,
    `backend: ${report.backend}${report.fallbackReason ? ` (not WebGPU: ${report.fallbackReason})` : ''}`,
    gpu
      ? `adapter: ${[gpu.vendor, gpu.architecture, gpu.device, gpu.description].filter(Boolean).join(' / ')}; fallback: ${gpu.isFallbackAdapter}; shader-f16: ${gpu.features.includes('shader-f16')}; subgroups: ${gpu.features.includes('subgroups')} (${gpu.subgroupMinSize ?? '?'}–${gpu.subgroupMaxSize ?? '?'})`
      : `WebGPU: ${report.webgpu.reason ?? 'not asked for (pass --webgpu)'}`,
    ...(gpu
      ? [
          `limits: ${Object.entries(gpu.limits)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        ]
      : []),
    ...report.selfTests.map(
      (t) =>
        `self-test ${t.backend}: ${t.ok ? 'ok' : 'FAILED'}; load ${t.loadMs ?? '—'} ms, first run ${t.firstRunMs ?? '—'} ms, step ${t.stepMs ?? '—'} ms; max |error| ${t.maxAbsError?.toExponential(2) ?? '—'}${t.error ? `; ${t.error}` : ''}`,
    ),
    ...report.attention.map(
      (a) =>
        `fused attention ${a.backend} (${a.tokens} tokens, ${a.heads}×${a.headSize}): ${a.ok ? 'ok' : 'WRONG'}; max |error| ${a.maxAbsError?.toExponential(2) ?? '—'}${a.error ? `; ${a.error}` : ''}`,
    ),
  ];
  console.log(lines.join('\n'));
  await engine.dispose();
  if (![...report.selfTests, ...report.attention].every((t) => t.ok)) process.exitCode = 1;
}

main().catch((error) => {
  console.error(`diagnostics: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
