/**
 * The main thread as Figma runs it: src/main.ts bundled to one ES2017 script and executed in a
 * bare VM context holding only `figma`, `__html__` and `console` (no DOM, no fetch, no
 * TextEncoder, no timers). A dependency on anything else fails here before it fails in Figma.
 */
import { build } from 'esbuild';
import vm from 'node:vm';
import { connectHost } from '../../ui/host-client.js';
import { createFigmaFake } from '../figma-fake/index.js';
import { makePng } from '../figma-fake/test-images.js';
import { fakePanelEndpoint, relaunchCommands } from './harness.js';

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

  // The panel's side: the same typed link ui/ uses.
  const { call: host } = connectHost(fakePanelEndpoint(figma), (message) => {
    throw new Error(message);
  });
  expect(await host.readLaunch()).toMatchObject({ command: 'fill-selection' });
  const { targets } = await host.readTargets();
  expect(targets).toEqual([expect.objectContaining({ id: frame.id, width: 320, height: 240 })]);
  const record = {
    format: 'flowfill-provenance' as const,
    version: 1 as const,
    prompt: 'rocket',
    negativePrompt: '',
    seed: 1,
    steps: 2,
    guidance: 1,
    width: 64,
    height: 48,
    model: { id: 'tiny', hash: 'ab' },
    backend: 'wasm' as const,
    createdAt: '2026-01-31T12:00:00.000Z',
  };
  expect(
    await host.placeImage({ destination: { kind: 'existing', nodeId: frame.id }, png: makePng(64, 48), fillMode: 'keep', record }),
  ).toMatchObject({ placed: true });
  await host.commitUndo();
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
