/**
 * Does onnxruntime-web's WebGPU EP replay a captured graph correctly (SessionOptions.enableGraphCapture
 * with GPU-buffer inputs and outputs, as the denoising loop needs)? Headless Chromium:
 *   npx tsx scripts/debug/graph-capture-probe.ts
 * History: with buffers from device.createBuffer, onnxruntime-web 1.30's second run failed in
 * createBindGroup ("Required member is undefined"): after every run its JS glue releases the handle
 * it made for each caller's buffer, so the handles a capture recorded were gone at replay. The engine's
 * device tensors are now buffers onnxruntime allocated itself (ort-backend.ts createDeviceTensorAsync),
 * whose handles live as long as the tensor, and this probe passes (4 runs and a chain of 4 with the
 * output copied back into the input on the GPU, each output exact) for the plain step graph. The CFG
 * step graph, whose prev_sample is also read by its Concat, replays with prev_sample unwritten unless
 * its outputs are computed copies (sd3/captured-loop.ts). Run it again when onnxruntime-web is upgraded.
 */
import { runWorkerInChromiumOnceAsync } from '../../test/browser/browser-rig.js';

async function main(): Promise<void> {
  const answer = await runWorkerInChromiumOnceAsync<{ runs?: string[]; error?: string }>(
    'graph-capture-worker',
    'scripts/debug/graph-capture-worker.ts',
    {},
  );
  const runs = answer.runs ?? [];
  for (const line of runs) console.log(line);
  if (answer.error) console.log(`failed: ${answer.error}`);
  process.exitCode = answer.error || runs.some((line) => line.endsWith('WRONG')) ? 1 : 0;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
