// Square face-centred crops with a margin: the one crop geometry, used by export (the crops training reads), the web
// thumbnails and the web's upload search in a run's space. Outside the image the square is padded black, never moved.
import sharp from 'sharp';
import type { Box } from '../src/contracts/geometry.ts';

export interface CropSpec {
  /** Crop square in source pixels (may extend past the image; the outside is filled). */
  left: number;
  top: number;
  side: number;
  /** Output side in pixels. */
  size: number;
}

/**
 * The crop square around a face box: centred on the box, side = scale × the box's longer side, optionally shifted
 * by up to `jitter` × side in each axis using `rand` (a seeded generator keeps exports reproducible).
 */
export function cropSpec(box: Box, scale: number, size: number, jitter = 0, rand: () => number = Math.random): CropSpec {
  const [x, y, w, h] = box;
  const side = Math.max(1, Math.round(Math.max(w, h) * scale));
  let cx = x + w / 2;
  let cy = y + h / 2;
  if (jitter > 0) {
    cx += (rand() * 2 - 1) * jitter * side;
    cy += (rand() * 2 - 1) * jitter * side;
  }
  return { left: Math.round(cx - side / 2), top: Math.round(cy - side / 2), side, size };
}

/** The unjittered crop square around a face box, as a box in source pixels (may reach past the image's edges). */
export function cropSquare(box: Box, scale: number): Box {
  const { left, top, side } = cropSpec(box, scale, 1); // the output size does not move the square
  return [left, top, side, side];
}

/** Maps points in source pixels into the crop's output pixels. */
export function toCropPixels(points: Array<[number, number]>, spec: CropSpec): Array<[number, number]> {
  const k = spec.size / spec.side;
  return points.map(([px, py]) => [round2((px - spec.left) * k), round2((py - spec.top) * k)]);
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/**
 * Cuts the crop from an encoded source image (EXIF orientation applied first, as face boxes were measured on the
 * rotated image). Parts of the square outside the image are filled with black rather than shifting the face off
 * centre: training assumes the face sits in the middle.
 */
export async function cropFace(source: Buffer | string, spec: CropSpec, format: 'jpeg' | 'png' = 'jpeg', quality = 92): Promise<Buffer> {
  const rotated = await sharp(source, { failOn: 'none' })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = rotated.info;
  const l = Math.max(0, spec.left);
  const t = Math.max(0, spec.top);
  const r = Math.min(width, spec.left + spec.side);
  const b = Math.min(height, spec.top + spec.side);
  if (r <= l || b <= t) throw new Error('crop square lies outside the image');
  // Two passes: sharp applies extend after resize within one pipeline, and the padding is in source pixels.
  const square = await sharp(rotated.data, { raw: rotated.info })
    .extract({ left: l, top: t, width: r - l, height: b - t })
    .extend({
      left: l - spec.left,
      top: t - spec.top,
      right: spec.left + spec.side - r,
      bottom: spec.top + spec.side - b,
      background: { r: 0, g: 0, b: 0 },
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const pipeline = sharp(square.data, { raw: square.info }).resize(spec.size, spec.size, { fit: 'fill' });
  return format === 'png' ? pipeline.png().toBuffer() : pipeline.jpeg({ quality }).toBuffer();
}
