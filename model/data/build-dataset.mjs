#!/usr/bin/env node
// Builds Flowfill's training data: emoji sprites rasterised once, plus a manifest that tells the
// GPU trainer how to compose and caption them (see model/README.md, "Data").
//
//   node model/data/build-dataset.mjs [--subjects 200] [--sprite 128] [--out model/.cache/data]
//
// Writes into --out:
//   sprites.u8.gz    uint8 [subjects, styles, sprite, sprite, 4], premultiplied RGBA (resvg's own layout), gzip
//   manifest.json    subjects (label, tags, names, sources), styles, colours, caption templates,
//                    held-out (subject, style, colour) triples, tokenizer examples, licences
//   tokenizer.json, tokenizer_config.json   HF tokenizers format (WordPiece over whole words = word level)
//   samples/*.png    a few composites made with the same recipe as the trainer (model/flowfill/data.py)
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import { encode as encodePng } from 'fast-png';

const require = createRequire(import.meta.url);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function parseArgs(argv) {
  const args = { subjects: 200, sprite: 128, out: path.join(repoRoot, 'model/.cache/data'), samples: 12, seed: 20261126 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args)) throw new Error(`unknown option --${key}; valid: ${Object.keys(args).map((k) => '--' + k).join(', ')}`);
    args[key] = key === 'out' ? path.resolve(argv[i + 1]) : Number(argv[i + 1]);
  }
  return args;
}

// mulberry32: tiny seeded PRNG so the subject choice and held-out split are reproducible.
function makeRng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const STYLES = [
  { name: 'flat', source: 'fluentui-emoji', dir: 'icons/flat', licence: 'MIT', by: 'Microsoft Fluent Emoji (flat)' },
  { name: 'glossy', source: 'fluentui-emoji', dir: 'icons/modern', licence: 'MIT', by: 'Microsoft Fluent Emoji (color/"modern")' },
  { name: 'twemoji', source: '@twemoji/svg', dir: '', licence: 'CC-BY-4.0', by: 'Twemoji' },
];

// Named background colours; the evaluation measures the border colour against this same table.
export const COLOURS = [
  ['red', [220, 40, 40]], ['orange', [245, 140, 30]], ['yellow', [250, 215, 50]], ['lime', [170, 230, 60]],
  ['green', [40, 150, 60]], ['teal', [20, 140, 140]], ['cyan', [70, 210, 230]], ['blue', [40, 90, 220]],
  ['navy', [20, 30, 90]], ['purple', [120, 50, 170]], ['magenta', [220, 50, 190]], ['pink', [250, 170, 200]],
  ['brown', [120, 75, 40]], ['black', [15, 15, 15]], ['white', [245, 245, 245]], ['gray', [128, 128, 128]],
];

export const CAPTION_TEMPLATES = [
  '{subject}, {style} style, on a {background} background',
  '{subject}, {style} style, {background} background',
  'a {subject} in {style} style on a {background} background',
  '{subject} on a {background} background, {style} style',
];

const ALWAYS_INCLUDED = ['rocket', 'pizza', 'bicycle', 'guitar', 'light bulb', 'umbrella', 'cat', 'dog', 'rainbow', 'house', 'red apple', 'sun', 'airplane', 'crown'];
const GROUPS_USED = [3, 4, 5, 6, 7]; // animals-nature, food-drink, travel-places, activities, objects

const slug = (label) => label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
export const words = (text) => text.toLowerCase().match(/[a-z0-9]+|[^a-z0-9\s]/g) ?? [];

function pkgDir(name) {
  return path.dirname(require.resolve(`${name}/package.json`));
}

