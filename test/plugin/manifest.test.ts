/**
 * manifest.json: the fields Figma requires, the access it declares, and that every menu and
 * relaunch command is one the main thread handles.
 */
import { existsSync } from 'node:fs';
import { launchFor } from '../../src/launch.js';
import { RELAUNCH_DATA } from '../../src/place-image.js';
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
    // No domains, so no `reasoning` is owed (Figma asks for one only when domains are allowed).
    expect(manifest.networkAccess).toEqual({ allowedDomains: ['none'] });
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

  test('every command in the manifest reaches the panel as itself; anything else just opens it', () => {
    const commands = [
      ...manifest.menu.filter((m: MenuItem) => m.command).map((m: MenuItem) => m.command),
      ...manifest.relaunchButtons.map((b: { command: string }) => b.command),
    ];
    expect(commands.length).toBeGreaterThanOrEqual(5);
    for (const command of commands) expect(launchFor(command, undefined).command).toBe(command);
    expect(launchFor('generate', { prompt: 'fox' })).toEqual({ host: 'figma', command: 'generate', source: 'quick-action', prompt: 'fox' });
    expect(launchFor('something-else', undefined)).toEqual({ host: 'figma', command: 'open', source: 'open' });
  });

  test('main and ui point at build outputs, which the build writes from src/main.ts and ui/main.ts', () => {
    expect(manifest.main).toBe('dist/code.js');
    expect(manifest.ui).toBe('dist/ui.html');
    for (const entry of ['../../src/main.ts', '../../ui/main.ts']) expect(existsSync(new URL(entry, import.meta.url))).toBe(true);
  });
});
