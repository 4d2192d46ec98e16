/**
 * Test page worker: SD3 prompt conditioning from a diffusers folder entirely in the browser, as the
 * engine will do it — tokenisers (built from vocab.json + merges.txt where tokenizer.json is
 * absent), CLIP-L, CLIP-G and T5 graphs built in TypeScript from config.json + safetensors, run on
 * onnxruntime-web's WebGPU EP, assembled as diffusers' encode_prompt does. Files come from the rig
 * server (/diffusers/<model>/…), ORT's .wasm from /ort/.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { bytesSource } from '../../../worker/engine/byte-source.js';
import { DataType } from '../../../worker/engine/onnx/data-types.js';
import { GraphBuilder } from '../../../worker/engine/onnx/graph-builder.js';
import { externalFileBytesAsync, serializeGraphAsync } from '../../../worker/engine/onnx/serialize-graph.js';
import type { Precision } from '../../../worker/engine/onnx/layers.js';
import { createSessionAsync, useOrt } from '../../../worker/engine/ort-backend.js';
import { openWeightSetAsync } from '../../../worker/engine/safetensors.js';
import { buildClipTextEncoderGraph, readClipTextConfig } from '../../../worker/engine/sd3/graphs/clip-text-encoder.js';
import { buildT5EncoderGraph, readT5EncoderConfig } from '../../../worker/engine/sd3/graphs/t5-encoder.js';
import { readTokenizerFilesAsync } from '../../../worker/engine/sd3/tokenizer-files.js';
import { assembleSd3Conditioning, type ClipStyleOutput, type Tensor32 } from '../../../worker/engine/sd3/text-embeddings.js';
import { PromptTokenizer, toInt64 } from '../../../worker/engine/sd3/tokenize.js';
import { configureOrtForEmbeddedWasm } from '../../../worker/runtime/configure-ort.js';

declare const self: DedicatedWorkerGlobalScope;

export interface TextEncoderRequest {
  model: string;
  /** [negative, prompt], encoded as one batch of 2. */
  texts: [string, string];
  maxSequenceLength: number;
  precision: Precision;
}

export interface TextEncoderAnswer {
  /** Token ids per tokenizer folder, [negative, prompt]. */
  ids?: Record<string, number[][]>;
  promptEmbeds?: Float32Array;
  pooledEmbeds?: Float32Array;
  webgpuDevice?: boolean;
  elapsedMs?: number;
  error?: string;
}

async function readAsync(url: string): Promise<Uint8Array | undefined> {
  const response = await fetch(url);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function encodeAsync({ model, texts, maxSequenceLength, precision }: TextEncoderRequest): Promise<TextEncoderAnswer> {
  const read = (relative: string) => readAsync(`/diffusers/${model}/${relative}`);
  const open = async (relative: string) => {
    const bytes = await read(relative);
    return bytes && bytesSource(relative, bytes);
  };
  const transformer = JSON.parse(new TextDecoder().decode(await read('transformer/config.json')));
  const ids: Record<string, number[][]> = {};
  const clip: ClipStyleOutput[] = [];
  let t5: Tensor32 | undefined;
  for (const [encoder, folder] of [
    ['text_encoder', 'tokenizer'],
    ['text_encoder_2', 'tokenizer_2'],
    ['text_encoder_3', 'tokenizer_3'],
  ] as const) {
    const configBytes = await read(`${encoder}/config.json`);
    if (!configBytes) continue;
    const json = JSON.parse(new TextDecoder().decode(configBytes));
    const files = await readTokenizerFilesAsync(read, folder);
    const tokenizer = new PromptTokenizer(
      files.tokenizerJson,
      files.tokenizerConfig,
      encoder === 'text_encoder_3' ? { maxLength: maxSequenceLength } : {},
    );
    const batch = tokenizer.encodeBatch(texts);
    ids[folder] = [Array.from(batch.ids.subarray(0, batch.dims[1])), Array.from(batch.ids.subarray(batch.dims[1]))];
    const weights = await openWeightSetAsync(open, encoder, 'model');
    const isT5 = encoder === 'text_encoder_3';
    const t5Config = isT5 ? readT5EncoderConfig(json, `${encoder}/config.json`) : undefined;
    const clipConfig = isT5 ? undefined : readClipTextConfig(json, `${encoder}/config.json`);
    const graph = t5Config ? buildT5EncoderGraph(t5Config, weights, precision) : buildClipTextEncoderGraph(clipConfig!, weights, precision);
    const serialized = await serializeGraphAsync(graph);
    const externalData = await Promise.all(
      serialized.externalFiles.map(async (file) => ({ path: file.path, data: await externalFileBytesAsync(file) })),
    );
    const session = await createSessionAsync({
      label: `${encoder} (${precision})`,
      model: serialized.model,
      externalData,
      backend: 'webgpu',
    });
    try {
      const out = await session.runAsync({ input_ids: { type: 'int64', data: toInt64(batch.ids), dims: batch.dims } });
      const tensor = (name: string) => {
        const t = out[name];
        if (t?.type !== 'float32') throw new Error(`${encoder}: no float32 output ${name}`);
        return { data: t.data, dims: t.dims };
      };
      if (isT5) t5 = tensor('last_hidden_state');
      else clip.push({ hiddenStates: tensor(`hidden_states.${clipConfig!.num_hidden_layers - 1}`), pooled: tensor('text_embeds') });
    } finally {
      await session.releaseAsync();
    }
  }
  const conditioning = assembleSd3Conditioning(clip, {
    jointAttentionDim: transformer.joint_attention_dim,
    pooledProjectionDim: transformer.pooled_projection_dim,
    t5,
    maxSequenceLength,
  });
  return { ids, promptEmbeds: conditioning.promptEmbeds.data, pooledEmbeds: conditioning.pooledEmbeds.data };
}

let configured = false;

/**
 * onnxruntime-web destroys its WebGPU device when its last session is released (GPUDevice.lost
 * resolves with reason "destroyed") and makes a new one for the next session; the engine's
 * backend reads any loss as fatal. A session held for the worker's lifetime keeps one device,
 * as the engine's transformer session does during a job.
 */
async function holdDeviceAsync(): Promise<void> {
  const b = new GraphBuilder('device_keeper');
  const x = b.input('x', DataType.FLOAT, [1]);
  b.output(b.op('Neg', [x]), 'y', [1]);
  await createSessionAsync({ label: 'device keeper', model: (await serializeGraphAsync(b.build())).model, backend: 'webgpu' });
}

self.onmessage = async (event: MessageEvent<TextEncoderRequest>) => {
  try {
    const started = performance.now();
    if (!configured) {
      const wasm = await readAsync('/ort/ort-wasm-simd-threaded.asyncify.wasm');
      if (!wasm) throw new Error('/ort/ort-wasm-simd-threaded.asyncify.wasm is missing');
      configureOrtForEmbeddedWasm(ort, wasm);
      useOrt(ort);
      await holdDeviceAsync();
      configured = true;
    }
    const answer = await encodeAsync(event.data);
    // Proof the sessions ran on a WebGPU device, not a silent CPU fallback.
    const device = await ort.env.webgpu.device;
    self.postMessage({
      ...answer,
      webgpuDevice: device !== undefined && device !== null,
      elapsedMs: performance.now() - started,
    } satisfies TextEncoderAnswer);
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? `${error.message}\n${error.stack}` : String(error) } satisfies TextEncoderAnswer);
  }
};