function selectSubjects(count, rng) {
  const emojis = require('emojibase-data/en/data.json');
  const fluent = pkgDir('fluentui-emoji');
  const twemoji = pkgDir('@twemoji/svg');
  const candidates = [];
  for (const e of emojis) {
    if (!GROUPS_USED.includes(e.group)) continue;
    const labelWords = words(e.label);
    // Short, plain labels are the well-known ones and keep the vocabulary small.
    if (labelWords.length > 2 || labelWords.some((w) => !/^[a-z]+$/.test(w))) continue;
    const files = [
      path.join(fluent, STYLES[0].dir, `${slug(e.label)}.svg`),
      path.join(fluent, STYLES[1].dir, `${slug(e.label)}.svg`),
      path.join(twemoji, `${e.hexcode.toLowerCase()}.svg`),
    ];
    if (files.every((f) => fs.existsSync(f))) candidates.push({ e, files });
  }
  candidates.sort((a, b) => a.e.order - b.e.order);
  if (candidates.length < count) throw new Error(`--subjects ${count}: only ${candidates.length} emoji have all three styles; use at most that`);
  // A few iconic subjects always, the rest evenly spaced over Unicode order so every group is represented.
  const forced = candidates.filter(({ e }) => ALWAYS_INCLUDED.includes(e.label.toLowerCase()));
  const rest = candidates.filter((c) => !forced.includes(c));
  const chosen = [...forced];
  for (let i = 0; chosen.length < count; i++) chosen.push(rest[Math.floor((i * rest.length) / (count - forced.length))]);
  chosen.sort((a, b) => a.e.order - b.e.order);
  // Tags that name exactly one chosen subject become alternative names ("spaceship" for rocket);
  // tags shared by several subjects would make captions ambiguous.
  const tagCount = new Map();
  for (const { e } of chosen) for (const t of new Set(e.tags ?? [])) tagCount.set(t, (tagCount.get(t) ?? 0) + 1);
  const labels = new Set(chosen.map(({ e }) => e.label.toLowerCase()));
  return chosen.map(({ e, files }, id) => {
    const tags = (e.tags ?? []).filter((t) => tagCount.get(t) === 1 && /^[a-z]+( [a-z]+)?$/.test(t) && !labels.has(t) && t !== e.label.toLowerCase()).slice(0, 2);
    return { id, label: e.label.toLowerCase(), hexcode: e.hexcode, emoji: e.emoji, group: e.group, tags, names: [e.label.toLowerCase(), ...tags], files };
  });
}

function rasterise(file, size) {
  const svg = fs.readFileSync(file, 'utf8');
  const img = new Resvg(svg, { fitTo: { mode: 'width', value: size }, background: 'rgba(0,0,0,0)' }).render();
  if (img.width !== size || img.height !== size) {
    // Non-square viewBox: centre it in a square canvas.
    const out = new Uint8Array(size * size * 4);
    const ox = Math.floor((size - img.width) / 2), oy = Math.floor((size - img.height) / 2);
    for (let y = 0; y < Math.min(img.height, size); y++)
      for (let x = 0; x < Math.min(img.width, size); x++)
        for (let c = 0; c < 4; c++) out[((y + oy) * size + x + ox) * 4 + c] = img.pixels[(y * img.width + x) * 4 + c];
    return out;
  }
  return new Uint8Array(img.pixels);
}

function buildVocabulary(subjects) {
  const vocab = new Map([['<pad>', 0], ['<unk>', 1], ['<bos>', 2], ['<eos>', 3]]);
  const add = (text) => { for (const w of words(text)) if (!vocab.has(w)) vocab.set(w, vocab.size); };
  for (const t of CAPTION_TEMPLATES) add(t.replace(/\{[a-z]+\}/g, ' '));
  for (const s of STYLES) add(s.name);
  for (const [c] of COLOURS) add(c);
  add('gradient to');
  for (const s of subjects) for (const n of s.names) add(n);
  return Object.fromEntries(vocab);
}

