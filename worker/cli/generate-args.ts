/**
 * The command line of `npm run generate`: parsed with Node's util.parseArgs (strict: an unknown
 * option or an option without its value is an error), then every value checked for what it can
 * be without the model. The model-dependent checks (size against the model's grid, image-to-image
 * without a VAE encoder) follow once the package is read, still before any session exists.
 */
import { parseArgs } from 'node:util';
import type { BackendPreference } from '../../common/engine-types.js';
import { MAX_IMAGE_SIDE } from '../../common/resolution-planner.js';
import { UsageError } from './cli-errors.js';

export interface GenerateArgs {
  /** '' asks for an unconditional image. */
  prompt: string;
  negative?: string;
  size?: { width: number; height: number };
  /** Absent: the model's recommended value (flowfill.json), else SD3's default. */
  steps?: number;
  guidance?: number;
  seed: number;
  shift?: number;
  /** Paths exactly as given; the caller resolves them against the user's directory. */
  model?: string;
  out: string;
  init?: string;
  strength?: number;
  backend: BackendPreference;
  /** --memory-budget in bytes: the GPU memory the model may use (sd3/memory-plan.ts). */
  memoryBudgetBytes?: number;
  quiet: boolean;
}

/** What the default model allows, for the help text (absent when models/default/ is not there). */
export interface DefaultModelSizes {
  nativeSize: number;
  maxSide: number;
  sizeMultiple: number;
}

export function generateUsage(defaults?: DefaultModelSizes): string {
  const sizeDefault = defaults
    ? `the model's native size;\n                           the default model: ${defaults.nativeSize}x${defaults.nativeSize}, sides up to ${defaults.maxSide} px in steps of ${defaults.sizeMultiple}`
    : "the model's native size";
  return `Usage: npm run generate -- [options] "<prompt>"

Generates one image with the engine the Flowfill plugin runs and writes it as a PNG file.

  <prompt>                 what to draw; --prompt "" asks for an unconditional image
  -o, --out <file.png>     where to write the image (default: out.png)
      --size <W>x<H>       image size in pixels (default: ${sizeDefault})
      --steps <n>          denoising steps, 1 to 200 (default: the model's recommendation, else 28)
      --guidance <g>       classifier-free guidance, 0 or more; 1 or less turns it off
                           (default: the model's recommendation, else 7)
      --seed <n>           0 to 4294967295; the same seed gives the same image (default: 0)
      --negative <text>    what to steer away from (default: none)
      --shift <s>          scheduler shift, above 0 (default: the model's scheduler_config.json)
      --init <image>       start from this PNG, JPEG or WebP image (image-to-image)
      --strength <s>       with --init: how far to move from it, above 0 up to 1 (default: 0.6)
      --model <folder>     a model package folder (default: the embedded model, models/default/)
      --backend <name>     wasm (default), webgpu, or auto (WebGPU on a hardware GPU, else WASM)
      --memory-budget <n>  GPU memory the model may use, e.g. 8GB or 512MB (GB = 2^30 bytes);
                           a request that cannot fit fails first and says what would fit
  -q, --quiet              no progress line
  -h, --help               show this help and exit

Relative paths are relative to the directory you run the command from. Progress goes to stderr:
one line redrawn in place on a terminal, one line per step when stderr is a file or a pipe.
Exit status: 0 done, 1 failed (model, file or engine), 2 wrong command line.`;
}

const OPTIONS = {
  prompt: { type: 'string' },
  out: { type: 'string', short: 'o' },
  size: { type: 'string' },
  steps: { type: 'string' },
  guidance: { type: 'string' },
  seed: { type: 'string' },
  negative: { type: 'string' },
  shift: { type: 'string' },
  init: { type: 'string' },
  strength: { type: 'string' },
  model: { type: 'string' },
  backend: { type: 'string' },
  'memory-budget': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** util.parseArgs' complaints, said the way this tool's help says things. */
function rephrase(error: { code?: string; message: string }): UsageError {
  const option = /Option '(?:-\w, )?(--[\w-]+)/.exec(error.message)?.[1] ?? /'(-{1,2}[^']*)'/.exec(error.message)?.[1];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new UsageError(`unknown option ${option ?? error.message}`);
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    if (/does not take an argument/.test(error.message)) return new UsageError(`${option} takes no value`);
    if (/ambiguous/.test(error.message)) {
      return new UsageError(
        `${option} needs a value, but the next argument is an option; a value that starts with "-" is written ${option}=-value`,
      );
    }
    return new UsageError(`${option} needs a value`);
  }
  return new UsageError(error.message);
}

function number(flag: string, text: string, what: string, valid: (n: number) => boolean): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || !valid(value))
    throw new UsageError(`--${flag} ${JSON.stringify(text)}: expected ${what}`);
  return value;
}

