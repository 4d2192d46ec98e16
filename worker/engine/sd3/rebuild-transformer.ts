/**
 * Rebuilds a package's SD3 transformer graph with the engine's own builder (./graphs/sd3-transformer.ts)
 * from the weights of the graph the package ships (a torch.onnx export; ./recover-transformer-weights.ts),
 * and writes the package again with that graph: same inputs and outputs, same weights (int8 ones
 * stay int8), float32 compute.
 *
 * Why: a PyTorch export spells out every shape computation (Shape → Gather → Unsqueeze → Concat
 * per Reshape, the positional table from Range/Sin/Cos on every run): v1's exported transformer
 * has 1,936 nodes where the builder needs about 570 (1,032 against 506 after onnxruntime's own
 * optimiser), and sessions are created faster. The shipped default is rebuilt this way
 * (model/install-package.sh); a rebuilt graph rebuilds to itself.
 */
import { EngineError } from '../engine-error.js';
import { sourceByteLength } from '../onnx/initializer-source.js';
import { serializeGraphAsync, writeExternalFileAsync } from '../onnx/serialize-graph.js';
import { bytesFile, writePackageAsync, type PackageFile, type PackageSink, type WrittenPackage } from '../package-writer.js';
import type { PackageFiles } from '../package-source.js';
import type { Sha256Factory } from '../sha256-stream.js';
import { parseJsonObject, sha256HexAsync } from '../verifying-reader.js';
import { readSd3PackageFilesAsync } from './read-sd3-package-files.js';
import {
  rebuildSd3TransformerAsync,
  TRANSFORMER_CONFIG,
  TRANSFORMER_GRAPH,
  type RebuildOptions,
  type RebuiltTransformer,
} from './rebuild-transformer-graph.js';

export { rebuildSd3TransformerAsync, TRANSFORMER_GRAPH };
export type { RebuildOptions, RebuiltTransformer };
export interface RebuildPackageResult extends WrittenPackage {
  rebuilt: RebuiltTransformer;
}

/**
 * Writes `files` (a package in the Optimum layout; `paths` lists its files) through `sink` with the
 * transformer graph rebuilt. Every other file is copied byte for byte; flowfill.json keeps every
 * field but `files` (rewritten with the new hashes) and gains `transformer_rebuilt`, naming the
 * sha256 of the graph it replaces, and `supersedes`, naming the source package's hash (and those it
 * superseded): the weights are the same, so layers made with it regenerate with the new package.
 * Under options.precision 'int8' / 'int4' the weights are re-quantised, the images differ, and the
 * new package supersedes nothing.
 */
export async function rebuildTransformerPackageAsync(
  files: PackageFiles,
  paths: string[],
  sink: PackageSink,
  options: RebuildOptions & { sha256?: Sha256Factory } = {},
): Promise<RebuildPackageResult> {
  try {
    return await rebuildPackageAsync(files, paths, sink, options);
  } catch (error) {
    await sink.abortAsync().catch(() => undefined);
    throw error;
  }
}

async function rebuildPackageAsync(
  files: PackageFiles,
  paths: string[],
  sink: PackageSink,
  options: RebuildOptions & { sha256?: Sha256Factory },
): Promise<RebuildPackageResult> {
  const read = async (path: string, why: string) => {
    const bytes = await files.readOptionalAsync(path);
    if (!bytes) throw new EngineError('model-missing-file', `${path} is missing from ${files.description} (${why})`);
    return bytes;
  };
  if (!(await files.openOptionalAsync(TRANSFORMER_GRAPH))) {
    throw new EngineError('model-missing-file', `${TRANSFORMER_GRAPH} is missing from ${files.description} (the graph to rebuild)`);
  }
  // The source as the engine reads it: every file checked against its flowfill.json, and its hash,
  // which the new package declares it supersedes (layers made with it regenerate with the new one).
  // Its transformer bytes, already read and checked, are what the rebuild works from.
  const source = await readSd3PackageFilesAsync(files);
  if (source.format === 'diffusers') {
    throw new EngineError('model-mismatch', `${files.description} is a diffusers checkpoint: npm run convert builds its graphs`);
  }
  const model = source.transformer.graph.model;
  const precision = options.precision ?? 'fp32';
  const configJson = parseJsonObject(TRANSFORMER_CONFIG, await read(TRANSFORMER_CONFIG, 'the transformer graph is built from it'));
  const manifest = paths.includes('flowfill.json') ? parseJsonObject('flowfill.json', await read('flowfill.json', 'listed')) : {};
  const rebuilt = await rebuildSd3TransformerAsync(model, configJson, {
    attention: options.attention,
    int8MatMul: options.int8MatMul,
    precision,
    path: `${files.description}/${TRANSFORMER_GRAPH}`,
    openExternalAsync: async (location) => {
      const file = await files.openOptionalAsync(`transformer/${location}`);
      if (!file)
        throw new EngineError(
          'model-missing-file',
          `transformer/${location} is missing from ${files.description} (${TRANSFORMER_GRAPH} keeps weights there)`,
        );
      return file;
    },
  });
  // Weights small enough stay inside the protobuf, as the export had them; large ones go to
  // external files (a protobuf message cannot pass 2 GB).
  const weightBytes = rebuilt.graph.initializers.reduce((sum, { source }) => sum + sourceByteLength(source), 0);
  const serialized = await serializeGraphAsync(rebuilt.graph, {
    externalThresholdBytes: weightBytes <= INLINE_LIMIT_BYTES ? Infinity : undefined,
    metadata: { 'flowfill.precision': precision, 'flowfill.source': `rebuilt from ${TRANSFORMER_GRAPH}` },
  });
  const replaced = new Set([
    TRANSFORMER_GRAPH,
    'flowfill.json',
    ...rebuilt.originalExternalFiles.map((location) => `transformer/${location}`),
  ]);
  const out: PackageFile[] = [];
  for (const path of paths) {
    if (replaced.has(path)) continue;
    const source = await files.openOptionalAsync(path);
    if (!source) throw new EngineError('model-missing-file', `${path} is missing from ${files.description}`);
    out.push({ path, bytes: source.size, produce: async (write) => write(await source.readAsync(0, source.size)) });
  }
  out.push(bytesFile(TRANSFORMER_GRAPH, serialized.model));
  for (const plan of serialized.externalFiles) {
    out.push({ path: `transformer/${plan.path}`, bytes: plan.byteLength, produce: (write) => writeExternalFileAsync(plan, write) });
  }
  const kept = Object.fromEntries(Object.entries(manifest).filter(([key]) => key !== 'files' && key !== 'supersedes'));
  // Only the same weights make the same images: a re-quantised package supersedes nothing.
  const supersedes = [
    { hash: source.hash, id: source.id, why: `the same weights; ${TRANSFORMER_GRAPH} rebuilt by npm run rebuild-transformer` },
    ...(source.manifest?.supersedes ?? []),
  ];
  const written = await writePackageAsync(
    sink,
    out,
    {
      ...kept,
      ...(precision === 'fp32' ? { supersedes } : {}),
      transformer_rebuilt: {
        from_sha256: await sha256HexAsync(model),
        attention: options.attention ?? 'unfused',
        nodes: rebuilt.nodes.rebuilt,
        original_nodes: rebuilt.nodes.original,
        int8_weights: rebuilt.recovered.int8.length,
        precision,
      },
    },
    { sha256: options.sha256 },
  );
  return { ...written, rebuilt };
}

/** A graph with at most this many weight bytes keeps them inside model.onnx (protobuf messages stop at 2 GB). */
const INLINE_LIMIT_BYTES = 1024 * 1024 * 1024;
