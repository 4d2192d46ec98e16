#!/usr/bin/env node
// Builds Flowfill's training data (model/README.md, "Data"): every emoji the installed emoji packages
// draw, and the icons that at least two of three icon sets name alike, rasterised once into compact
// sprite atlases, plus a manifest that tells the GPU trainer (model/flowfill/data.py) how to compose
// and caption them. No composition happens here: the trainer composes every batch on the GPU.
//
//   node model/data/build-dataset.mjs [--out model/.cache/data]
//
// Writes into --out (about 25 MB; it travels to the GPU machine, which has no Node):
//   emoji-flat.u8.gz, emoji-glossy.u8.gz, emoji-twemoji.u8.gz
//                    uint8 [n, S, S, 4] premultiplied RGBA (resvg's layout); glossy is stored as
//                    horizontal byte deltas (its gradients compress 17 % better that way)
//   icons-sdf.u8.gz  uint8 [n, 64, 64] signed distance to the icon's edge, 128 = edge, +32 per pixel
//                    inside (clamped to ±4 px): edges stay sharp at any scale and any colour
//   manifest.json    subjects (names, synonyms, sprites per style), styles, colours, caption templates,
//                    held-out combinations, evaluation prompt sets, licences
//   tokenizer.json, tokenizer_config.json   HF tokenizers format (WordPiece over whole words = word level)
import { fork } from 'node:child_process';
import crypto from 'node:crypto';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';

const require = createRequire(import.meta.url);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function parseArgs(argv) {
  const args = { out: path.join(repoRoot, 'model/.cache/data'), seed: 20261130 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args))
      throw new Error(
        `unknown option --${key}; valid: ${Object.keys(args)
          .map((k) => '--' + k)
          .join(', ')}`,
      );
    args[key] = key === 'out' ? path.resolve(argv[i + 1]) : Number(argv[i + 1]);
  }
  return args;
}

// mulberry32: tiny seeded PRNG so the held-out split and the evaluation sets are reproducible.
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

// Package folders by lookup (some packages' "exports" hide package.json from require.resolve).
const pkgDir = (name) => {
  const dir = require.resolve
    .paths(name)
    .map((base) => path.join(base, name))
    .find((d) => fs.existsSync(path.join(d, 'package.json')));
  if (!dir) throw new Error(`npm package ${name} is not installed; run npm ci`);
  return dir;
};
const pkgVersion = (name) => JSON.parse(fs.readFileSync(path.join(pkgDir(name), 'package.json'), 'utf8')).version;

// Styles. Emoji styles keep v1's names and order (flat, glossy, twemoji) so v1's held-out prompts stay valid.
export const STYLES = [
  { name: 'flat', kind: 'emoji', atlas: 'emoji-flat', size: 160, delta: false },
  { name: 'glossy', kind: 'emoji', atlas: 'emoji-glossy', size: 112, delta: true },
  { name: 'twemoji', kind: 'emoji', atlas: 'emoji-twemoji', size: 160, delta: false },
  { name: 'line', kind: 'icon', atlas: 'icons-sdf' },
  { name: 'filled', kind: 'icon', atlas: 'icons-sdf' },
  { name: 'bold', kind: 'icon', atlas: 'icons-sdf' },
  { name: 'thin', kind: 'icon', atlas: 'icons-sdf' },
];
const STYLE_INDEX = Object.fromEntries(STYLES.map((s, i) => [s.name, i]));
const SDF_SIZE = 64;
const SDF_OVERSAMPLE = 4;
const SDF_SPREAD = 4; // pixels of the 64-px sprite on each side of the edge

