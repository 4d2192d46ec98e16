/**
 * exportAsync's rasteriser: paints a node's own fills, bottom to top, into an RGBA buffer the
 * size of the export. SOLID fills are flat colour; IMAGE fills are sampled (nearest neighbour)
 * with their scaleMode (FILL covers and crops, FIT letterboxes; CROP and TILE are drawn as FILL).
 * Ellipses are masked to their ellipse. Children, strokes and effects are not drawn: Flowfill
 * exports image-filled leaves, and the fake says so rather than guessing.
 */
import { decodePngToRgba, type Rgba } from './image-bytes.js';

export interface ImageLookup {
  (hash: string): Uint8Array | null;
}

function blendPixel(out: Uint8Array, i: number, r: number, g: number, b: number, a: number): void {
  // Source-over compositing in straight alpha.
  const da = out[i + 3] / 255;
  const sa = a / 255;
  const oa = sa + da * (1 - sa);
  if (oa === 0) return;
  out[i] = Math.round((r * sa + out[i] * da * (1 - sa)) / oa);
  out[i + 1] = Math.round((g * sa + out[i + 1] * da * (1 - sa)) / oa);
  out[i + 2] = Math.round((b * sa + out[i + 2] * da * (1 - sa)) / oa);
  out[i + 3] = Math.round(oa * 255);
}

export function renderFills(paints: ReadonlyArray<Paint>, width: number, height: number, isEllipse: boolean, lookup: ImageLookup): Rgba {
  const data = new Uint8Array(width * height * 4);
  const decoded = new Map<string, Rgba>();
  for (const paint of paints) {
    if (paint.visible === false) continue;
    const opacity = paint.opacity ?? 1;
    if (paint.type === 'SOLID') {
      const { r, g, b } = paint.color;
      const a = Math.round(opacity * 255);
      for (let i = 0; i < data.length; i += 4) blendPixel(data, i, Math.round(r * 255), Math.round(g * 255), Math.round(b * 255), a);
    } else if (paint.type === 'IMAGE' && paint.imageHash) {
      let src = decoded.get(paint.imageHash);
      if (!src) {
        const bytes = lookup(paint.imageHash);
        if (!bytes) continue;
        try {
          src = decodePngToRgba(bytes);
        } catch {
          throw new Error('exportAsync (fake): only PNG image fills can be rendered');
        }
        decoded.set(paint.imageHash, src);
      }
      const fit = paint.scaleMode === 'FIT';
      const scale = fit ? Math.min(width / src.width, height / src.height) : Math.max(width / src.width, height / src.height);
      const offX = (width - src.width * scale) / 2;
      const offY = (height - src.height * scale) / 2;
      for (let y = 0; y < height; y++) {
        const sy = Math.floor((y + 0.5 - offY) / scale);
        if (sy < 0 || sy >= src.height) continue;
        for (let x = 0; x < width; x++) {
          const sx = Math.floor((x + 0.5 - offX) / scale);
          if (sx < 0 || sx >= src.width) continue;
          const s = (sy * src.width + sx) * 4;
          blendPixel(data, (y * width + x) * 4, src.data[s], src.data[s + 1], src.data[s + 2], Math.round(src.data[s + 3] * opacity));
        }
      }
    }
    // Gradients and video are not rendered by the fake.
  }
  if (isEllipse) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const dx = (x + 0.5) / width - 0.5;
        const dy = (y + 0.5) / height - 0.5;
        if (dx * dx + dy * dy > 0.25) data[(y * width + x) * 4 + 3] = 0;
      }
    }
  }
  return { width, height, data };
}

/** Export pixel size for a node of w×h under Figma's PNG export constraint. */
export function exportSize(
  w: number,
  h: number,
  constraint?: { type: 'SCALE' | 'WIDTH' | 'HEIGHT'; value: number },
): { width: number; height: number } {
  let scale = 1;
  if (constraint) {
    if (!(constraint.value > 0) || !Number.isFinite(constraint.value))
      throw new Error(`in exportAsync: Expected constraint.value to be a positive number, got ${constraint.value}`);
    if (constraint.type === 'SCALE') scale = constraint.value;
    else if (constraint.type === 'WIDTH') scale = constraint.value / w;
    else if (constraint.type === 'HEIGHT') scale = constraint.value / h;
    else
      throw new Error(
        `in exportAsync: Invalid constraint.type ${JSON.stringify((constraint as { type: unknown }).type)}; expected SCALE, WIDTH or HEIGHT`,
      );
  }
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}
