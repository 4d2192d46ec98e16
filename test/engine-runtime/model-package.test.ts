/**
 * Package checks happen before any session: every failure names the file and what is wrong.
 */
import { setEmbeddedModelProvider } from '../../worker/engine/embedded-model.js';
import { sd3FamilyPackage } from '../../worker/engine/sd3/family.js';
import { sha256HexAsync } from '../../worker/engine/verifying-reader.js';
import { fixturePackageFiles, json, parseJson, rejectionOf, replaceAscii, sd3PackageAsync } from './helpers.js';

let files: Record<string, Uint8Array>;

beforeAll(async () => {
  files = await fixturePackageFiles();
});

function without(path: string): Record<string, Uint8Array> {
  const copy = { ...files };
  delete copy[path];
  return copy;
}

function load(pkgFiles: Record<string, Uint8Array>) {
  return sd3PackageAsync({ kind: 'files', files: pkgFiles });
}

test('the fixture package loads, with geometry from its configs', async () => {
  const pkg = await load(files);
  expect(pkg.geometry).toEqual({ vaeScaleFactor: 8, patchSize: 2, latentChannels: 16, nativeSize: 256, maxSide: 512, sizeMultiple: 16 });
  expect(pkg.textEncoders).toEqual([]);
  expect(pkg.vaeEncoder).toBeUndefined();
});

test('files picked as a folder (paths prefixed by the folder name) load the same package', async () => {
  const prefixed = Object.fromEntries(Object.entries(files).map(([p, b]) => [`my-model/${p}`, b]));
  expect((await load(prefixed)).hash).toBe((await load(files)).hash);
});

test.each([
  'model_index.json',
  'transformer/model.onnx',
  'vae_decoder/model.onnx',
  'vae_decoder/config.json',
  'scheduler/scheduler_config.json',
])('a missing %s is model-missing-file naming it', async (path) => {
  const { code, message } = await rejectionOf(load(without(path)));
  expect(code).toBe('model-missing-file');
  expect(message).toContain(path);
});

test('a truncated graph is model-corrupt naming the file', async () => {
  const bytes = files['transformer/model.onnx'];
  const { code, message } = await rejectionOf(load({ ...files, 'transformer/model.onnx': bytes.subarray(0, bytes.length >> 1) }));
  expect(code).toBe('model-corrupt');
  expect(message).toMatch(/^\[model-corrupt\] transformer\/model.onnx is not a readable ONNX model/);
});

test('a config that is not JSON is model-corrupt naming the file', async () => {
  const { code, message } = await rejectionOf(load({ ...files, 'transformer/config.json': new TextEncoder().encode('{"sample_size": 3') }));
  expect(code).toBe('model-corrupt');
  expect(message).toContain('transformer/config.json is not valid JSON');
});

test('a graph whose input is renamed is model-mismatch naming the file and the input', async () => {
  const renamed = replaceAscii(files['transformer/model.onnx'], 'pooled_projections', 'pooled_projectionX');
  const { code, message } = await rejectionOf(load({ ...files, 'transformer/model.onnx': renamed }));
  expect(code).toBe('model-mismatch');
  expect(message).toContain('transformer/model.onnx: no input named "pooled_projections"');
  expect(message).toContain('pooled_projectionX');
});

test('a graph whose widths differ from the config is model-mismatch naming both', async () => {
  const config = parseJson(files['transformer/config.json']);
  const { code, message } = await rejectionOf(load({ ...files, 'transformer/config.json': json({ ...config, joint_attention_dim: 48 }) }));
  expect(code).toBe('model-mismatch');
  expect(message).toMatch(
    /transformer\/model.onnx: input "encoder_hidden_states" has size 32 in dimension 2 \[batch, sequence, 32\]; transformer\/config.json joint_attention_dim says 48/,
  );
});

test('a VAE latent_channels that differs from the transformer in_channels is model-mismatch', async () => {
  const config = parseJson(files['vae_decoder/config.json']);
  const { code, message } = await rejectionOf(load({ ...files, 'vae_decoder/config.json': json({ ...config, latent_channels: 4 }) }));
  expect(code).toBe('model-mismatch');
  expect(message).toMatch(/in_channels 16 differs from vae_decoder\/config.json latent_channels 4/);
});

test('a config field of the wrong type names the field and value', async () => {
  const config = parseJson(files['transformer/config.json']);
  const { code, message } = await rejectionOf(load({ ...files, 'transformer/config.json': json({ ...config, patch_size: 'two' }) }));
  expect(code).toBe('model-mismatch');
  expect(message).toContain('transformer/config.json: patch_size is "two"; expected a positive integer');
});

