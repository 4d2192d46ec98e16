/**
 * Each enforcement rule of the Figma fake, tested so that removing the rule fails a test.
 */
import { createFigmaFake, decodePngToRgba, sha1Hex } from '../figma-fake/index.js';
import { gifHeader, jpegHeader, makePng, pngHeaderOnly } from '../figma-fake/test-images.js';

const red: SolidPaint = { type: 'SOLID', color: { r: 1, g: 0, b: 0 } };

describe('fills', () => {
  test('are frozen: in-place mutation throws like Figma, whole replacement works', () => {
    const figma = createFigmaFake();
    const rect = figma.createRectangle();
    const fills = rect.fills as Paint[];
    expect(() => {
      fills[0] = red;
    }).toThrow(/Cannot assign to read only property '0'/);
    expect(() => fills.push(red)).toThrow(TypeError);
    expect(() => {
      (fills[0] as { opacity: number }).opacity = 0.5;
    }).toThrow(/Cannot assign to read only property 'opacity'/);
    expect(() => {
      ((fills[0] as SolidPaint).color as { r: number }).r = 0;
    }).toThrow(/read only/);
    rect.fills = [...fills, red];
    expect((rect.fills as Paint[]).length).toBe(2);
    expect(Object.isFrozen(rect.fills)).toBe(true);
  });

  test('assignment copies: later changes to the caller’s array do not reach the node', () => {
    const figma = createFigmaFake();
    const rect = figma.createRectangle();
    const mine: Paint[] = [{ ...red }];
    rect.fills = mine;
    (mine[0] as { opacity: number }).opacity = 0.1;
    expect((rect.fills as Paint[])[0].opacity).toBe(1);
  });

  test('paints are validated: unknown keys, bad scaleMode, bad colours and figma.mixed are refused', () => {
    const figma = createFigmaFake();
    const rect = figma.createRectangle();
    expect(() => (rect.fills = [{ ...red, extra: 1 } as unknown as Paint])).toThrow("Unrecognized key(s) in object: 'extra'");
    expect(() => (rect.fills = [{ type: 'IMAGE', imageHash: 'x', scaleMode: 'COVER' } as unknown as Paint])).toThrow(/scaleMode "COVER"/);
    expect(() => (rect.fills = [{ type: 'SOLID', color: { r: 2, g: 0, b: 0 } }])).toThrow(/color.r/);
    expect(() => (rect.fills = figma.mixed as unknown as Paint[])).toThrow(/figma.mixed/);
  });

  test('groups have no fills; text fills can read as figma.mixed', () => {
    const figma = createFigmaFake();
    const group = figma.group([figma.createRectangle()], figma.currentPage);
    expect('fills' in group).toBe(false);
    const text = figma.createText();
    text.__setMixedFills();
    expect(text.fills).toBe(figma.mixed);
  });
});

