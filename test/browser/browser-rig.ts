/**
 * The browser test rig: Debian's Chromium through playwright-core (never a downloaded browser),
 * the playground server on an ephemeral loopback port, and a build made for the tests.
 *
 * The build embeds the golden fixture's tiny model (FLOWFILL_EMBED_MODEL), so the end-to-end tests
 * do not depend on what dist/ holds or on the default model being trained yet. The fixture folder
 * is the repository's copy (test/fixture-paths.ts).
 *
 * SwiftShader (WebGPU on the CPU) compiles each new shader slowly, so budgets are generous.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { buildAllAsync, buildWorkerSourceAsync, repoRoot } from '../../scripts/build.mjs';
import { startPlaygroundServer, type PlaygroundServer } from '../../scripts/playground-server.mjs';
import { goldenFixtureDir } from '../fixture-paths.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';
/** Per-test budget: SwiftShader's first shader compiles take tens of seconds. */
export const BROWSER_TEST_TIMEOUT_MS = 5 * 60_000;

const QUIET_CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function fixturesDir(): string {
  return goldenFixtureDir;
}

/**
 * Playwright's own --disable-features list (playwright-core 1.65) without ThirdPartyStoragePartitioning,
 * which it turns off (microsoft/playwright#32230). Chrome ships partitioning on, and the hosted
 * app is a third-party frame (under figma.com, or under the playground's 127.0.0.1 page): without
 * partitioning, Chromium denies such a frame its storage ("Storage directory access is denied").
 * Chromium keeps the last --disable-features it is given, so this list replaces Playwright's.
 */
const PLAYWRIGHT_DISABLED_FEATURES_BUT_PARTITIONING = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
];

/**
 * Headless Chromium; `webgpu: false` launches it without --enable-unsafe-webgpu (no adapter).
 * `partitionedStorage`: third-party frames get (partitioned) storage, as in Chrome (the hosted app).
 * `extraArgs` are added to the command line; `executablePath` replaces CHROMIUM_PATH when given.
 */
export function launchChromiumAsync({
  webgpu = true,
  partitionedStorage = false,
  extraArgs = [],
  executablePath,
}: { webgpu?: boolean; partitionedStorage?: boolean; extraArgs?: string[]; executablePath?: string } = {}): Promise<Browser> {
  const args = [...(webgpu ? ['--enable-unsafe-webgpu'] : []), ...QUIET_CHROMIUM_ARGS, ...extraArgs];
  if (partitionedStorage) args.push(`--disable-features=${PLAYWRIGHT_DISABLED_FEATURES_BUT_PARTITIONING.join(',')}`);
  return chromium.launch({ executablePath: executablePath ?? CHROMIUM_PATH, args, headless: true });
}

export interface Rig {
  server: PlaygroundServer;
  /** The hosted app's origin in this rig's build (http://localhost:<port>; the playground is 127.0.0.1). */
  appOrigin: string;
  /** The temp folder served as /dist/ (the test build) and /rig/ (test pages). */
  outDir: string;
  close(): Promise<void>;
}

/**
 * Builds the plugin (with the fixture model embedded, or the package at `modelDir`) and optional extra worker entries, then
 * serves: /dist/ (that build), /fixtures/ (the golden folder, read-only), /ort/ (onnxruntime-web's
 * dist, for test pages that load ORT by URL), /rig/ (the extra bundles, as <name>.js), and the
 * hosted app (dist/site/) at the root. The server starts first, so the hosted build is made for
 * its port (FLOWFILL_APP_ORIGIN=http://localhost:<port>).
 */
export async function startRigAsync(
  extraWorkers: Record<string, string> = {},
  { modelDir = fixturesDir(), extraMounts = {} }: { modelDir?: string; extraMounts?: Record<string, string> } = {},
): Promise<Rig> {
  const outDir = mkdtempSync(path.join(os.tmpdir(), 'flowfill-browser-'));
  mkdirSync(path.join(outDir, 'rig'), { recursive: true });
  const server = await startPlaygroundServer({
    port: 0,
    quiet: true,
    distDir: outDir,
    mounts: {
      '/fixtures/': fixturesDir(),
      '/ort/': path.join(repoRoot, 'node_modules/onnxruntime-web/dist'),
      '/rig/': path.join(outDir, 'rig'),
      ...extraMounts,
    },
  });
  const appOrigin = `http://localhost:${server.port}`;
  try {
    await buildAllAsync({ env: { ...process.env, FLOWFILL_EMBED_MODEL: modelDir, FLOWFILL_APP_ORIGIN: appOrigin }, outDir, log: () => {} });
    for (const [name, entry] of Object.entries(extraWorkers)) {
      writeFileSync(path.join(outDir, 'rig', `${name}.js`), await buildWorkerSourceAsync(path.resolve(entry)));
    }
    writeFileSync(path.join(outDir, 'rig', 'blank.html'), '<!doctype html><meta charset="utf-8"><title>rig</title>');
  } catch (error) {
    await server.close();
    rmSync(outDir, { recursive: true, force: true });
    throw error;
  }
  return {
    server,
    appOrigin,
    outDir,
    close: async () => {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/**
 * Opens a blank rig page, starts the rig worker `name` there, posts it `message` and resolves with
 * its first answer (a worker error becomes `{ error }`); the page is closed afterwards.
 */
export async function runRigWorkerOnceAsync<T extends { error?: string }>(
  browser: Browser,
  rig: Rig,
  name: string,
  message: unknown,
): Promise<T> {
  const page = await browser.newPage();
  try {
    await page.goto(`${rig.server.url}rig/blank.html`);
    return await page.evaluate(
      ([url, posted]) =>
        new Promise<T>((resolve) => {
          const worker = new Worker(url as string);
          worker.onmessage = (event) => resolve(event.data as T);
          worker.onerror = (event) => resolve({ error: `worker error: ${event.message}` } as T);
          worker.postMessage(posted);
        }),
      [`/rig/${name}.js`, message] as const,
    );
  } finally {
    await page.close();
  }
}

/**
 * A whole run for a debugging script: a rig with the one extra worker `name` built from `entry`,
 * Chromium with WebGPU, the worker run once with `message`, and everything closed again.
 */
export async function runWorkerInChromiumOnceAsync<T extends { error?: string }>(
  name: string,
  entry: string,
  message: unknown,
): Promise<T> {
  const rig = await startRigAsync({ [name]: entry });
  const browser = await launchChromiumAsync({ webgpu: true });
  try {
    return await runRigWorkerOnceAsync<T>(browser, rig, name, message);
  } finally {
    await browser.close();
    await rig.close();
  }
}