// Named colours. The first 16 are v1's (same names and RGB), then light/dark variants: "light" mixes
// 55 % towards white, "dark" 50 % towards black. Backgrounds and icon colours use the same table,
// and the evaluation measures colours against it.
const BASE_COLOURS = [
  ['red', [220, 40, 40]],
  ['orange', [245, 140, 30]],
  ['yellow', [250, 215, 50]],
  ['lime', [170, 230, 60]],
  ['green', [40, 150, 60]],
  ['teal', [20, 140, 140]],
  ['cyan', [70, 210, 230]],
  ['blue', [40, 90, 220]],
  ['navy', [20, 30, 90]],
  ['purple', [120, 50, 170]],
  ['magenta', [220, 50, 190]],
  ['pink', [250, 170, 200]],
  ['brown', [120, 75, 40]],
  ['black', [15, 15, 15]],
  ['white', [245, 245, 245]],
  ['gray', [128, 128, 128]],
];
const mix = (rgb, to, t) => rgb.map((c, i) => Math.round(c + (to[i] - c) * t));
export const COLOURS = [
  ...BASE_COLOURS,
  ...['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'gray', 'brown', 'teal'].map((n) => [
    `light ${n}`,
    mix(BASE_COLOURS.find(([b]) => b === n)[1], [255, 255, 255], 0.55),
  ]),
  ...['red', 'orange', 'green', 'blue', 'purple', 'pink', 'gray', 'teal', 'cyan', 'magenta'].map((n) => [
    `dark ${n}`,
    mix(BASE_COLOURS.find(([b]) => b === n)[1], [0, 0, 0], 0.5),
  ]),
];

// Caption templates. {background} is a colour or "{c1} to {c2} gradient"; {colour} is an icon's colour.
// The first emoji template is v1's evaluation template. "heldout" templates never appear in
// training: the paraphrase evaluation uses them (same words, new order). Some training templates
// name the background first: with it always last, v2's candidate learnt to bind colours by their
// place in the sentence, not by the word "background" (model/README.md, the paraphrase row). They
// use only words the other templates already have, so the vocabulary (and a resumed text
// encoder's embedding table) stays as it is.
export const TEMPLATES = {
  emoji: [
    '{subject}, {style} style, on a {background} background',
    '{subject}, {style} style, {background} background',
    'a {subject} in {style} style on a {background} background',
    '{subject} on a {background} background, {style} style',
    '{subject} emoji, {style} style, on a {background} background',
    'on a {background} background, a {subject} in {style} style',
    '{background} background, {style} style {subject} emoji',
  ],
  icon: [
    '{subject} icon, {style} style, {colour} on {background}',
    '{subject} icon, {style} style, {colour} on a {background} background',
    'a {colour} {subject} icon in {style} style on a {background} background',
    '{colour} {subject} icon on {background}, {style} style',
    '{style} {subject} icon, {colour} on a {background} background',
    'on {background}, a {colour} {subject} icon in {style} style',
    '{background} background: {colour} {subject} icon, {style} style',
  ],
  emoji_heldout: ['{style} style {subject} emoji on a {background} background', '{background} background, {subject}, {style} style'],
  icon_heldout: ['{background} background, {colour} {style} {subject} icon', 'a {style} style icon: {subject}, {colour} on {background}'],
};

export const LICENCES = [
  {
    data: `Microsoft Fluent Emoji (flat and color SVGs), npm fluentui-emoji ${pkgVersion('fluentui-emoji')}`,
    licence: 'MIT',
    attribution: 'Copyright (c) Microsoft Corporation; npm packaging (c) 2022 Mohammad Abu Mattar',
  },
  {
    data: `Twemoji graphics, npm @twemoji/svg ${pkgVersion('@twemoji/svg')}`,
    licence: 'CC-BY-4.0',
    attribution:
      'Twemoji graphics (c) Twitter, Inc and other contributors, licensed under CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/); changes: rasterised, resized, composed on backgrounds',
  },
  {
    data: `Emoji labels and tags, npm emojibase-data ${pkgVersion('emojibase-data')}`,
    licence: 'MIT',
    attribution: 'Copyright (c) Miles Johnson (Emojibase)',
  },
  {
    data: `Lucide icons, npm lucide-static ${pkgVersion('lucide-static')}`,
    licence: 'ISC (parts derived from Feather: MIT)',
    attribution: 'Copyright (c) Lucide Icons and Contributors (ISC); Feather icons copyright (c) 2013-2023 Cole Bemis (MIT)',
  },
  {
    data: `Tabler Icons, npm @tabler/icons ${pkgVersion('@tabler/icons')}`,
    licence: 'MIT',
    attribution: 'Copyright (c) 2020-2026 Paweł Kuna',
  },
  {
    data: `Phosphor Icons, npm @phosphor-icons/core ${pkgVersion('@phosphor-icons/core')}`,
    licence: 'MIT',
    attribution: 'Copyright (c) 2023 Phosphor Icons',
  },
];

