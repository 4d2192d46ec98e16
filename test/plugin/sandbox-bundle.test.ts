/**
 * The main thread as Figma runs it: src/main.ts bundled to one ES2017 script and executed in a
 * bare VM context holding only `figma`, `__html__` and `console` (no DOM, no fetch, no
 * TextEncoder, no timers). A dependency on anything else fails here before it fails in Figma.
 */
import { build } from 'esbuild';
import vm from 'node:vm';
import { PROTOCOL_VERSION } from '../../common/protocol.js';
import { createFigmaFake } from '../figma-fake/index.js';
import { planRequest, relaunchCommands, resultFor } from './harness.js';

async function bundleMain(): Promise<string> {
  const out = await build({
    entryPoints: [new URL('../../src/main.ts', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2017',
    platform: 'neutral',
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

test('the ES2017 bundle runs in a bare sandbox and fills a frame end to end', async () => {
  const code = await bundleMain();
  const figma = createFigmaFake({ command: 'fill-selection', relaunchCommands });
  const frame = figma.createFrame();
  frame.resize(320, 240);
  figma.currentPage.selection = [frame];

  const sandbox = vm.createContext({ figma, __html__: '<div id="panel"></div>', console });
  vm.runInContext(code, sandbox, { filename: 'dist/code.js' });
  await figma.__launch();
  expect(figma.ui.current?.html).toBe('<div id="panel"></div>');

  await figma.ui.send({ type: 'ui-ready', v: PROTOCOL_VERSION });
  expect(await figma.ui.next((m) => m.type === 'run-command')).toMatchObject({ command: 'fill-selection' });
  await figma.ui.send(planRequest());
  const plan = await figma.ui.next<{ jobs: Parameters<typeof resultFor>[0][] }>((m) => m.type === 'plan');
  await figma.ui.send(resultFor(plan.jobs[0]));
  expect(await figma.ui.next((m) => m.type === 'batch-done')).toMatchObject({ applied: 1 });
  expect((frame.fills as Paint[]).map((p) => p.type)).toEqual(['SOLID', 'IMAGE']);
  expect(figma.__undoSteps).toBe(1);
});

test('the bundle uses no syntax newer than ES2017', async () => {
  const code = await bundleMain();
  // Optional chaining, nullish coalescing and object spread must have been lowered.
  expect(code).not.toMatch(/\?\.[A-Za-z_$(]/);
  expect(code).not.toMatch(/\?\?/);
  expect(code).not.toMatch(/\{\s*\.\.\./);
});