function parseSize(text: string): { width: number; height: number } {
  const match = /^(\d+)x(\d+)$/i.exec(text.trim());
  if (!match) throw new UsageError(`--size ${JSON.stringify(text)}: expected <width>x<height> in pixels, e.g. 256x256`);
  const [width, height] = [Number(match[1]), Number(match[2])];
  for (const [side, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (value < 1 || value > MAX_IMAGE_SIDE) throw new UsageError(`--size ${text}: the ${side} must be from 1 to ${MAX_IMAGE_SIDE} px`);
  }
  return { width, height };
}

/** `argv` without node and the script; 'help' when the user asked for it. */
export function parseGenerateArgs(argv: string[]): GenerateArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw rephrase(error as { code?: string; message: string });
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';

  // 1. The prompt: exactly one, positional or --prompt ("" is an explicit unconditional image).
  if (positionals.length > 1) {
    throw new UsageError(
      `one prompt, please: got ${positionals.length} (${positionals.map((p) => JSON.stringify(p)).join(', ')}); put the prompt in quotes`,
    );
  }
  if (positionals.length === 1 && values.prompt !== undefined) {
    throw new UsageError(`two prompts: ${JSON.stringify(positionals[0])} and --prompt ${JSON.stringify(values.prompt)}; give one`);
  }
  const prompt = positionals[0] ?? values.prompt;
  if (prompt === undefined)
    throw new UsageError(
      'no prompt: say what to draw, e.g. npm run generate -- "rocket, flat style, on a teal background" (or --prompt "" for an unconditional image)',
    );

  // 2. Numbers, each in the range the engine accepts.
  const args: GenerateArgs = {
    prompt,
    seed:
      values.seed === undefined
        ? 0
        : number('seed', values.seed, 'an integer from 0 to 4294967295', (n) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff),
    out: values.out ?? 'out.png',
    backend: 'wasm',
    quiet: values.quiet ?? false,
  };
  if (values.negative !== undefined) args.negative = values.negative;
  if (values.size !== undefined) args.size = parseSize(values.size);
  if (values.steps !== undefined)
    args.steps = number('steps', values.steps, 'an integer from 1 to 200', (n) => Number.isInteger(n) && n >= 1 && n <= 200);
  if (values.guidance !== undefined)
    args.guidance = number('guidance', values.guidance, 'a number of 0 or more (1 or less turns guidance off)', (n) => n >= 0);
  if (values.shift !== undefined) args.shift = number('shift', values.shift, 'a number above 0, e.g. 3', (n) => n > 0);
  if (values.strength !== undefined) {
    args.strength = number('strength', values.strength, 'a number above 0 up to 1, e.g. 0.6', (n) => n > 0 && n <= 1);
    if (values.init === undefined)
      throw new UsageError(`--strength ${values.strength} needs --init <image>: strength says how far to move from that image`);
  }

  // 3. Files and the backend.
  for (const flag of ['out', 'init', 'model'] as const) {
    if (values[flag] === '') throw new UsageError(`--${flag} needs a path, got ""`);
  }
  if (!/\.png$/i.test(args.out))
    throw new UsageError(
      `--out ${args.out}: the image is written as PNG, so name it *.png (e.g. ${args.out.replace(/\.[^./]*$/, '')}.png)`,
    );
  if (values.init !== undefined) args.init = values.init;
  if (values.model !== undefined) args.model = values.model;
  if (values.backend !== undefined) {
    if (values.backend !== 'wasm' && values.backend !== 'webgpu' && values.backend !== 'auto') {
      throw new UsageError(`--backend ${JSON.stringify(values.backend)}: expected wasm, webgpu or auto`);
    }
    args.backend = values.backend;
  }
  if (values['memory-budget'] !== undefined) args.memoryBudgetBytes = parseMemoryBudget(values['memory-budget']);
  return args;
}

/** "8GB", "8 GiB", "512MB" → bytes (GB and GiB both 2^30, as GPU memory is sold). */
export function parseMemoryBudget(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(GB|GiB|MB|MiB)\s*$/i.exec(text);
  const value = match ? Number(match[1]) * (match[2].toUpperCase().startsWith('G') ? 2 ** 30 : 2 ** 20) : NaN;
  if (!(value > 0)) throw new UsageError(`--memory-budget ${JSON.stringify(text)}: expected a size such as 8GB or 512MB`);
  return Math.round(value);
}