const slug = (label) =>
  label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
export const words = (text) => text.toLowerCase().match(/[a-z0-9]+|[^a-z0-9\s]/g) ?? [];
// Plain lowercase ASCII names: "piñata" -> "pinata", "flag: Côte d’Ivoire" -> "flag cote d ivoire".
const plainName = (label) =>
  String(label)
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[’'`]/g, ' ')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();

// ------------------------------------------------------------------------------------------------
// Subjects

function twemojiFile(dir, hexcode) {
  const cps = hexcode.toLowerCase().split('-');
  const candidates = [cps, cps.filter((c) => c !== 'fe0f')].map((list) => list.map((c) => c.replace(/^0+(?=.)/, '')).join('-'));
  return candidates.map((name) => path.join(dir, `${name}.svg`)).find((f) => fs.existsSync(f));
}

function emojiSubjects() {
  const emojis = require('emojibase-data/en/data.json');
  const fluent = path.join(pkgDir('fluentui-emoji'), 'icons');
  const twemoji = pkgDir('@twemoji/svg');
  const out = [];
  for (const e of emojis) {
    if (e.group === 2) continue; // skin-tone and hair components, not subjects
    const s = slug(e.label);
    const files = {
      flat: [path.join(fluent, 'flat', `${s}.svg`)].filter((f) => fs.existsSync(f)),
      glossy: [path.join(fluent, 'modern', `${s}.svg`)].filter((f) => fs.existsSync(f)),
      twemoji: [twemojiFile(twemoji, e.hexcode)].filter(Boolean),
    };
    if (!Object.values(files).some((f) => f.length)) continue;
    out.push({ kind: 'emoji', label: plainName(e.label), hexcode: e.hexcode, group: e.group, order: e.order, tags: e.tags ?? [], files });
  }
  return out.sort((a, b) => a.order - b.order);
}

function iconSubjects() {
  const lucide = pkgDir('lucide-static');
  const tabler = pkgDir('@tabler/icons');
  const phosphor = pkgDir('@phosphor-icons/core');
  const names = (dir, strip = '') =>
    new Set(
      fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.svg'))
        .map((f) => f.slice(0, -4).replace(strip, '')),
    );
  const sets = {
    lucide: names(path.join(lucide, 'icons')),
    tabler: names(path.join(tabler, 'icons/outline')),
    phosphor: names(path.join(phosphor, 'assets/regular')),
  };
  const tablerFilled = names(path.join(tabler, 'icons/filled'));
  const lucideTags = JSON.parse(fs.readFileSync(path.join(lucide, 'tags.json'), 'utf8'));
  const tablerMeta = JSON.parse(fs.readFileSync(path.join(tabler, 'icons.json'), 'utf8'));
  const phosphorTags = Object.fromEntries(
    fs
      .readFileSync(path.join(phosphor, 'dist/index.mjs'), 'utf8')
      .match(/\{name:"[^"]+"[^}]*\}/g)
      ?.map((s) => {
        const name = s.match(/name:"([^"]+)"/)[1];
        const tags = (s.match(/tags:\[([^\]]*)\]/)?.[1] ?? '').match(/"([^"]*)"/g)?.map((t) => t.slice(1, -1)) ?? [];
        return [name, tags];
      }) ?? [],
  );
  // Brand logos are trademarks, not vocabulary; they are left out whatever the set's licence says.
  const isBrand = (n) => /(^|-)(brand|logo)(-|$)/.test(n) || (tablerMeta[n]?.category ?? '') === 'Brand';
  const all = new Set([...sets.lucide, ...sets.tabler, ...sets.phosphor]);
  const out = [];
  for (const n of [...all].sort()) {
    const inSets = Object.entries(sets)
      .filter(([, s]) => s.has(n))
      .map(([k]) => k);
    // The shared vocabulary: names that two independent sets agree on. One-set names are the long
    // tail (tabler alone has 5,500 outline icons, many of them variants).
    if (inSets.length < 2 || isBrand(n)) continue;
    const files = { line: [], filled: [], bold: [], thin: [] };
    if (sets.lucide.has(n)) files.line.push(['lucide', path.join(lucide, 'icons', `${n}.svg`)]);
    if (sets.tabler.has(n)) files.line.push(['tabler', path.join(tabler, 'icons/outline', `${n}.svg`)]);
    if (tablerFilled.has(n)) files.filled.push(['tabler', path.join(tabler, 'icons/filled', `${n}.svg`)]);
    if (sets.phosphor.has(n)) {
      files.line.push(['phosphor', path.join(phosphor, 'assets/regular', `${n}.svg`)]);
      files.filled.push(['phosphor', path.join(phosphor, 'assets/fill', `${n}-fill.svg`)]);
      files.bold.push(['phosphor', path.join(phosphor, 'assets/bold', `${n}-bold.svg`)]);
      files.thin.push(['phosphor', path.join(phosphor, 'assets/thin', `${n}-thin.svg`)]);
    }
    for (const k of Object.keys(files)) files[k] = files[k].filter(([, f]) => fs.existsSync(f));
    const tags = [...(lucideTags[n] ?? []), ...(tablerMeta[n]?.tags ?? []), ...(phosphorTags[n] ?? [])];
    out.push({ kind: 'icon', label: plainName(n.replace(/-/g, ' ')), name: n, sets: inSets, tags, files });
  }
  return out;
}

