/** A few DOM helpers, so the view reads as a tree rather than as createElement calls. */

type Attributes = Record<string, string | number | boolean | undefined>;
type Child = Node | string | null | undefined | false;

/** Creates an element; attributes starting with "on" are not supported on purpose (use listen). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') element.className = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** Sets text only when it changed (keeps the DOM quiet during progress updates). */
export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

/** Sets an input's value unless the user is typing in it. */
export function setInputValue(input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, value: string): void {
  if (document.activeElement === input) return;
  if (input.value !== value) input.value = value;
}

export function toggle(element: Element, className: string, on: boolean): void {
  element.classList.toggle(className, on);
}

/** Draws RGBA8 pixels into a canvas sized to them. */
export function drawRgba(canvas: HTMLCanvasElement, image: { rgba: Uint8Array; width: number; height: number }): void {
  if (canvas.width !== image.width) canvas.width = image.width;
  if (canvas.height !== image.height) canvas.height = image.height;
  const context = canvas.getContext('2d');
  if (!context) return;
  const pixels = new Uint8ClampedArray(image.width * image.height * 4);
  pixels.set(image.rgba.subarray(0, pixels.length));
  context.putImageData(new ImageData(pixels, image.width, image.height), 0, 0);
}