/** A one-subject vocabulary whose kind carries `judged_by_style`, with how its counts were made unless `judging` is false. */
function styleCounted(judgedByStyle: unknown, judging = true) {
  return {
    kinds: [
      {
        kind: 'emoji',
        prompt: '{subject}',
        styles: ['flat'],
        judged_by_style: judgedByStyle,
        subjects: [{ name: 'rocket', styles: ['flat'] }],
      },
    ],
    colours: ['red'],
    ...(judging ? { judged: { size: 256, images: 2, about: 'test images' } } : {}),
  };
}

describe('flowfill.json', () => {
  async function manifestFor(paths: string[]): Promise<Record<string, { sha256: string; bytes: number }>> {
    const entries: Record<string, { sha256: string; bytes: number }> = {};
    for (const path of paths) entries[path] = { sha256: await sha256HexAsync(files[path]), bytes: files[path].length };
    return entries;
  }

  test('matching sha256 and sizes load, with the manifest name and licence', async () => {
    const manifest = { name: 'Tiny Golden', licence: 'MIT', files: await manifestFor(Object.keys(files)) };
    const pkg = await load({ ...files, 'flowfill.json': json(manifest) });
    expect(pkg).toMatchObject({ name: 'Tiny Golden', licence: 'MIT' });
    expect(pkg.id).toMatch(/^tiny-golden-[0-9a-f]{12}$/);
  });

  test('a file whose sha256 differs is model-corrupt naming the file and both hashes', async () => {
    const manifest = { files: await manifestFor(['vae_decoder/model.onnx']) };
    const tampered = files['vae_decoder/model.onnx'].slice();
    tampered[tampered.length - 1] ^= 1;
    const { code, message } = await rejectionOf(load({ ...files, 'vae_decoder/model.onnx': tampered, 'flowfill.json': json(manifest) }));
    expect(code).toBe('model-corrupt');
    expect(message).toContain(
      `vae_decoder/model.onnx has sha256 ${await sha256HexAsync(tampered)}; flowfill.json says ${manifest.files['vae_decoder/model.onnx'].sha256}`,
    );
  });

  test('a file of the wrong size is model-corrupt', async () => {
    const manifest = { files: { 'transformer/config.json': { bytes: 1 } } };
    const { code, message } = await rejectionOf(load({ ...files, 'flowfill.json': json(manifest) }));
    expect(code).toBe('model-corrupt');
    expect(message).toMatch(/transformer\/config.json has \d+ bytes; flowfill.json says 1/);
  });

  test('latent_rgb_factors that do not fit the latent channels are model-mismatch naming flowfill.json', async () => {
    const manifest = { latent_rgb_factors: [[0.1, 0.2, 0.3]] };
    const { code, message } = await rejectionOf(load({ ...files, 'flowfill.json': json(manifest) }));
    expect(code).toBe('model-mismatch');
    expect(message).toMatch(/flowfill.json latent_rgb_factors: factors has 1 rows but the latent has 16 channels/);
  });

  test("a max_sequence_length beyond diffusers' 512 is model-mismatch", async () => {
    const { code, message } = await rejectionOf(load({ ...files, 'flowfill.json': json({ max_sequence_length: 600 }) }));
    expect(code).toBe('model-mismatch');
    expect(message).toContain('flowfill.json: max_sequence_length is 600');
  });

  test('a supersedes entry without a package hash is model-mismatch naming the entry', async () => {
    const { code, message } = await rejectionOf(load({ ...files, 'flowfill.json': json({ supersedes: [{ id: 'old-model' }] }) }));
    expect(code).toBe('model-mismatch');
    expect(message).toContain('flowfill.json: supersedes[0] is {"id":"old-model"}');
  });

  test.each([
    ['all subjects', 'vocabulary is "all subjects"; expected an object with kinds, colours and other_subjects'],
    [{ kinds: [] }, 'vocabulary.kinds is []; expected a list of at least one kind'],
    [
      { kinds: [{ kind: 'emoji', prompt: 'a {style} thing', styles: ['flat'], subjects: [] }] },
      'vocabulary.kinds[0].prompt is "a {style} thing"',
    ],
    [
      {
        kinds: [{ kind: 'emoji', prompt: '{subject}', styles: ['flat'], subjects: [{ name: 'rocket', styles: ['line'] }] }],
        colours: ['red'],
      },
      'vocabulary.kinds[0].subjects[0].styles is ["line"]; expected styles of its kind (flat)',
    ],
    [
      { kinds: [{ kind: 'emoji', prompt: '{subject}', styles: ['flat'], subjects: [{ name: 'rocket', styles: ['flat'] }] }] },
      'vocabulary.colours is missing',
    ],
    [
      {
        kinds: [{ kind: 'emoji', prompt: '{subject}', styles: ['flat'], subjects: [{ name: 'rocket', styles: ['flat'] }] }],
        colours: ['red'],
        other_subjects: -1,
      },
      'vocabulary.other_subjects is -1',
    ],
    [
      {
        kinds: [{ kind: 'emoji', prompt: '{subject}', styles: ['flat'], subjects: [{ name: 'rocket', styles: ['flat'], judged: [6, 5] }] }],
        colours: ['red'],
        judged: { size: 256, images: 5, about: 'test images' },
      },
      'vocabulary.kinds[0].subjects[0].judged is [6,5]; expected [recognised, images]',
    ],
    [
      {
        kinds: [{ kind: 'emoji', prompt: '{subject}', styles: ['flat'], subjects: [{ name: 'rocket', styles: ['flat'], judged: [4, 5] }] }],
        colours: ['red'],
      },
      "vocabulary.judged is missing; expected how the subjects' judged counts were made",
    ],
    [
      {
        kinds: [{ kind: 'emoji', prompt: '{subject}', styles: ['flat'], subjects: [{ name: 'rocket', styles: ['flat'] }] }],
        colours: ['red'],
        judged: { size: 0, images: 5, about: 'test images' },
      },
      'vocabulary.judged is {"size":0',
    ],
    [styleCounted({ thin: [1, 2] }), "vocabulary.kinds[0].judged_by_style.thin is [1,2]; expected counts of its kind's styles (flat)"],
    [styleCounted({ flat: [3, 2] }), 'vocabulary.kinds[0].judged_by_style.flat is [3,2]; expected [recognised, images]'],
    [styleCounted({ flat: [1, 2] }, false), "vocabulary.judged is missing; expected how the subjects' judged counts were made"],
  ])('a malformed vocabulary is model-mismatch naming its field (%#)', async (vocabulary, expected) => {
    const { code, message } = await rejectionOf(load({ ...files, 'flowfill.json': json({ vocabulary }) }));
    expect(code).toBe('model-mismatch');
    expect(message).toContain(`flowfill.json: ${expected}`);
  });

  test('a well-formed vocabulary reaches the model summary', async () => {
    const vocabulary = {
      kinds: [
        {
          kind: 'emoji',
          prompt: '{subject}, {style} style',
          styles: ['flat'],
          subjects: [{ name: 'rocket', aliases: ['spaceship'], styles: ['flat'] }],
        },
      ],
      colours: ['red'],
      other_subjects: 3,
    };
    const summary = sd3FamilyPackage(await load({ ...files, 'flowfill.json': json({ vocabulary }) })).summary;
    expect(summary.vocabulary).toEqual({ kinds: vocabulary.kinds, colours: ['red'], otherSubjects: 3 });
  });

  test("subjects' test counts reach the summary with how they were made", async () => {
    const judged = { size: 256, images: 10, about: 'ten test images' };
    const vocabulary = {
      kinds: [{ kind: 'emoji', prompt: '{subject}', styles: ['flat'], subjects: [{ name: 'rocket', styles: ['flat'], judged: [9, 10] }] }],
      colours: ['red'],
      judged,
    };
    const summary = sd3FamilyPackage(await load({ ...files, 'flowfill.json': json({ vocabulary }) })).summary;
    expect(summary.vocabulary?.kinds[0].subjects[0].judged).toEqual({ recognised: 9, images: 10 });
    expect(summary.vocabulary?.judged).toEqual(judged);
    const byStyle = { kinds: [{ ...vocabulary.kinds[0], judged_by_style: { flat: [9, 10] } }], colours: ['red'], judged };
    const counted = sd3FamilyPackage(await load({ ...files, 'flowfill.json': json({ vocabulary: byStyle }) })).summary;
    expect(counted.vocabulary?.kinds[0].judgedByStyle).toEqual({ flat: { recognised: 9, images: 10 } });
  });

  test('a listed file that is absent is model-missing-file', async () => {
    const manifest = { files: { 'tokenizer/vocab.json': { bytes: 10 } } };
    const { code, message } = await rejectionOf(load({ ...files, 'flowfill.json': json(manifest) }));
    expect(code).toBe('model-missing-file');
    expect(message).toContain('tokenizer/vocab.json is missing');
  });
});