// Synonyms: tags that name exactly one subject of the same kind, of one or two plain words, and that
// are not another subject's name; at most two per subject. Shared tags would make captions ambiguous.
function addNames(subjects) {
  const count = new Map();
  const key = (kind, t) => `${kind}:${t}`;
  for (const s of subjects) for (const t of new Set(s.tags.map(plainName))) count.set(key(s.kind, t), (count.get(key(s.kind, t)) ?? 0) + 1);
  const labels = new Set(subjects.map((s) => s.label));
  for (const s of subjects) {
    const syn = [...new Set(s.tags.map(plainName))]
      .filter((t) => count.get(key(s.kind, t)) === 1 && /^[a-z]+( [a-z]+)?$/.test(t) && !labels.has(t) && t !== s.label)
      .slice(0, 2);
    s.names = [s.label, ...syn];
  }
}

// ------------------------------------------------------------------------------------------------
// Rasterising

function render(file, size) {
  const svg = fs.readFileSync(file, 'utf8');
  const img = new Resvg(svg, { fitTo: { mode: 'width', value: size }, background: 'rgba(0,0,0,0)' }).render();
  const pixels = img.pixels; // a getter that copies the whole image on every access: read it once
  const out = new Uint8Array(size * size * 4);
  // A non-square viewBox is centred in the square canvas.
  const ox = Math.floor((size - img.width) / 2),
    oy = Math.floor((size - img.height) / 2);
  for (let y = 0; y < Math.min(img.height, size); y++) {
    const row = pixels.subarray(y * img.width * 4, (y * img.width + Math.min(img.width, size)) * 4);
    if (y + oy >= 0 && y + oy < size) out.set(row, ((y + oy) * size + Math.max(ox, 0)) * 4);
  }
  return out;
}

// Felzenszwalb & Huttenlocher's exact 1-D squared distance transform ("Distance Transforms of Sampled
// Functions", Theory of Computing 8, 2012), applied to rows then columns.
function edt1d(f, n, d, v, z) {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    d[q] = (q - v[k]) ** 2 + f[v[k]];
  }
}