describe('createImage', () => {
  test('accepts PNG, JPEG and GIF by magic bytes and reports their size', async () => {
    const figma = createFigmaFake();
    const png = figma.createImage(makePng(3, 2));
    expect(await png.getSizeAsync()).toEqual({ width: 3, height: 2 });
    expect(await figma.createImage(jpegHeader(640, 480)).getSizeAsync()).toEqual({ width: 640, height: 480 });
    expect(await figma.createImage(gifHeader(5, 7)).getSizeAsync()).toEqual({ width: 5, height: 7 });
  });

  test('refuses other types, oversize, zero-size and corrupt PNGs with Figma’s messages', () => {
    const figma = createFigmaFake();
    expect(() => figma.createImage(new TextEncoder().encode('<svg/>'))).toThrow('Image type is unsupported');
    expect(() => figma.createImage(new Uint8Array([0x42, 0x4d, 0, 0, 0, 0]))).toThrow('Image type is unsupported'); // BMP
    expect(() => figma.createImage(pngHeaderOnly(4097, 16))).toThrow('Image is too large');
    expect(() => figma.createImage(pngHeaderOnly(16, 4097))).toThrow('Image is too large');
    expect(() => figma.createImage(jpegHeader(5000, 10))).toThrow('Image is too large');
    expect(() => figma.createImage(pngHeaderOnly(0, 16))).toThrow('Image is too small');
    const corrupt = makePng(4, 4).subarray(0, 45); // header intact, image data cut off
    expect(() => figma.createImage(corrupt)).toThrow('Image type is unsupported');
    expect(figma.__imageCount()).toBe(0);
  });

  test('4096 px on a side is allowed', () => {
    const figma = createFigmaFake();
    expect(() => figma.createImage(jpegHeader(4096, 4096))).not.toThrow();
  });

  test('hash is the SHA-1 of the bytes; getImageByHash finds it; bytes come back as a copy', async () => {
    expect(sha1Hex(new TextEncoder().encode('abc'))).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(sha1Hex(new Uint8Array(0))).toBe('da39a3ee5e6b4b0d3255bfef95601890afd80709');
    const figma = createFigmaFake();
    const bytes = makePng(2, 2);
    const image = figma.createImage(bytes);
    expect(image.hash).toBe(sha1Hex(bytes));
    expect(figma.createImage(bytes.slice()).hash).toBe(image.hash);
    expect(figma.getImageByHash(image.hash)).toBe(image);
    expect(figma.getImageByHash('0'.repeat(40))).toBeNull();
    const back = await image.getBytesAsync();
    back[0] = 0;
    expect((await image.getBytesAsync())[0]).toBe(0x89);
  });
});

describe('exportAsync', () => {
  test('renders a solid fill as that colour at the node size', async () => {
    const figma = createFigmaFake();
    const rect = figma.createRectangle();
    rect.resize(30, 20);
    rect.fills = [{ type: 'SOLID', color: { r: 0, g: 0.5, b: 1 } }];
    const out = decodePngToRgba(await rect.exportAsync({ format: 'PNG' }));
    expect([out.width, out.height]).toEqual([30, 20]);
    expect(Array.from(out.data.subarray(0, 4))).toEqual([0, 128, 255, 255]);
  });

  test('renders the top image fill with FILL (cover, centre crop) and honours a WIDTH constraint', async () => {
    const figma = createFigmaFake();
    const frame = figma.createFrame();
    frame.resize(100, 50);
    // Left half blue, right half green, 20×20: FILL scales by 5 and crops top and bottom.
    const image = figma.createImage(makePng(20, 20, (x) => (x < 10 ? [0, 0, 255, 255] : [0, 255, 0, 255])));
    frame.fills = [red, { type: 'IMAGE', imageHash: image.hash, scaleMode: 'FILL' }];
    const out = decodePngToRgba(await frame.exportAsync({ format: 'PNG', constraint: { type: 'WIDTH', value: 50 } }));
    expect([out.width, out.height]).toEqual([50, 25]);
    expect(Array.from(out.data.subarray(0, 4))).toEqual([0, 0, 255, 255]);
    const last = (out.width * out.height - 1) * 4;
    expect(Array.from(out.data.subarray(last, last + 4))).toEqual([0, 255, 0, 255]);
  });

  test('ellipses are masked; a removed node rejects', async () => {
    const figma = createFigmaFake();
    const ellipse = figma.createEllipse();
    ellipse.resize(10, 10);
    const out = decodePngToRgba(await ellipse.exportAsync());
    expect(out.data[3]).toBe(0); // corner outside the ellipse
    expect(out.data[(5 * 10 + 5) * 4 + 3]).toBe(255);
    ellipse.remove();
    await expect(ellipse.exportAsync()).rejects.toThrow('does not exist');
  });
});

