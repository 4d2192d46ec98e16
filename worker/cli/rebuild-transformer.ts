/**
 * npm run rebuild-transformer -- <package folder> [-o <output folder>] [--attention unfused|fused] [--int8-matmul dequantized|dynamic-quantized]
 *                               [--precision fp32|int8|int4] [--force]
 *
 * Writes a copy of an SD3 package (Optimum layout) whose transformer/model.onnx is rebuilt by the
 * engine's graph builder from the weights of the package's own graph (a PyTorch export): same
 * inputs, outputs and weights, about a quarter of the nodes. Every other file is copied; flowfill.json
 * gets the new hashes. The output appears under its name only once it is complete.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { openPackageAsync } from '../engine/package-source.js';
import { rebuildTransformerPackageAsync, type RebuildOptions } from '../engine/sd3/rebuild-transformer.js';
import { INT8_MATMULS, isInt8MatMul, type Int8MatMul } from '../engine/onnx/layers.js';
import { runCli, UsageError } from './cli-errors.js';
import { createNodePackageSinkAsync, nodeSha256 } from './node-package-sink.js';
import { openFolderAsync } from './node-host.js';
import { displayPath, resolveUserPath } from './user-paths.js';

export const REBUILD_USAGE = `Usage: npm run rebuild-transformer -- <package folder> [-o <output folder>] [--attention unfused|fused]
         [--int8-matmul dequantized|dynamic-quantized] [--precision fp32|int8|int4] [--force]

  -o, --out    where the rebuilt package goes (default: <package folder>-rebuilt)
  --attention  unfused (default): MatMul/Softmax/MatMul, right on every backend
               fused: com.microsoft MultiHeadAttention (the engine runs it on WASM where
               onnxruntime-web's WebGPU kernel fails its check)
  --int8-matmul  dequantized (default): int8 weights folded to float32 when the session is
               created, right on every backend
               dynamic-quantized: com.microsoft DynamicQuantizeMatMul on the int8 weights
               (activations quantised per call): faster on WASM, CPU/WASM only
  --precision  fp32 (default): the weights as stored (int8 ones stay int8), float32 compute
               int8, int4: the big Linears re-quantised to com.microsoft MatMulNBits blocks
               of 32 (float32 activations): fewer bytes, different images, so the package
               supersedes nothing
  --force      replace the output folder if it exists
  -h, --help   show this help and exit

Exit status: 0 written, 1 the graph could not be rebuilt (nothing is left behind), 2 wrong command line.`;

interface RebuildArgs {
  source: string;
  out: string;
  attention: 'unfused' | 'fused';
  int8MatMul: Int8MatMul;
  precision: RebuildPrecision;
  force: boolean;
}

type RebuildPrecision = NonNullable<RebuildOptions['precision']>;
const REBUILD_PRECISIONS: readonly RebuildPrecision[] = ['fp32', 'int8', 'int4'];

function parseArgs(argv: string[]): RebuildArgs | 'help' {
  const positional: string[] = [];
  let out: string | undefined;
  let attention: RebuildArgs['attention'] = 'unfused';
  let int8MatMul: Int8MatMul = 'dequantized';
  let precision: RebuildPrecision = 'fp32';
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined || next.startsWith('-')) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '-o' || arg === '--out') out = value();
    else if (arg === '--attention') {
      const a = value();
      if (a !== 'unfused' && a !== 'fused') throw new UsageError(`--attention ${a} is not one of unfused, fused`);
      attention = a;
    } else if (arg === '--int8-matmul') {
      const m = value();
      if (!isInt8MatMul(m)) throw new UsageError(`--int8-matmul ${m} is not one of ${INT8_MATMULS.join(', ')}`);
      int8MatMul = m;
    } else if (arg === '--precision') {
      const p = value();
      if (!REBUILD_PRECISIONS.includes(p as RebuildPrecision))
        throw new UsageError(`--precision ${p} is not one of ${REBUILD_PRECISIONS.join(', ')}`);
      precision = p as RebuildPrecision;
    } else if (arg === '--force') force = true;
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (positional.length !== 1) throw new UsageError(`give one package folder (got ${positional.length})`);
  const source = resolveUserPath(positional[0]);
  if (!existsSync(source) || !statSync(source).isDirectory()) throw new UsageError(`${displayPath(source)}: no such folder`);
  if (!existsSync(path.join(source, 'transformer', 'model.onnx')))
    throw new UsageError(`${displayPath(source)}: no transformer/model.onnx in it (a diffusers checkpoint converts with npm run convert)`);
  const target = out === undefined ? `${source.replace(/[\\/]+$/, '')}-rebuilt` : resolveUserPath(out);
  if (!path.relative(source, target).startsWith('..')) throw new UsageError('the output folder must not be inside the package folder');
  return { source, out: target, attention, int8MatMul, precision, force };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args === 'help') {
    console.log(REBUILD_USAGE);
    return;
  }
  const started = performance.now();
  const folder = await openFolderAsync(args.source);
  const files = await openPackageAsync({ kind: 'files', files: folder, description: `the folder ${displayPath(args.source)}` });
  const sink = await createNodePackageSinkAsync(args.out, { overwrite: args.force }).catch((error: Error) => {
    throw new UsageError(error.message);
  });
  const result = await rebuildTransformerPackageAsync(files, Object.keys(folder).sort(), sink, {
    attention: args.attention,
    int8MatMul: args.int8MatMul,
    precision: args.precision,
    sha256: nodeSha256,
  });
  const { rebuilt } = result;
  const ways = new Map<string, number>();
  for (const how of rebuilt.recovered.from.values()) ways.set(how, (ways.get(how) ?? 0) + 1);
  console.log(
    `recovered ${rebuilt.recovered.from.size} tensors (${[...ways].map(([how, n]) => `${n} by ${how}`).join(', ')}; ${rebuilt.recovered.int8.length} int8 weights kept int8)`,
  );
  console.log(
    `wrote ${displayPath(args.out)}: transformer ${rebuilt.nodes.original} → ${rebuilt.nodes.rebuilt} nodes (attention ${args.attention}, int8 MatMul ${args.int8MatMul}, precision ${args.precision}), ${(result.totalBytes / 1e6).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

runCli('rebuild-transformer', main);