function distanceToSet(mask, n) {
  const INF = 1e20,
    grid = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) grid[i] = mask[i] ? 0 : INF;
  const f = new Float64Array(n),
    d = new Float64Array(n),
    v = new Int32Array(n),
    z = new Float64Array(n + 1);
  for (let x = 0; x < n; x++) {
    for (let y = 0; y < n; y++) f[y] = grid[y * n + x];
    edt1d(f, n, d, v, z);
    for (let y = 0; y < n; y++) grid[y * n + x] = d[y];
  }
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) f[x] = grid[y * n + x];
    edt1d(f, n, d, v, z);
    for (let x = 0; x < n; x++) grid[y * n + x] = Math.sqrt(d[x]);
  }
  return grid;
}

/** uint8 [SDF_SIZE²]: signed distance (positive inside) to the icon's edge, from a 4x render. */
export function iconSdf(file) {
  const n = SDF_SIZE * SDF_OVERSAMPLE;
  const rgba = render(file, n);
  const inside = new Uint8Array(n * n),
    outside = new Uint8Array(n * n);
  for (let i = 0; i < n * n; i++) {
    inside[i] = rgba[i * 4 + 3] >= 128 ? 1 : 0;
    outside[i] = 1 - inside[i];
  }
  const toInside = distanceToSet(inside, n),
    toOutside = distanceToSet(outside, n);
  const out = new Uint8Array(SDF_SIZE * SDF_SIZE);
  for (let y = 0; y < SDF_SIZE; y++) {
    for (let x = 0; x < SDF_SIZE; x++) {
      let acc = 0; // mean signed distance over the 4x4 cell, in high-res pixels (±0.5 at the boundary pixels)
      for (let j = 0; j < SDF_OVERSAMPLE; j++)
        for (let i = 0; i < SDF_OVERSAMPLE; i++) {
          const k = (y * SDF_OVERSAMPLE + j) * n + x * SDF_OVERSAMPLE + i;
          acc += inside[k] ? toOutside[k] - 0.5 : -(toInside[k] - 0.5);
        }
      const d = acc / SDF_OVERSAMPLE ** 2 / SDF_OVERSAMPLE; // in 64-px sprite pixels
      out[y * SDF_SIZE + x] = Math.max(0, Math.min(255, Math.round(128 + (d * 127) / SDF_SPREAD)));
    }
  }
  return out;
}

