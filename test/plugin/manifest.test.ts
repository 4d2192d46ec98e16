/**
 * manifest.json: the fields Figma requires, the access it declares, and that every menu and
 * relaunch command is one the main thread handles.
 */
import { existsSync, readFileSync } from 'node:fs';
import { RELAUNCH_DATA } from '../../src/host/figma-host.js';
import { startRequestFor } from '../../src/plugin.js';
import { manifest } from './harness.js';

interface MenuItem {
  name?: string;
  command?: string;
  separator?: true;
  parameterOnly?: boolean;
  parameters?: { name: string; key: string; description?: string; allowFreeform?: boolean }[];
}

describe('manifest.json', () => {
  test('declares the Figma basics: api, editor, entry points, dynamic-page access, no network', () => {
    expect(manifest).toMatchObject({
      name: 'Flowfill',
      api: '1.0.0',
      editorType: ['figma'],
      documentAccess: 'dynamic-page',
      networkAccess: { allowedDomains: ['none'] },
      main: 'dist/code.js',
      ui: 'dist/ui.html',
    });
    expect(typeof manifest.id).toBe('string');
    // Figma asks for reasoning only when domains are allowed.
    if (manifest.networkAccess.allowedDomains[0] !== 'none') expect(manifest.networkAccess.reasoning).toBeTruthy();
  });

  test('the menu has Generate (freeform prompt parameter), Fill selection and Variations', () => {
    const menu: MenuItem[] = manifest.menu;
    const commands = menu.filter((m) => !m.separator).map((m) => m.command);
    expect(commands).toEqual(expect.arrayContaining(['generate', 'fill-selection', 'variations']));
    const generate = menu.find((m) => m.command === 'generate')!;
    expect(generate.parameters).toEqual([expect.objectContaining({ key: 'prompt', allowFreeform: true })]);
    // Run from the menu without a prompt, it opens the panel instead of demanding one.
    expect(generate.parameterOnly).toBe(false);
    for (const item of menu) {
      if (item.separator) expect(Object.keys(item)).toEqual(['separator']);
      else expect(item.name && item.command).toBeTruthy();
    }
  });

  test('relaunch buttons are Regenerate and Variations, matching what the plugin writes on nodes', () => {
    expect(manifest.relaunchButtons).toEqual([
      { command: 'regenerate', name: 'Regenerate' },
      { command: 'variations', name: 'Variations' },
    ]);
    expect(Object.keys(RELAUNCH_DATA).sort()).toEqual(manifest.relaunchButtons.map((b: { command: string }) => b.command).sort());
  });

  test('every command in the manifest maps to a start request the panel understands', () => {
    const commands = [...manifest.menu.filter((m: MenuItem) => m.command).map((m: MenuItem) => m.command), ...manifest.relaunchButtons.map((b: { command: string }) => b.command)];
    for (const command of commands) {
      const request = startRequestFor(command, undefined);
      expect(request.command).toBe(command === 'open' ? 'open' : command === 'fill-selection' ? 'fill-selection' : command);
    }
    expect(startRequestFor('generate', { prompt: 'fox' })).toEqual({ command: 'generate', source: 'quick-action', prompt: 'fox' });
  });

  test('main and ui point at build outputs, not sources', () => {
    expect(manifest.main).toMatch(/^dist\//);
    expect(manifest.ui).toMatch(/^dist\/.*\.html$/);
    expect(existsSync(new URL('../../src/main.ts', import.meta.url))).toBe(true);
    expect(readFileSync(new URL('../../src/main.ts', import.meta.url), 'utf8')).toContain('startPlugin(figma, __html__)');
  });
});