export function tokenizerJson(vocab) {
  const special = ['<pad>', '<unk>', '<bos>', '<eos>'];
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: special.map((content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<eos>', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '<eos>', type_id: 0 } }],
      special_tokens: {
        '<bos>': { id: '<bos>', ids: [vocab['<bos>']], tokens: ['<bos>'] },
        '<eos>': { id: '<eos>', ids: [vocab['<eos>']], tokens: ['<eos>'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    // WordPiece over a vocabulary of whole words: an unknown word maps to <unk> as a whole
    // (no "##" pieces exist), i.e. word-level behaviour in a model type tokenizers.js supports.
    model: { type: 'WordPiece', unk_token: '<unk>', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

export const MODEL_MAX_LENGTH = 32;

export function tokenizerConfig() {
  return {
    model_max_length: MODEL_MAX_LENGTH, bos_token: '<bos>', eos_token: '<eos>', pad_token: '<pad>', unk_token: '<unk>',
    padding_side: 'right', truncation_side: 'right', do_lower_case: true, tokenizer_class: 'PreTrainedTokenizerFast',
    flowfill_padding: 'ids = <bos> words <eos>, cut to model_max_length keeping <eos> last, then <pad> to model_max_length',
  };
}

// Reference tokenisation (the trainer implements the same rule in model/flowfill/tokenizer.py).
export function encodeCaption(vocab, text, maxLength = MODEL_MAX_LENGTH) {
  const ids = words(text).map((w) => vocab[w] ?? vocab['<unk>']).slice(0, maxLength - 2);
  const out = [vocab['<bos>'], ...ids, vocab['<eos>']];
  while (out.length < maxLength) out.push(vocab['<pad>']);
  return out;
}

export function caption(template, subject, style, background) {
  return template.replace('{subject}', subject).replace('{style}', style).replace('{background}', background);
}

function heldOutTriples(subjects, rng) {
  // One (style, colour) combination per subject never appears in training captions or images;
  // evaluation prompts come from these combinations only.
  return subjects.map((s) => [s.id, Math.floor(rng() * STYLES.length), Math.floor(rng() * COLOURS.length)]);
}

// Same composition recipe as model/flowfill/data.py (kept simple so both stay in step): solid or
// two-colour gradient background; subject scaled to 45-80% of the short side, centred with ±6% jitter.
function composite(sprite, spriteSize, width, height, bg, rng) {
  const img = new Float32Array(width * height * 3);
  const [c1, c2, isGradient, angle] = bg;
  const dx = Math.cos(angle), dy = Math.sin(angle);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      let t = 0;
      if (isGradient) t = Math.min(1, Math.max(0, 0.5 + ((x / width - 0.5) * dx + (y / height - 0.5) * dy)));
      for (let c = 0; c < 3; c++) img[(y * width + x) * 3 + c] = c1[c] * (1 - t) + c2[c] * t;
    }
  const short = Math.min(width, height);
  const size = short * (0.45 + 0.35 * rng());
  const cx = width / 2 + (rng() - 0.5) * 0.12 * width, cy = height / 2 + (rng() - 0.5) * 0.12 * height;
  const x0 = cx - size / 2, y0 = cy - size / 2;
  for (let y = Math.max(0, Math.floor(y0)); y < Math.min(height, Math.ceil(y0 + size)); y++)
    for (let x = Math.max(0, Math.floor(x0)); x < Math.min(width, Math.ceil(x0 + size)); x++) {
      const u = ((x + 0.5 - x0) / size) * spriteSize - 0.5, v = ((y + 0.5 - y0) / size) * spriteSize - 0.5;
      const iu = Math.floor(u), iv = Math.floor(v), fu = u - iu, fv = v - iv;
      const px = [0, 0, 0, 0];
      for (const [oy, ox, w] of [[0, 0, (1 - fu) * (1 - fv)], [0, 1, fu * (1 - fv)], [1, 0, (1 - fu) * fv], [1, 1, fu * fv]]) {
        const sy = iv + oy, sx = iu + ox;
        if (sy < 0 || sx < 0 || sy >= spriteSize || sx >= spriteSize) continue;
        for (let c = 0; c < 4; c++) px[c] += w * sprite[(sy * spriteSize + sx) * 4 + c];
      }
      const a = px[3] / 255;
      for (let c = 0; c < 3; c++) img[(y * width + x) * 3 + c] = px[c] + (1 - a) * img[(y * width + x) * 3 + c];
    }
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(img[i])));
  return out;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const rng = makeRng(args.seed);
  const subjects = selectSubjects(args.subjects, rng);
  const S = args.sprite;
  const sprites = new Uint8Array(subjects.length * STYLES.length * S * S * 4);
  subjects.forEach((s, i) => s.files.forEach((f, j) => sprites.set(rasterise(f, S), (i * STYLES.length + j) * S * S * 4)));
  fs.mkdirSync(path.join(args.out, 'samples'), { recursive: true });
  const gz = zlib.gzipSync(sprites, { level: 9 });
  fs.writeFileSync(path.join(args.out, 'sprites.u8.gz'), gz);

  const vocab = buildVocabulary(subjects);
  fs.writeFileSync(path.join(args.out, 'tokenizer.json'), JSON.stringify(tokenizerJson(vocab), null, 1));
  fs.writeFileSync(path.join(args.out, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig(), null, 1));

  const heldOut = heldOutTriples(subjects, rng);
  const examples = [
    'rocket, flat style, on a teal background', '', 'A Rocket in GLOSSY style on a navy to pink gradient background!',
    caption(CAPTION_TEMPLATES[2], subjects[0].names.at(-1), 'twemoji', 'white'), 'unknownword spaceship',
  ].map((text) => ({ text, ids: encodeCaption(vocab, text) }));

  const samples = [];
  const ratios = [[1, 2], [2, 3], [1, 1], [16, 9], [2, 1], [3, 4]];
  for (let k = 0; k < args.samples; k++) {
    const s = subjects[Math.floor(rng() * subjects.length)];
    const style = Math.floor(rng() * STYLES.length);
    const [rw, rh] = ratios[k % ratios.length];
    const r = rw / rh;
    const width = Math.round((256 * Math.sqrt(r)) / 16) * 16, height = Math.round(256 / Math.sqrt(r) / 16) * 16;
    const gradient = rng() < 0.3;
    const ci = Math.floor(rng() * COLOURS.length), cj = Math.floor(rng() * COLOURS.length);
    const bgName = gradient ? `${COLOURS[ci][0]} to ${COLOURS[cj][0]} gradient` : COLOURS[ci][0];
    const name = s.names[Math.floor(rng() * s.names.length)];
    const text = caption(CAPTION_TEMPLATES[k % CAPTION_TEMPLATES.length], name, STYLES[style].name, bgName);
    const sprite = sprites.subarray((s.id * STYLES.length + style) * S * S * 4, (s.id * STYLES.length + style + 1) * S * S * 4);
    const rgb = composite(sprite, S, width, height, [COLOURS[ci][1], COLOURS[gradient ? cj : ci][1], gradient, rng() * Math.PI * 2], rng);
    const file = `sample-${String(k).padStart(2, '0')}.png`;
    fs.writeFileSync(path.join(args.out, 'samples', file), encodePng({ width, height, data: rgb, channels: 3, depth: 8 }));
    samples.push({ file, caption: text, width, height });
  }

  const manifest = {
    format: 'flowfill-emoji-dataset/1',
    built_with: 'node model/data/build-dataset.mjs ' + process.argv.slice(2).join(' '),
    sprite_size: S, sprite_layout: 'uint8 [subject, style, y, x, rgba], premultiplied alpha, gzip',
    sprites_sha256_gz: (await import('node:crypto')).createHash('sha256').update(gz).digest('hex'),
    styles: STYLES.map(({ name, source, dir, licence, by }) => ({ name, source, dir, licence, by })),
    colours: COLOURS.map(([name, rgb]) => ({ name, rgb })),
    caption_templates: CAPTION_TEMPLATES,
    composition: { subject_scale: [0.45, 0.8], centre_jitter: 0.06, gradient_probability: 0.3, aspect_range: [0.5, 2.0], native: 256 },
    subjects: subjects.map(({ files, ...rest }) => ({ ...rest, files: files.map((f) => path.relative(path.join(repoRoot, 'node_modules'), f)) })),
    held_out: { what: '(subject, style index, colour index) triples excluded from training; evaluation prompts use them', triples: heldOut },
    tokenizer: { model_max_length: MODEL_MAX_LENGTH, vocab_size: Object.keys(vocab).length, examples },
    samples,
    licences: LICENCES,
  };
  fs.writeFileSync(path.join(args.out, 'manifest.json'), JSON.stringify(manifest, null, 1));
  console.log(`subjects ${subjects.length}, styles ${STYLES.length}, sprites ${S}px, sprites.u8.gz ${(gz.length / 1048576).toFixed(2)} MiB, vocab ${Object.keys(vocab).length}, samples ${samples.length} -> ${args.out}`);
}

export const LICENCES = [
  { data: 'Microsoft Fluent Emoji (flat and color SVGs), npm fluentui-emoji 1.3.0', licence: 'MIT', attribution: 'Copyright (c) Microsoft Corporation; npm packaging (c) 2022 Mohammad Abu Mattar' },
  { data: 'Twemoji graphics, npm @twemoji/svg 15.0.0', licence: 'CC-BY-4.0', attribution: 'Twemoji graphics (c) Twitter, Inc and other contributors, licensed under CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/); changes: rasterised, resized, composed on backgrounds' },
  { data: 'Emoji labels and tags, npm emojibase-data 17.0.0', licence: 'MIT', attribution: 'Copyright (c) Miles Johnson (Emojibase)' },
];

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