/** Horizontal byte deltas per channel (PNG's "Sub" filter); the trainer undoes it with a cumulative sum. */
function subFilter(rgba, size) {
  const out = new Uint8Array(rgba.length);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      for (let c = 0; c < 4; c++) {
        const i = (y * size + x) * 4 + c;
        out[i] = (rgba[i] - (x ? rgba[i - 4] : 0)) & 255;
      }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Tokenizer (word level through a WordPiece model over whole words; see model/README.md)

function buildVocabulary(subjects) {
  const vocab = new Map([
    ['<pad>', 0],
    ['<unk>', 1],
    ['<bos>', 2],
    ['<eos>', 3],
  ]);
  const add = (text) => {
    for (const w of words(text)) if (!vocab.has(w)) vocab.set(w, vocab.size);
  };
  for (const list of Object.values(TEMPLATES)) for (const t of list) add(t.replace(/\{[a-z]+\}/g, ' '));
  for (const s of STYLES) add(s.name);
  for (const [c] of COLOURS) add(c);
  add('gradient to');
  for (const s of subjects) for (const n of s.names) add(n);
  return Object.fromEntries(vocab);
}

export function tokenizerJson(vocab) {
  const special = ['<pad>', '<unk>', '<bos>', '<eos>'];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.map((content) => ({
      id: vocab[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '<bos>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<eos>', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '<bos>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '<eos>', type_id: 0 } },
      ],
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

// The longest training caption is 24 tokens (an 8-word emoji name in the "{subject} emoji" template with
// a two-colour gradient of two-word colours); every text token costs transformer time at every step.
export const MODEL_MAX_LENGTH = 24;

export function tokenizerConfig() {
  return {
    model_max_length: MODEL_MAX_LENGTH,
    bos_token: '<bos>',
    eos_token: '<eos>',
    pad_token: '<pad>',
    unk_token: '<unk>',
    padding_side: 'right',
    truncation_side: 'right',
    do_lower_case: true,
    tokenizer_class: 'PreTrainedTokenizerFast',
    flowfill_padding: 'ids = <bos> words <eos>, cut to model_max_length keeping <eos> last, then <pad> to model_max_length',
  };
}

// Reference tokenisation (the trainer implements the same rule in model/flowfill/tokenizer.py).
export function encodeCaption(vocab, text, maxLength = MODEL_MAX_LENGTH) {
  const ids = words(text)
    .map((w) => vocab[w] ?? vocab['<unk>'])
    .slice(0, maxLength - 2);
  const out = [vocab['<bos>'], ...ids, vocab['<eos>']];
  while (out.length < maxLength) out.push(vocab['<pad>']);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Held-out combinations and evaluation sets

const fill = (template, parts) =>
  template
    .replace('{subject}', parts.subject)
    .replace('{style}', parts.style)
    .replace('{background}', parts.background)
    .replace('{colour}', parts.colour ?? '');

/** Colours far enough apart to read as "X on Y" (RGB distance > 110). */
function contrasting(i, j) {
  const a = COLOURS[i][1],
    b = COLOURS[j][1];
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) > 110;
}

function heldOutAndEvalSets(subjects, rng) {
  const v1 = JSON.parse(fs.readFileSync(path.join(repoRoot, 'model/data/v1-eval-set.json'), 'utf8'));
  const byHex = new Map(subjects.filter((s) => s.kind === 'emoji').map((s) => [s.hexcode, s]));
  const pick = (list) => list[Math.floor(rng() * list.length)];
  // One (style, colour) combination per subject never appears in training: for emoji the colour is
  // the background's (neither solid nor inside a gradient), for icons the icon's own colour.
  const heldOut = new Map();
  const v1Set = [];
  v1.subjects.forEach((vs, k) => {
    const s = byHex.get(vs.hexcode);
    if (!s) throw new Error(`v1 subject ${vs.label} (${vs.hexcode}) is missing from the emoji packages`);
    const [, style, colour] = v1.held_out[k];
    heldOut.set(s.id, [s.id, style, colour]);
    v1Set.push(s.id);
  });
  for (const s of subjects) {
    if (heldOut.has(s.id)) continue;
    const styles = Object.keys(s.sprites).map(Number);
    heldOut.set(s.id, [s.id, pick(styles), Math.floor(rng() * COLOURS.length)]);
  }
  const shuffle = (list) => {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [list[i], list[j]] = [list[j], list[i]];
    }
    return list;
  };
  const v1Ids = new Set(v1Set);
  const emojiAll3 = shuffle(
    subjects.filter((s) => s.kind === 'emoji' && !v1Ids.has(s.id) && Object.keys(s.sprites).length === 3).map((s) => s.id),
  );
  const iconPool = shuffle(subjects.filter((s) => s.kind === 'icon').map((s) => s.id));
  // Icons all three sets draw first: they are the common ones.
  iconPool.sort((a, b) => subjects[b].sets.length - subjects[a].sets.length);
  const prompt = (sid, { template, nameIndex = 0, background }) => {
    const s = subjects[sid];
    const [, style, c] = heldOut.get(sid);
    const parts = { subject: s.names[Math.min(nameIndex, s.names.length - 1)], style: STYLES[style].name };
    let bg = c,
      fg = null;
    if (s.kind === 'icon') {
      fg = c;
      bg = background ?? [14, ...shuffle([...Array(COLOURS.length).keys()])].find((b) => b !== fg && contrasting(fg, b));
      parts.colour = COLOURS[fg][0];
    }
    parts.background = COLOURS[bg][0];
    return { subject: sid, style, colour: fg, background: bg, text: fill(template, parts) };
  };
  const sets = {
    v1_emoji: v1Set.map((sid) => prompt(sid, { template: TEMPLATES.emoji[0] })),
    emoji: emojiAll3.slice(0, 200).map((sid) => prompt(sid, { template: TEMPLATES.emoji[0] })),
    icons: iconPool.slice(0, 200).map((sid) => prompt(sid, { template: TEMPLATES.icon[0] })),
  };
  // Paraphrases: the same held-out combinations in word orders never trained on, with a synonym
  // for the subject where it has one.
  const para = [...v1Set.slice(0, 100), ...iconPool.slice(0, 100)];
  sets.paraphrases = para.map((sid, i) => {
    const s = subjects[sid];
    const templates = s.kind === 'emoji' ? TEMPLATES.emoji_heldout : TEMPLATES.icon_heldout;
    return prompt(sid, { template: templates[i % templates.length], nameIndex: 1 });
  });
  return { triples: [...heldOut.values()].sort((a, b) => a[0] - b[0]), sets };
}

// ------------------------------------------------------------------------------------------------

export function spriteBytes(sp) {
  const st = STYLES[sp.style];
  if (st.kind === 'icon') return iconSdf(sp.file);
  const rgba = render(sp.file, st.size);
  return st.delta ? subFilter(rgba, st.size) : rgba;
}

/** The subjects and the sprite list, deterministic from the installed packages. */
export function listSprites() {
  const subjects = [...emojiSubjects(), ...iconSubjects()];
  subjects.forEach((s, id) => {
    s.id = id;
  });
  addNames(subjects);
  const atlases = {};
  for (const st of STYLES)
    atlases[st.atlas] ??= { count: 0, size: st.size ?? SDF_SIZE, channels: st.kind === 'emoji' ? 4 : 1, delta: !!st.delta };
  const sprites = []; // {subject, style, atlas, index, source, file}
  for (const s of subjects) {
    s.sprites = {};
    for (const [styleName, list] of Object.entries(s.files)) {
      const st = STYLES[STYLE_INDEX[styleName]];
      for (const entry of list) {
        const [source, file] = Array.isArray(entry) ? entry : [styleName === 'twemoji' ? 'twemoji' : 'fluent', entry];
        (s.sprites[STYLE_INDEX[styleName]] ??= []).push(sprites.length);
        sprites.push({ subject: s.id, style: STYLE_INDEX[styleName], atlas: st.atlas, index: atlases[st.atlas].count++, source, file });
      }
    }
  }
  return { subjects, atlases, sprites };
}

function renderChunk({ file, sprites }) {
  fs.writeFileSync(file, Buffer.concat(sprites.map((sp) => Buffer.from(spriteBytes(sp)))));
  process.exit(0);
}

async function main() {
  if (process.argv[2] === '--render-chunk') return process.once('message', renderChunk);
  const args = parseArgs(process.argv.slice(2));
  const rng = makeRng(args.seed);
  const started = Date.now();
  const { subjects, atlases, sprites } = listSprites();
  fs.mkdirSync(args.out, { recursive: true });

  const buffers = Object.fromEntries(Object.entries(atlases).map(([n, a]) => [n, new Uint8Array(a.count * a.size * a.size * a.channels)]));
  // resvg-js keeps native memory after each render (about 0.5 MB, not returned to the system), so
  // sprites are rasterised by short-lived child processes, in chunks, one per core.
  const CHUNK = 500;
  const chunks = [];
  for (let i = 0; i < sprites.length; i += CHUNK) chunks.push([i, Math.min(i + CHUNK, sprites.length)]);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'flowfill-sprites-'));
  let done = 0;
  const runChunk = ([start, end]) =>
    new Promise((resolve, reject) => {
      const file = path.join(scratch, `${start}.bin`);
      const child = fork(fileURLToPath(import.meta.url), ['--render-chunk'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.send({ file, sprites: sprites.slice(start, end).map(({ style, file: svg }) => ({ style, file: svg })) });
      child.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`rasterising sprites ${start}..${end} failed (exit ${code})`));
        const bytes = fs.readFileSync(file);
        let offset = 0;
        for (let k = start; k < end; k++) {
          const sp = sprites[k],
            a = atlases[sp.atlas],
            n = a.size * a.size * a.channels;
          buffers[sp.atlas].set(bytes.subarray(offset, offset + n), sp.index * n);
          offset += n;
        }
        fs.rmSync(file);
        done += end - start;
        process.stderr.write(`  rasterised ${done}/${sprites.length} sprites (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
        resolve();
      });
    });
  const queue = [...chunks];
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(os.cpus().length, 4)) }, async () => {
      while (queue.length) await runChunk(queue.shift());
    }),
  );
  fs.rmSync(scratch, { recursive: true, force: true });
  const atlasFiles = {};
  for (const [name, buf] of Object.entries(buffers)) {
    const gz = zlib.gzipSync(buf, { level: 9 });
    fs.writeFileSync(path.join(args.out, `${name}.u8.gz`), gz);
    atlasFiles[name] = {
      file: `${name}.u8.gz`,
      ...atlases[name],
      bytes: gz.length,
      sha256: crypto.createHash('sha256').update(gz).digest('hex'),
    };
  }

  const vocab = buildVocabulary(subjects);
  fs.writeFileSync(path.join(args.out, 'tokenizer.json'), JSON.stringify(tokenizerJson(vocab), null, 1));
  fs.writeFileSync(path.join(args.out, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig(), null, 1));
  const { triples, sets } = heldOutAndEvalSets(subjects, rng);
  const examples = [
    'rocket, flat style, on a teal background',
    '',
    'shopping cart icon, line style, dark blue on white',
    'A Rocket in GLOSSY style on a navy to pink gradient background!',
    'unknownword spaceship',
    ...Object.values(sets).map((s) => s[0].text),
  ].map((text) => ({ text, ids: encodeCaption(vocab, text) }));
  const longest = Math.max(
    ...Object.values(sets)
      .flat()
      .map((p) => words(p.text).length + 2),
  );
  if (longest > MODEL_MAX_LENGTH) throw new Error(`an evaluation prompt has ${longest} tokens; model_max_length is ${MODEL_MAX_LENGTH}`);

  const manifest = {
    format: 'flowfill-dataset/2',
    built_with: 'node model/data/build-dataset.mjs ' + process.argv.slice(2).join(' '),
    atlases: atlasFiles,
    sdf: { size: SDF_SIZE, spread_px: SDF_SPREAD, encoding: 'byte = 128 + distance_px * 127 / spread_px, positive inside' },
    styles: STYLES.map(({ name, kind, atlas }) => ({ name, kind, atlas })),
    colours: COLOURS.map(([name, rgb]) => ({ name, rgb })),
    templates: TEMPLATES,
    composition: {
      subject_scale: [0.45, 0.8],
      centre_jitter: 0.06,
      gradient_probability: 0.3,
      aspect_range: [0.25, 4.0],
      native_sizes: [256, 512],
    },
    subjects: subjects.map((s) => ({
      id: s.id,
      kind: s.kind,
      label: s.label,
      names: s.names,
      sprites: s.sprites,
      ...(s.kind === 'emoji' ? { hexcode: s.hexcode, group: s.group } : { icon: s.name, sets: s.sets }),
    })),
    sprites: sprites.map(({ subject, style, atlas, index, source }) => ({ subject, style, atlas, index, source })),
    held_out: {
      what: 'one (subject, style, colour) triple per subject never composed in training: the background colour for emoji (also inside gradients), the icon colour for icons',
      triples,
    },
    eval_sets: sets,
    tokenizer: { model_max_length: MODEL_MAX_LENGTH, vocab_size: Object.keys(vocab).length, examples },
    licences: LICENCES,
  };
  fs.writeFileSync(path.join(args.out, 'manifest.json'), JSON.stringify(manifest));
  const total = Object.values(atlasFiles).reduce((a, f) => a + f.bytes, 0);
  const counts = { emoji: subjects.filter((s) => s.kind === 'emoji').length, icon: subjects.filter((s) => s.kind === 'icon').length };
  console.log(
    `subjects ${subjects.length} (emoji ${counts.emoji}, icons ${counts.icon}), sprites ${sprites.length}, atlases ${(total / 1048576).toFixed(2)} MiB ` +
      `(${Object.entries(atlasFiles)
        .map(([n, f]) => `${n} ${f.count} × ${f.size}px ${(f.bytes / 1048576).toFixed(2)} MiB`)
        .join(', ')}), ` +
      `vocab ${Object.keys(vocab).length}, ${((Date.now() - started) / 1000).toFixed(0)} s -> ${args.out}`,
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
