/**
 * Prompt → SD3 conditioning: runs the package's text-encoder graphs on the tokenised prompt and
 * hands their outputs to the pure assembly in text-embeddings.ts (CLIP penultimate hidden states
 * concatenated on channels, padded to joint_attention_dim, then the T5 block or its zeros; pooled =
 * the CLIP text_embeds concatenated). With classifier-free guidance the batch is [negative, prompt].
 *
 * A package without any text encoder (like the golden fixtures) is unconditional: both rows are
 * zeros shaped [max_sequence_length, joint_attention_dim] and [pooled_projection_dim], as diffusers
 * would build for an absent T5 with no CLIP either. The prompt is then ignored, and ModelInfo.notes
 * says so.
 */
import { EngineError } from '../engine-error.js';
import type { HostTensor } from '../ort-backend.js';
import type { Sd3Package } from './package.js';
import type { Sd3Runtime } from './runtime.js';
import {
  assembleSd3Conditioning,
  concatBatch,
  zeroEmbeddings,
  type ClipStyleOutput,
  type PromptEmbeddings,
  type Tensor32,
} from './text-embeddings.js';
import { toInt64 } from './tokenize.js';
import { t5SequenceLength, tokenizerFor, wordsNoEncoderKnows } from './prompt-tokenizers.js';

export interface PromptConditioning {
  /** [batch, sequenceLength, joint_attention_dim], float32; batch 2 is [uncond, cond]. */
  embeds: Float32Array;
  /** [batch, pooled_projection_dim], float32. */
  pooled: Float32Array;
  batch: 1 | 2;
  sequenceLength: number;
  /** Things the caller should tell the user, e.g. that a prompt was cut to the encoder's length. */
  notes?: string[];
}

export function zeroConditioning(pkg: Sd3Package, batch: 1 | 2): PromptConditioning {
  const { joint_attention_dim, pooled_projection_dim } = pkg.transformer.config;
  const zeros = zeroEmbeddings(
    { jointAttentionDim: joint_attention_dim, pooledProjectionDim: pooled_projection_dim },
    t5SequenceLength(pkg),
    batch,
  );
  return fromEmbeddings(zeros, batch);
}

function fromEmbeddings(embeddings: PromptEmbeddings, batch: 1 | 2): PromptConditioning {
  return {
    embeds: embeddings.promptEmbeds.data,
    pooled: embeddings.pooledEmbeds.data,
    batch,
    sequenceLength: embeddings.promptEmbeds.dims[1],
  };
}

/** Batch-1 conditioning for `prompt`, or batch 2 [negative, prompt] when `withNegative`. */
export async function encodePromptAsync(
  model: Sd3Runtime,
  prompt: string,
  negativePrompt: string,
  withNegative: boolean,
): Promise<PromptConditioning> {
  const batch = withNegative ? 2 : 1;
  if (model.pkg.textEncoders.length === 0) return zeroConditioning(model.pkg, batch);
  const notes: string[] = [];
  const positive = await encodeOnePromptAsync(model, prompt, 'prompt', notes);
  if (!withNegative) return { ...fromEmbeddings(positive, 1), notes };
  // SD3's negative is the encoding of the negative prompt ("" by default), never zeros.
  const negative = await encodeOnePromptAsync(model, negativePrompt, 'negative prompt', notes);
  const both = fromEmbeddings(
    {
      promptEmbeds: concatBatch(negative.promptEmbeds, positive.promptEmbeds),
      pooledEmbeds: concatBatch(negative.pooledEmbeds, positive.pooledEmbeds),
    },
    2,
  );
  return { ...both, notes };
}

/** One prompt through every text encoder, assembled as diffusers' encode_prompt does (batch 1). */
async function encodeOnePromptAsync(model: Sd3Runtime, text: string, field: string, notes: string[]): Promise<PromptEmbeddings> {
  const { pkg } = model;
  const unknownWords = wordsNoEncoderKnows(pkg, text);
  if (unknownWords.length > 0) {
    notes.push(`the ${field} has words this model does not know (read as unknown tokens): ${unknownWords.join(', ')}`);
  }
  const clipOutputs: ClipStyleOutput[] = [];
  let t5: Tensor32 | undefined;
  for (const component of pkg.textEncoders) {
    const session = model.textEncoders.get(component.name);
    if (!session) throw new EngineError('internal', `no session for ${component.graph.path}`);
    const tokenizer = tokenizerFor(pkg, component);
    const tokens = tokenizer.encode(text);
    if (tokens.truncated) notes.push(`the ${field} is longer than ${component.name}'s ${tokenizer.maxLength} tokens; the rest was cut off`);
    const outputs = await session.runAsync({
      input_ids: { type: 'int64', data: toInt64(tokens.ids), dims: [1, tokens.ids.length] },
    });
    if (component.kind === 't5') {
      t5 = tensorOutput(outputs, 'last_hidden_state', component.graph.path);
    } else {
      // SD3 takes hidden_states[-2]: the penultimate layer, before the final layer norm.
      const penultimate = `hidden_states.${component.lastHiddenStateIndex! - 1}`;
      clipOutputs.push({
        hiddenStates: tensorOutput(outputs, penultimate, component.graph.path),
        pooled: tensorOutput(outputs, 'text_embeds', component.graph.path),
      });
    }
  }
  const { joint_attention_dim, pooled_projection_dim } = pkg.transformer.config;
  try {
    return assembleSd3Conditioning(clipOutputs, {
      jointAttentionDim: joint_attention_dim,
      pooledProjectionDim: pooled_projection_dim,
      t5,
      maxSequenceLength: t5SequenceLength(pkg),
    });
  } catch (error) {
    throw new EngineError('model-mismatch', `text encoders vs transformer/config.json: ${(error as Error).message}`, { cause: error });
  }
}

function tensorOutput(outputs: Record<string, HostTensor>, name: string, label: string): Tensor32 {
  const tensor = outputs[name];
  if (!tensor || tensor.type !== 'float32') {
    throw new EngineError('model-mismatch', `${label}: no float32 output "${name}" (got ${Object.keys(outputs).join(', ')})`);
  }
  return { data: tensor.data, dims: tensor.dims };
}