describe('plugin data and relaunch data', () => {
  test('plugin data entries over 100 kB throw; missing keys read as ""', () => {
    const figma = createFigmaFake();
    const rect = figma.createRectangle();
    expect(rect.getPluginData('nope')).toBe('');
    rect.setPluginData('k', 'x'.repeat(90_000));
    expect(rect.getPluginData('k').length).toBe(90_000);
    expect(() => rect.setPluginData('k', 'x'.repeat(100_001))).toThrow(/limit is 100000 bytes per entry/);
    // The limit is in bytes: 30,000 four-byte characters exceed it.
    expect(() => rect.setPluginData('k', '😀'.repeat(30_000))).toThrow(/limit/);
    expect(rect.getPluginDataKeys()).toEqual(['k']);
  });

  test('relaunch commands must be in the manifest; descriptions ≤ 1000 characters; each call replaces', () => {
    const figma = createFigmaFake({ relaunchCommands: ['regenerate', 'variations'] });
    const rect = figma.createRectangle();
    expect(() => rect.setRelaunchData({ explode: '' })).toThrow(/not in the manifest/);
    expect(() => rect.setRelaunchData({ regenerate: 'x'.repeat(1001) })).toThrow(/at most 1000/);
    rect.setRelaunchData({ regenerate: '', variations: '' });
    rect.setRelaunchData({ variations: 'More like this' });
    expect(rect.getRelaunchData()).toEqual({ variations: 'More like this' });
  });
});

describe('undo', () => {
  test('restores fills, properties and children to the last commit point, one step per commit', () => {
    const figma = createFigmaFake();
    const rect = figma.createRectangle();
    rect.name = 'Before';
    figma.commitUndo();

    // Step 1: change fills and name, add a frame, delete nothing.
    rect.fills = [red];
    rect.name = 'After';
    rect.setPluginData('k', 'v');
    const added = figma.createFrame();
    figma.commitUndo();
    // Step 2: delete the rectangle.
    rect.remove();
    figma.commitUndo();

    figma.__undo();
    expect(rect.removed).toBe(false);
    expect(rect.parent).toBe(figma.currentPage);
    expect(rect.name).toBe('After');

    figma.__undo();
    expect(rect.name).toBe('Before');
    expect((rect.fills as SolidPaint[])[0].color.r).toBeCloseTo(0xd9 / 255);
    expect(rect.getPluginData('k')).toBe('');
    expect(added.removed).toBe(true);
    expect(figma.currentPage.children).toEqual([rect]);
  });

  test('uncommitted changes are undone first', () => {
    const figma = createFigmaFake();
    const rect = figma.createRectangle();
    figma.commitUndo();
    rect.name = 'uncommitted';
    figma.__undo();
    expect(rect.name).toBe('Rectangle');
    expect(rect.removed).toBe(false);
  });
});

describe('removed nodes', () => {
  test('every read but removed/id throws "The node with id ... does not exist"; getNodeByIdAsync gives null', async () => {
    const figma = createFigmaFake();
    const rect = figma.createRectangle();
    const id = rect.id;
    expect(await figma.getNodeByIdAsync(id)).toBe(rect);
    rect.remove();
    expect(rect.removed).toBe(true);
    expect(rect.id).toBe(id);
    expect(() => rect.name).toThrow(`in get_name: The node with id "${id}" does not exist`);
    expect(() => rect.fills).toThrow('does not exist');
    expect(() => (rect.fills = [red])).toThrow('does not exist');
    expect(() => rect.setPluginData('k', 'v')).toThrow('does not exist');
    expect(await figma.getNodeByIdAsync(id)).toBeNull();
  });

  test('removing a frame removes its descendants', () => {
    const figma = createFigmaFake();
    const frame = figma.createFrame();
    const child = figma.createRectangle();
    frame.appendChild(child);
    frame.remove();
    expect(child.removed).toBe(true);
  });

  test('getNodeById (sync) is refused under dynamic-page', () => {
    const figma = createFigmaFake();
    expect(() => figma.getNodeById('1:2')).toThrow('Use figma.getNodeByIdAsync instead');
  });
});

