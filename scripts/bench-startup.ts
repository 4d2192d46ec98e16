#!/usr/bin/env node
/**
 * npm run bench:startup — how long a designer waits each time they run a Flowfill command: every
 * Figma command is a fresh plugin run (a new iframe, the whole ui.html parsed again, a new engine
 * worker, the model loaded again).
 *
 *   npm run build && npm run bench:startup -- [--runs 5] [--mode embedded|hosted] [--settle 10]
 *
 * Headless Chromium (/usr/bin/chromium) opens the playground, which hosts the plugin exactly as it
 * is built (dist/); each run is the "open" command, as from Figma's menu. Times are measured from
 * the command (the plugin's main thread starts) to the panel's marks (ui/startup-marks.ts): panel
 * script running, panel mounted, panel painted, model ready; plus the frame's first contentful
 * paint. The first run is cold for the tab (nothing compiled yet); later runs show what the
 * browser keeps between runs (its code cache). The panel's Compute setting decides the backend
 * (Automatic picks WASM on a software adapter). Each run waits --settle seconds untouched before
 * its marks are read (see below). Prints a table of every run and the medians.
 */
import { parseArgs } from 'node:util';
import { launchChromiumAsync } from '../test/browser/browser-rig.js';
import { STARTUP_MARKS } from '../ui/startup-marks.js';
import { startPlaygroundServer } from './playground-server.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    mode: { type: 'string', default: 'embedded' },
    timeout: { type: 'string', default: '180' },
    settle: { type: 'string', default: '10' },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs: a whole number ≥ 1');
if (!['embedded', 'hosted'].includes(values.mode)) throw new Error('--mode: embedded or hosted');

const MARKS: string[] = Object.values(STARTUP_MARKS);

const server = await startPlaygroundServer({ port: 0, quiet: true });
const browser = await launchChromiumAsync({
  executablePath: process.env.CHROMIUM_PATH,
  // Figma's desktop app keeps the plugin iframe in the foreground; so does a visible browser tab.
  extraArgs: ['--disable-renderer-backgrounding', '--disable-background-timer-throttling'],
});
interface Row {
  run: number;
  frameStart: number;
  script?: number;
  fcp?: number;
  mounted?: number;
  painted?: number;
  modelReady?: number;
  modelFailed?: number;
}
const rows: Row[] = [];
try {
  const page = await browser.newPage();
  const path = values.mode === 'hosted' ? 'hosted' : '';
  await page.goto(new URL(`${path}?blank`, server.url).href);
  await page.evaluate(() => window.flowfill.ready);
  for (let run = 1; run <= runs; run++) {
    const commandAt = await page.evaluate(() => {
      // The command replaces the previous run's iframe; mark it so the wait below finds the new one.
      for (const old of document.querySelectorAll<HTMLIFrameElement>('iframe.plugin-frame')) old.dataset.benchOld = '';
      const at = performance.timeOrigin + performance.now();
      void window.flowfill.runCommand('open');
      return at;
    });
    // Hands off while the plugin starts: playwright's selector and frame queries run in the host
    // page, and while they ran the plugin frame's first paint came ~1 s later (measured). The
    // marks keep their times, so they are read once the quiet period is over.
    await new Promise((resolve) => setTimeout(resolve, Number(values.settle) * 1000));
    const handle = await page.waitForSelector('iframe.plugin-frame:not([data-bench-old])', { timeout: 60_000 });
    const frame = await handle.contentFrame();
    if (!frame) throw new Error('the plugin iframe has no frame');
    await frame.waitForFunction(
      (names) => performance.getEntriesByType('mark').some((m) => names.includes(m.name)),
      [STARTUP_MARKS.modelReady, STARTUP_MARKS.modelFailed] as string[],
      { timeout: Number(values.timeout) * 1000, polling: 50 },
    );
    await frame.waitForFunction((painted) => performance.getEntriesByName(painted).length > 0, STARTUP_MARKS.painted, { timeout: 10_000 });
    const timeline = await frame.evaluate((names) => {
      const entries: Record<string, number> = {};
      for (const name of names) {
        const mark = performance.getEntriesByName(name)[0];
        if (mark) entries[name] = mark.startTime;
      }
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      return { origin: performance.timeOrigin, marks: entries, fcp: fcp?.startTime };
    }, MARKS);
    const offset = timeline.origin - commandAt;
    const at = (ms: number | undefined) => (ms === undefined ? undefined : offset + ms);
    rows.push({
      run,
      frameStart: offset,
      script: at(timeline.marks[STARTUP_MARKS.script]),
      fcp: at(timeline.fcp),
      mounted: at(timeline.marks[STARTUP_MARKS.mounted]),
      painted: at(timeline.marks[STARTUP_MARKS.painted]),
      modelReady: at(timeline.marks[STARTUP_MARKS.modelReady]),
      modelFailed: at(timeline.marks[STARTUP_MARKS.modelFailed]),
    });
  }
} finally {
  await browser.close();
  await server.close();
}

const columns: [keyof Row, string][] = [
  ['frameStart', 'iframe created'],
  ['script', 'panel script runs'],
  ['fcp', 'first paint'],
  ['mounted', 'panel mounted'],
  ['painted', 'panel painted'],
  ['modelReady', 'model ready'],
];
const fmt = (ms: number | undefined) => (ms === undefined ? '—' : `${Math.round(ms)}`);
console.log(
  `start-up, ${values.mode} plugin, headless Chromium (${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'}), ms from the "open" command:`,
);
console.log(['run', ...columns.map(([, title]) => title)].join(' | '));
for (const row of rows) console.log([row.run, ...columns.map(([key]) => fmt(row[key]))].join(' | '));
const median = (values: (number | undefined)[]) => {
  const sorted = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : undefined;
};
if (rows.length > 1)
  console.log(['median of runs 2…', ...columns.map(([key]) => fmt(median(rows.slice(1).map((r) => r[key]))))].join(' | '));
if (rows.some((r) => r.modelFailed !== undefined)) console.log('the model FAILED to load in some runs (see model-failed)');
console.log(JSON.stringify({ mode: values.mode, rows }));