test('a text encoder listed in model_index.json but absent is model-missing-file', async () => {
  const index = parseJson(files['model_index.json']);
  const { code, message } = await rejectionOf(
    load({ ...files, 'model_index.json': json({ ...index, text_encoder: ['transformers', 'CLIPTextModelWithProjection'] }) }),
  );
  expect(code).toBe('model-missing-file');
  expect(message).toContain('text_encoder/config.json');
});

test('the embedded model without a provider is a clear error; with one it loads', async () => {
  setEmbeddedModelProvider(undefined);
  const { code, message } = await rejectionOf(sd3PackageAsync({ kind: 'embedded' }));
  expect(code).toBe('model-missing-file');
  expect(message).toMatch(/no embedded model in this build/);
  setEmbeddedModelProvider(async () => files);
  try {
    expect((await sd3PackageAsync({ kind: 'embedded' })).geometry.maxSide).toBe(512);
  } finally {
    setEmbeddedModelProvider(undefined);
  }
});

describe('configs and graphs must agree (packages without hashes are checked too)', () => {
  let extended: Record<string, Uint8Array>;

  beforeAll(async () => {
    const { extendedPackageFiles } = await import('./extended-package.js');
    extended = await extendedPackageFiles();
  });

  function withConfig(
    path: string,
    change: Record<string, unknown>,
    base: Record<string, Uint8Array> = extended,
  ): Record<string, Uint8Array> {
    return { ...base, [path]: json({ ...parseJson(base[path]), ...change }) };
  }

  test("a text encoder whose hidden_size differs from its graph's output width is refused, naming both numbers", async () => {
    const { code, message } = await rejectionOf(load(withConfig('text_encoder/config.json', { hidden_size: 32 })));
    expect(code).toBe('model-mismatch');
    expect(message).toBe(
      '[model-mismatch] text_encoder/model.onnx: output "last_hidden_state" has size 24 in dimension 2 [batch_size, sequence_length, 24]; text_encoder/config.json hidden_size says 32',
    );
  });

  test('a text encoder whose text_embeds width differs from projection_dim is refused, naming both numbers', async () => {
    const { textEncoderGraph } = await import('./extended-package.js');
    const { code, message } = await rejectionOf(load({ ...extended, 'text_encoder/model.onnx': textEncoderGraph(48).model }));
    expect(code).toBe('model-mismatch');
    expect(message).toBe(
      '[model-mismatch] text_encoder/model.onnx: output "text_embeds" has size 48 in dimension 1 [batch_size, 48]; text_encoder/config.json projection_dim says 64',
    );
  });

  test('CLIP projection widths that do not add up to pooled_projection_dim are refused before any graph is read', async () => {
    const { code, message } = await rejectionOf(load(withConfig('text_encoder/config.json', { projection_dim: 48 })));
    expect(code).toBe('model-mismatch');
    expect(message).toBe(
      '[model-mismatch] text_encoder/config.json projection_dim 48 = 48, but transformer/config.json pooled_projection_dim is 64; these text encoders do not belong to this transformer',
    );
  });

  test('CLIP hidden widths beyond joint_attention_dim are refused', async () => {
    const { code, message } = await rejectionOf(load(withConfig('text_encoder/config.json', { hidden_size: 40 })));
    expect(code).toBe('model-mismatch');
    expect(message).toMatch(/text_encoder\/config.json hidden_size 40 = 40, more than transformer\/config.json joint_attention_dim 32/);
  });

  test('a T5 whose d_model differs from joint_attention_dim, and a T5 without any CLIP, are refused', async () => {
    const index = parseJson(extended['model_index.json']);
    const withT5 = {
      ...extended,
      'model_index.json': json({
        ...index,
        text_encoder_3: ['transformers', 'T5EncoderModel'],
        tokenizer_3: ['transformers', 'T5TokenizerFast'],
      }),
      'text_encoder_3/config.json': json({ d_model: 4096 }),
      'tokenizer_3/tokenizer.json': extended['tokenizer/tokenizer.json'],
      'tokenizer_3/tokenizer_config.json': extended['tokenizer/tokenizer_config.json'],
    };
    const wide = await rejectionOf(load(withT5));
    expect(wide.code).toBe('model-mismatch');
    expect(wide.message).toBe(
      "[model-mismatch] text_encoder_3/config.json d_model is 4096, but transformer/config.json joint_attention_dim is 32; T5's tokens must be joint_attention_dim wide",
    );
    const alone = await rejectionOf(
      load({ ...withT5, 'model_index.json': json({ ...parseJson(withT5['model_index.json']), text_encoder: [null, null] }) }),
    );
    expect(alone.message).toMatch(/text_encoder_3 \(T5\) without a CLIP text encoder gives no pooled embedding/);
  });

  test('a transformer config whose pooled_projection_dim differs from the graph is refused, naming both numbers', async () => {
    const { code, message } = await rejectionOf(load(withConfig('transformer/config.json', { pooled_projection_dim: 48 }, files)));
    expect(code).toBe('model-mismatch');
    expect(message).toMatch(
      /transformer\/model.onnx: input "pooled_projections" has size 64 in dimension 1 .*; transformer\/config.json pooled_projection_dim says 48$/,
    );
  });

  test('a VAE whose out_channels differ from the decoder graph is refused, naming both numbers', async () => {
    const { code, message } = await rejectionOf(load(withConfig('vae_decoder/config.json', { out_channels: 4 }, files)));
    expect(code).toBe('model-mismatch');
    expect(message).toMatch(
      /vae_decoder\/model.onnx: output "sample" has size 3 in dimension 1 .*; vae_decoder\/config.json out_channels says 4$/,
    );
  });
});