describe('selection', () => {
  test('is read-only; assigning fires selectionchange once, asynchronously; deleting a selected node fires it too', async () => {
    const figma = createFigmaFake();
    const a = figma.createRectangle();
    const b = figma.createFrame();
    let events = 0;
    figma.on('selectionchange', () => events++);
    const sel = figma.currentPage.selection as FakeArray;
    expect(() => sel.push(a)).toThrow(TypeError);
    figma.currentPage.selection = [a, b];
    expect(events).toBe(0);
    await figma.__flush();
    expect(events).toBe(1);
    figma.__userDelete(a);
    await figma.__flush();
    expect(events).toBe(2);
    expect(figma.currentPage.selection).toEqual([b]);
  });

  test('refuses removed nodes', () => {
    const figma = createFigmaFake();
    const a = figma.createRectangle();
    a.remove();
    expect(() => (figma.currentPage.selection = [a])).toThrow('does not exist');
  });
});
type FakeArray = unknown[];

describe('node rules', () => {
  test('instances take no children; resize refuses sizes under 0.01', () => {
    const figma = createFigmaFake();
    const instance = figma.createComponent().createInstance();
    expect(() => instance.appendChild(figma.createRectangle())).toThrow('New parent is an instance');
    expect(() => figma.createFrame().resize(0, 10)).toThrow('>= 0.01');
  });

  test('locked nodes accept fills from the API (only the user is stopped by a lock)', () => {
    const figma = createFigmaFake();
    const rect = figma.createRectangle();
    rect.locked = true;
    rect.fills = [red];
    expect((rect.fills as SolidPaint[])[0].color.r).toBe(1);
  });

  test('absoluteBoundingBox adds frame offsets but not group offsets', () => {
    const figma = createFigmaFake();
    const frame = figma.createFrame();
    frame.x = 100;
    frame.y = 50;
    const rect = figma.createRectangle();
    frame.appendChild(rect);
    rect.x = 10;
    expect(rect.absoluteBoundingBox).toMatchObject({ x: 110, y: 50 });
  });
});

describe('clientStorage', () => {
  test('get/set/delete/keys with structured-clone copies', async () => {
    const figma = createFigmaFake();
    const value = { a: [1, 2], bytes: new Uint8Array([1, 2, 3]) };
    await figma.clientStorage.setAsync('s', value);
    value.a.push(3);
    expect(await figma.clientStorage.getAsync('s')).toEqual({ a: [1, 2], bytes: new Uint8Array([1, 2, 3]) });
    expect(await figma.clientStorage.keysAsync()).toEqual(['s']);
    await figma.clientStorage.deleteAsync('s');
    expect(await figma.clientStorage.getAsync('s')).toBeUndefined();
  });

  test('the 5 MB quota throws and keeps the old value', async () => {
    const figma = createFigmaFake();
    await figma.clientStorage.setAsync('big', 'x'.repeat(4 * 1024 * 1024));
    await expect(figma.clientStorage.setAsync('more', new Uint8Array(1024 * 1024 + 10))).rejects.toThrow(/quota exceeded/);
    expect(await figma.clientStorage.getAsync('more')).toBeUndefined();
    // Replacing a key counts only the new value.
    await expect(figma.clientStorage.setAsync('big', 'y'.repeat(5 * 1024 * 1024 - 20))).resolves.toBeUndefined();
  });
});

