/**
 * Why a layer got no image, in words: a long reason for the details and a short label for the
 * grouped line ("2 skipped: 1 locked, 1 text").
 */
import type { SkipCode } from './job.js';

/** Max images one batch makes; a larger selection is skipped beyond it with 'batch-limit'. */
export const MAX_JOBS_PER_BATCH = 64;

const SHORT: Record<SkipCode, string> = {
  text: 'text',
  group: 'group',
  unsupported: 'unsupported type',
  locked: 'locked',
  'mixed-fills': 'mixed fills',
  'too-small': 'too small',
  'no-record': 'no Flowfill image',
  'batch-limit': 'over the batch limit',
  size: 'size not possible',
  deleted: 'deleted',
  'other-model': 'made with another model',
};

/** "Vector", "Boolean operation" from the host's type name. */
function typeWords(type: string): string {
  const words = type.toLowerCase().replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The reason for a code; `type` names the layer type for 'unsupported'. */
export function skipReason(code: SkipCode, type = 'layer'): string {
  switch (code) {
    case 'text':
      return 'Text layers are skipped: an image fill would paint the letters. Select a frame or shape instead.';
    case 'group':
      return 'Groups have no fill of their own. Select a frame or shape inside it.';
    case 'unsupported':
      return `${typeWords(type)} layers cannot hold an image. Select a frame or shape.`;
    case 'locked':
      return 'The layer is locked. Unlock it to fill it.';
    case 'mixed-fills':
      return 'The layer has mixed fills.';
    case 'too-small':
      return 'The layer is smaller than 1 px on a side.';
    case 'no-record':
      return 'It holds no Flowfill image to regenerate. Use Generate instead.';
    case 'batch-limit':
      return `One batch makes at most ${MAX_JOBS_PER_BATCH} images; run again for the rest.`;
    case 'size':
      return 'Its size cannot be generated.';
    case 'deleted':
      return 'The layer was deleted, so its image was not made.';
    case 'other-model':
      return 'Its image was made with another model; use that model to regenerate it.';
  }
}

/** "2 skipped: 1 locked, 1 text": counts by short label, most common first. */
export function skippedLine(codes: readonly SkipCode[]): string {
  const counts = new Map<string, number>();
  for (const code of codes) counts.set(SHORT[code], (counts.get(SHORT[code]) ?? 0) + 1);
  const parts = [...counts].sort((a, b) => b[1] - a[1]).map(([label, n]) => `${n} ${label}`);
  return `${codes.length} skipped: ${parts.join(', ')}`;
}

/** A model as provenance knows it; `supersedes` lists earlier packages of the same weights (ModelInfo.supersedes). */
export interface ModelIdentity {
  id: string;
  name: string;
  hash: string;
  supersedes?: readonly string[];
}

/** Whether `model` regenerates an image whose provenance records the package hash `hash`. */
export function makesImagesOf(model: Pick<ModelIdentity, 'hash' | 'supersedes'>, hash: string): boolean {
  return model.hash === hash || (model.supersedes ?? []).includes(hash);
}

/**
 * Built-in models of earlier Flowfill versions. Their layers record their hashes, and only the same
 * weights remake the same image, so the panel says where the package lives for Add from folder.
 * test/model/default-package.test.ts checks each entry against the engine's reading of its folder.
 */
export const RETIRED_BUILT_IN_MODELS: readonly (ModelIdentity & { folder: string })[] = [
  {
    id: 'flowfill-emoji-sd3-tiny-9fd97b151d45',
    name: 'Flowfill Emoji SD3-tiny',
    hash: '9fd97b151d459c765ee33fd822d33a4895374ea9dc786303d83e3ed2387094bf',
    supersedes: ['d69f83ff06f1e81d3890f2545fc5c81b6a947f56609e48ee7e8b980c3fae870f'],
    folder: 'models/v1',
  },
  {
    id: 'flowfill-emoji-icons-sd3-tiny-v2-33401f156e9d',
    name: 'Flowfill Emoji & Icons SD3-tiny v2',
    hash: '33401f156e9d4009279be32c7a65f7ae5909482aa29ab0d53d77e3ce5669ccd8',
    supersedes: ['3430a0f9079de688ad56d35ed18126752b372d2e2118aedfe2778b28f50e3d44'],
    folder: 'models/v2.0',
  },
  {
    id: 'flowfill-emoji-icons-sd3-tiny-v2-1-b984dd589315',
    name: 'Flowfill Emoji & Icons SD3-tiny v2.1',
    hash: 'b984dd589315b5ca71a3d168ea07f4d654d1a9fc73eff4c41a89cb8b8d4ba0f6',
    supersedes: ['468e6a2e9ad7167d16d749219899245ae1378614fb969bf4dad9da9ea3508ee2'],
    folder: 'models/v2.1',
  },
  {
    id: 'flowfill-emoji-icons-sd3-tiny-v2-2-261b6d45c038',
    name: 'Flowfill Emoji & Icons SD3-tiny v2.2',
    hash: '261b6d45c038804ca3a000e3b6e105bc34dab87cd39ee7a87e19d4fec5d74a0c',
    supersedes: ['e63a4b460a545ee59431fdc3ad4ca3ec8ec5d6c965e44cbf29527505664d908f'],
    folder: 'models/v2.2',
  },
  {
    id: 'flowfill-emoji-icons-sd3-tiny-v2-3-46afbccd46ea',
    name: 'Flowfill Emoji & Icons SD3-tiny v2.3',
    hash: '46afbccd46ea789bdbe1dd21d02dc41f93025cded17121b01e115a1716fa43d9',
    supersedes: ['18b6e4d4837d4c018f55e247b81cd4567d9e4c6b50463abb0da786d118a2e38a'],
    folder: 'models/v2.3',
  },
  {
    id: 'flowfill-emoji-icons-sd3-tiny-v2-4-9c025cea05e8',
    name: 'Flowfill Emoji & Icons SD3-tiny v2.4',
    hash: '9c025cea05e876018a7424c55a1f374ba3a8852c24a4d637c4d03d93900d67b1',
    supersedes: ['3fcecb31bace043aa173d6e44a2340786b43b125430f7c9de1e607f31a92a39b'],
    folder: 'models/v2.4',
  },
  {
    id: 'flowfill-emoji-icons-sd3-tiny-v2-5-be55bc1c5211',
    name: 'Flowfill Emoji & Icons SD3-tiny v2.5',
    hash: 'be55bc1c521155c1ba5519e4ae026b8a689e54410e43ca470c4473221ee02fcb',
    supersedes: ['0d03d65bbcd36c620ffe19199c68ce6df928542a5f1abec3a6d20ff310662c68'],
    folder: 'models/v2.5',
  },
  {
    id: 'flowfill-emoji-icons-sd3-tiny-v2-6-028ce9f142d0',
    name: 'Flowfill Emoji & Icons SD3-tiny v2.6',
    hash: '028ce9f142d01632b8d6b810eae749fe502ab84ac8ebf009279b5154570fc4c1',
    supersedes: ['435660cd7cf05c098d4d9453806264fe499101f441cddf5f7e11f566eb4bfee6'],
    folder: 'models/v2.6',
  },
  {
    id: 'flowfill-emoji-icons-sd3-tiny-v2-7-65e1e2f20ab4',
    name: 'Flowfill Emoji & Icons SD3-tiny v2.7',
    hash: '65e1e2f20ab492b83624d777c470fb809e5575c878b2556533eeeb9b3a97d52d',
    supersedes: ['0ac7e4c04704a402a565b38bfd4dd84ea38c42ceb787479beeab180a4a2d4d24'],
    folder: 'models/v2.7',
  },
  {
    id: 'flowfill-emoji-icons-sd3-tiny-v2-8-fd774260ef99',
    name: 'Flowfill Emoji & Icons SD3-tiny v2.8',
    hash: 'fd774260ef9958e08330b2ba0bd4996de90ea0ee3de3f358a25be66823c586a8',
    supersedes: ['341b09b99d29a82d6273b2a10a97108464ce1370f6ca34bd340c792adceb0f7e'],
    folder: 'models/v2.8',
  },
];

/**
 * Why a layer cannot be regenerated with the model in use: which model made it, and whether to
 * Use it (installed) or add it first. `installed` lists the models the panel can switch to.
 */
export function otherModelReason(
  recorded: { id: string; hash: string },
  current: { name: string },
  installed: readonly ModelIdentity[],
): string {
  const match = installed.find((m) => makesImagesOf(m, recorded.hash));
  if (match) return `Made with “${match.name}”, not the model in use (“${current.name}”): choose Use on it under Models, then Regenerate.`;
  const otherWay = `Or choose Use these settings, then Generate, for a new image from its settings with “${current.name}”.`;
  const retired = RETIRED_BUILT_IN_MODELS.find((m) => makesImagesOf(m, recorded.hash));
  if (retired)
    return `Made with “${retired.name}”, the model built into earlier Flowfill versions. Its package is the folder ${retired.folder} of the Flowfill repository: add it (Models → Add from folder), then Regenerate. ${otherWay}`;
  return `Made with the model ${recorded.id} (hash ${recorded.hash.slice(0, 12)}…), which is not among your models: add it (Models → Add from folder or Add from URL), then Regenerate. ${otherWay}`;
}
