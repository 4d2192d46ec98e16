/**
 * The model-family seam: model_index.json's _class_name picks the family; other pipelines are
 * refused by name; an SD3 package can take its graphs from memory instead of files and is then
 * checked and run exactly as one read from files.
 */
import { createEngine } from '../../worker/engine/engine.js';
import { graphFromBytes } from '../../worker/engine/graph-file.js';
import { readPackageIndexAsync } from '../../worker/engine/load-model-package.js';
import { openPackageAsync } from '../../worker/engine/package-source.js';
import { sd3FamilyPackage } from '../../worker/engine/sd3/family.js';
import {
  assembleSd3PackageAsync,
  inMemoryGraphSource,
  readSd3ComponentsAsync,
  type Sd3GraphSource,
} from '../../worker/engine/sd3/package.js';
import { VerifyingReader } from '../../worker/engine/verifying-reader.js';
import { fixturePackageFiles, json, parseJson, rejectionOf, replaceAscii } from './helpers.js';

let files: Record<string, Uint8Array>;

beforeAll(async () => {
  files = await fixturePackageFiles();
});

function withClassName(className: unknown): Record<string, Uint8Array> {
  const index = parseJson(files['model_index.json']);
  if (className === undefined) delete index._class_name;
  else index._class_name = className;
  return { ...files, 'model_index.json': json(index) };
}

describe('choosing the family by _class_name', () => {
  test.each(['FluxPipeline', 'StableDiffusionXLPipeline'])(
    'a %s folder is refused, naming the class and what is supported',
    async (className) => {
      const engine = createEngine({ backend: 'wasm' });
      const { code, message } = await rejectionOf(engine.loadModel({ kind: 'files', files: withClassName(className) }));
      expect(code).toBe('model-mismatch');
      expect(message).toBe(
        `[model-mismatch] model_index.json: _class_name "${className}" is a pipeline Flowfill does not run; it runs StableDiffusion3Pipeline (sd3)`,
      );
    },
  );

  test('a model_index.json without _class_name is refused, naming the field', async () => {
    const engine = createEngine({ backend: 'wasm' });
    const { code, message } = await rejectionOf(engine.loadModel({ kind: 'files', files: withClassName(undefined) }));
    expect(code).toBe('model-mismatch');
    expect(message).toMatch(/model_index.json has no "_class_name".*StableDiffusion3Pipeline \(sd3\)/);
  });

  test('StableDiffusion3Pipeline loads as the sd3 family', async () => {
    const engine = createEngine({ backend: 'wasm' });
    try {
      expect(await engine.loadModel({ kind: 'files', files })).toMatchObject({ backend: 'wasm', nativeSize: 256 });
    } finally {
      await engine.dispose();
    }
  }, 60_000);
});

describe('an SD3 package whose graphs come from memory', () => {
  /** The fixture without its graph files; the graphs are handed over as bytes instead. */
  async function assembleFromMemoryAsync(graphs: Sd3GraphSource) {
    const configsOnly = Object.fromEntries(Object.entries(files).filter(([path]) => !path.endsWith('.onnx')));
    const reader = new VerifyingReader(await openPackageAsync({ kind: 'files', files: configsOnly, description: 'the configs' }));
    const components = await readSd3ComponentsAsync(reader, await readPackageIndexAsync(reader));
    return assembleSd3PackageAsync(components, graphs, reader);
  }

  test('generates the same PNG bytes as the package read from files', async () => {
    const pkg = await assembleFromMemoryAsync(
      inMemoryGraphSource(
        {
          transformer: graphFromBytes('transformer (built in memory)', files['transformer/model.onnx']),
          vae_decoder: graphFromBytes('vae_decoder (built in memory)', files['vae_decoder/model.onnx']),
        },
        'the test graphs',
      ),
    );
    expect(pkg.transformer.graph.path).toBe('transformer (built in memory)');
    const request = { jobId: 'm', prompt: '', width: 96, height: 64, steps: 2, guidance: 4, seed: 3 };
    const runtime = await sd3FamilyPackage(pkg).createRuntimeAsync('wasm');
    const fromMemory = await runtime.generateAsync(request, { isCancelled: () => false, notes: [] }).finally(() => runtime.releaseAsync());
    const engine = createEngine({ backend: 'wasm' });
    try {
      await engine.loadModel({ kind: 'files', files });
      const fromFiles = await engine.generate(request);
      expect(Buffer.from(fromMemory.png).equals(Buffer.from(fromFiles.png))).toBe(true);
    } finally {
      await engine.dispose();
    }
  }, 60_000);

  test('an in-memory graph is checked against the configs like a file, named by its label', async () => {
    const wrong = replaceAscii(files['transformer/model.onnx'], 'pooled_projections', 'pooled_projectionX');
    const { code, message } = await rejectionOf(
      assembleFromMemoryAsync(
        inMemoryGraphSource(
          {
            transformer: graphFromBytes('transformer (built)', wrong),
            vae_decoder: graphFromBytes('vae_decoder (built)', files['vae_decoder/model.onnx']),
          },
          'the test graphs',
        ),
      ),
    );
    expect(code).toBe('model-mismatch');
    expect(message).toContain('transformer (built): no input named "pooled_projections"');
  });

  test('a missing in-memory graph is model-missing-file naming the component and the source', async () => {
    const { code, message } = await rejectionOf(
      assembleFromMemoryAsync(
        inMemoryGraphSource({ transformer: graphFromBytes('t', files['transformer/model.onnx']) }, 'the converter output'),
      ),
    );
    expect(code).toBe('model-missing-file');
    expect(message).toBe('[model-missing-file] no vae_decoder graph in the converter output (the pipeline needs it)');
  });

  test('a graph that names external data it was not given is refused when it is wrapped, before any session', async () => {
    const { extendedPackageFiles } = await import('./extended-package.js');
    const extended = await extendedPackageFiles();
    expect(() => graphFromBytes('vae_encoder (built)', extended['vae_encoder/model.onnx'])).toThrow(
      /\[model-missing-file\] vae_encoder \(built\) keeps weights in model.onnx_data, which was not given/,
    );
  });
});