describe('UI', () => {
  test('showUI, postMessage both ways (structured clone), on/once/off, resize, close', async () => {
    const figma = createFigmaFake();
    expect(() => figma.ui.postMessage({ a: 1 })).toThrow(/No UI/);
    figma.showUI('<p>hi</p>', { width: 320, height: 480, themeColors: true });
    expect(figma.ui.current).toMatchObject({ html: '<p>hi</p>', width: 320, height: 480, visible: true });
    const got: unknown[] = [];
    figma.ui.onmessage = (m) => got.push(['onmessage', m]);
    const once = (m: unknown) => got.push(['once', m]);
    figma.ui.once('message', once);
    const payload = { bytes: new Uint8Array([1, 2]) };
    await figma.ui.send(payload);
    await figma.ui.send(payload);
    expect(got).toEqual([
      ['onmessage', payload],
      ['once', payload],
      ['onmessage', payload],
    ]);
    expect((got[0] as [string, unknown])[1]).not.toBe(payload);

    const posted = { n: 1 };
    figma.ui.postMessage(posted);
    expect(await figma.ui.next((m) => m.n === 1)).toEqual(posted);
    expect(() => figma.ui.postMessage({ f: () => 1 })).toThrow();
    figma.ui.resize(400, 600);
    expect(figma.ui.current).toMatchObject({ width: 400, height: 600 });
    expect(() => figma.ui.resize(10, 10)).toThrow('>= 70');
    figma.ui.close();
    expect(() => figma.ui.postMessage(posted)).toThrow(/No UI/);
  });

  test('showUI refuses a width under 70 px and non-string html; createImage refuses non-Uint8Array data', () => {
    const figma = createFigmaFake();
    expect(() => figma.showUI('<p></p>', { width: 69 })).toThrow('>= 70');
    expect(() => figma.showUI(42 as unknown as string)).toThrow('html to be a string');
    expect(() => figma.createImage(makePng(1, 1).buffer as unknown as Uint8Array)).toThrow('Expected a Uint8Array');
    expect(() => figma.notify(1 as unknown as string)).toThrow('message to be a string');
  });

  test('showUI twice closes the first; closePlugin closes the UI, notifies and fires close', () => {
    const figma = createFigmaFake();
    figma.showUI('a');
    figma.showUI('b', { visible: false });
    expect(figma.ui.opened).toBe(2);
    expect(figma.ui.current).toMatchObject({ html: 'b', visible: false });
    let closedEvents = 0;
    figma.on('close', () => closedEvents++);
    figma.closePlugin('Bye');
    expect(figma.ui.current).toBeNull();
    expect(figma.__closed).toEqual({ message: 'Bye' });
    expect(figma.__notifications.map((n) => n.message)).toEqual(['Bye']);
    expect(closedEvents).toBe(1);
  });
});

describe('notify, command, parameters, viewport', () => {
  test('notify records and returns a cancel handle', () => {
    const figma = createFigmaFake();
    const handle = figma.notify('Working…', { timeout: Infinity });
    handle.cancel();
    expect(figma.__notifications[0]).toMatchObject({ message: 'Working…', cancelled: true });
  });

  test('command and run parameters; input events collect suggestions', async () => {
    const figma = createFigmaFake({ command: 'generate', parameters: { prompt: 'a fox' } });
    expect(figma.command).toBe('generate');
    const runs: unknown[] = [];
    figma.on('run', (e) => runs.push(e));
    figma.parameters.on('input', ({ query, result }) => result.setSuggestions([`${query}, flat style`]));
    expect(figma.__parameterInput('prompt', 'fox').suggestions).toEqual(['fox, flat style']);
    await figma.__launch();
    expect(runs).toEqual([{ command: 'generate', parameters: { prompt: 'a fox' } }]);
  });

  test('scrollAndZoomIntoView centres the viewport on the nodes', () => {
    const figma = createFigmaFake({ viewport: { x: 0, y: 0 } });
    const rect = figma.createRectangle();
    rect.x = 1000;
    rect.y = 2000;
    figma.viewport.scrollAndZoomIntoView([rect]);
    expect(figma.viewport.center).toEqual({ x: 1050, y: 2050 });
    expect(figma.__scrolledInto).toEqual([[rect]]);
  });
});

describe('host hooks (for the browser playground)', () => {
  test('onShowUI, onCloseUI and onNotify are called', () => {
    const events: string[] = [];
    const figma = createFigmaFake({
      onShowUI: (html, opts) => events.push(`show ${html} ${opts.width}`),
      onCloseUI: () => events.push('close'),
      onNotify: (n) => events.push(`notify ${n.message}`),
    });
    figma.showUI('<b>x</b>', { width: 300 });
    figma.notify('hello');
    figma.showUI('<i>y</i>', { width: 200 });
    figma.closePlugin();
    expect(events).toEqual(['show <b>x</b> 300', 'notify hello', 'close', 'show <i>y</i> 200', 'close']);
  });
});
