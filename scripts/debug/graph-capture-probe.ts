/**
 * Does onnxruntime-web's WebGPU EP replay a captured graph correctly (SessionOptions.enableGraphCapture
 * with GPU-buffer inputs and outputs, as the denoising loop would need)? Headless Chromium:
 *   npx tsx scripts/debug/graph-capture-probe.ts
 * With onnxruntime-web 1.30 on SwiftShader the first run is right and the second fails in
 * createBindGroup ("Required member is undefined"): after every run the JS glue unregisters each
 * external GPU buffer (webgpuUnregisterBuffer → wgpuBufferRelease), so the fixed buffers a capture
 * binds are gone by the time it is recorded. Run this again when onnxruntime-web is upgraded.
 */
import { launchChromiumAsync, startRigAsync } from '../../test/browser/browser-rig.js';

async function main(): Promise<void> {
  const rig = await startRigAsync({ 'graph-capture-worker': 'scripts/debug/graph-capture-worker.ts' });
  const browser = await launchChromiumAsync({ webgpu: true });
  try {
    const page = await browser.newPage();
    await page.goto(`${rig.server.url}rig/blank.html`);
    const answer = await page.evaluate(
      () =>
        new Promise<{ runs: string[]; error?: string }>((resolve) => {
          const worker = new Worker('/rig/graph-capture-worker.js');
          worker.onmessage = (event) => resolve(event.data);
          worker.onerror = (event) => resolve({ runs: [], error: `worker error: ${event.message}` });
          worker.postMessage({});
        }),
    );
    for (const line of answer.runs) console.log(line);
    if (answer.error) console.log(`failed: ${answer.error}`);
    process.exitCode = answer.error || answer.runs.some((line) => line.endsWith('WRONG')) ? 1 : 0;
  } finally {
    await browser.close();
    await rig.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
