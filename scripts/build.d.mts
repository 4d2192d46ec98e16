export const repoRoot: string;
export const distDir: string;
export interface EmbeddedAssetFile {
  path: string;
  size: number;
  gzipBase64: string;
}
export function buildMainAsync(): Promise<string>;
export function buildWorkerSourceAsync(entry?: string): Promise<string>;
export function buildPanelScriptAsync(workerSource: string): Promise<string>;
export function measurePanelOnlyAsync(): Promise<number>;
export function buildPlaygroundScriptAsync(): Promise<string>;
export function listModelFiles(dir: string): string[];
export function resolveEmbeddedModelDir(env?: Record<string, string | undefined>): { dir: string | null; why: string };
export function collectAssets(modelDir: string | null): EmbeddedAssetFile[];
/** Characters of base64 per asset element in ui.html. */
export const ASSET_PIECE_CHARS: number;
export function assembleUiHtml(panelScript: string, assets: EmbeddedAssetFile[]): string;
export function resolveAppBaseUrl(env?: Record<string, string | undefined>): string;
export const MODEL_HOSTS: string[];
export const DEV_APP_ORIGIN: string;
export function hostedManifest(appBaseUrl: string, base?: Record<string, unknown>): Record<string, any>;
export function buildHostedUiAsync(appBaseUrl: string): Promise<string>;
export function buildAppScriptAsync(): Promise<string>;
export function buildHostedModeAsync(options: {
  outDir: string;
  appBaseUrl: string;
  modelDir: string | null;
  mainScript: string;
  playgroundScript?: string;
}): Promise<[string, number][]>;
export function buildAllAsync(options?: {
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
  outDir?: string;
}): Promise<{ html: string; mainScript: string; workerSource: string; assets: EmbeddedAssetFile[]; model: { dir: string | null; why: string }; appBaseUrl?: string }>;
