// Decoding dataset images into square RGB arrays at the backbone's input size, cropping to the face where the
// dataset says where it is, and mapping landmarks into the crop's pixel frame.
import sharp from 'sharp';
import type { Sample } from './readers/types.ts';
import type { Point } from '../../src/contracts/geometry.ts';

/** The square region of the source image that becomes the input: origin and side in source pixels. */
export interface Region {
  x: number;
  y: number;
  side: number;
}

export interface Decoded {
  /** size × size × 3, values in [0, 1]. */
  pixels: Float32Array;
  region: Region;
}

export class ImageError extends Error {}

function squareAround(cx: number, cy: number, side: number): Region {
  return { x: Math.round(cx - side / 2), y: Math.round(cy - side / 2), side: Math.max(1, Math.round(side)) };
}

/** The region: the face box (scaled by `margin`), the landmarks' tight box (scaled), or the centre square. */
export function regionOf(sample: Sample & { points?: Point[] }, width: number, height: number, margin: number): Region {
  if (sample.box) {
    const [x, y, w, h] = sample.box;
    return squareAround(x + w / 2, y + h / 2, Math.max(w, h) * margin);
  }
  if (sample.points && (width !== height || margin !== 1)) {
    const xs = sample.points.map((p) => p[0]), ys = sample.points.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    // A tight box round the points misses the forehead; 300W crops are usually taken this way, scaled ~1.25–1.3.
    return squareAround((x0 + x1) / 2, (y0 + y1) / 2, Math.max(x1 - x0, y1 - y0) * margin);
  }
  const side = Math.min(width, height);
  return { x: Math.floor((width - side) / 2), y: Math.floor((height - side) / 2), side };
}

export async function decode(sample: Sample & { points?: Point[] }, size: number, margin = 1): Promise<Decoded> {
  let img: sharp.Sharp, meta: sharp.Metadata;
  try {
    img = sharp(sample.image, { failOn: 'error' }).removeAlpha();
    meta = await img.metadata();
  } catch (err) {
    throw new ImageError(`${sample.image}: cannot decode (${(err as Error).message})`);
  }
  const width = meta.autoOrient?.width ?? meta.width!, height = meta.autoOrient?.height ?? meta.height!;
  const region = regionOf(sample, width, height, margin);
  // Pad first where the region leaves the image, then cut and resize (sharp extends after resizing otherwise).
  const pad = {
    left: Math.max(0, -region.x), top: Math.max(0, -region.y),
    right: Math.max(0, region.x + region.side - width), bottom: Math.max(0, region.y + region.side - height),
  };
  const padded = await img.rotate().extend({ ...pad, background: { r: 0, g: 0, b: 0 } }).raw().toBuffer({ resolveWithObject: true });
  const raw = await sharp(padded.data, { raw: padded.info })
    .extract({ left: region.x + pad.left, top: region.y + pad.top, width: region.side, height: region.side })
    .resize(size, size, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer();
  const pixels = new Float32Array(size * size * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = raw[i]! / 255;
  return { pixels, region };
}

/** Landmarks from source pixels into the crop's pixels (size × size). */
export function toCrop(points: Point[], region: Region, size: number): Point[] {
  const s = size / region.side;
  return points.map(([x, y]) => [(x - region.x) * s, (y - region.y) * s]);
}

/** Mirrors an H×W×3 array left–right. */
export function flipPixels(pixels: Float32Array, size: number): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const a = (y * size + x) * 3, b = (y * size + (size - 1 - x)) * 3;
      out[b] = pixels[a]!;
      out[b + 1] = pixels[a + 1]!;
      out[b + 2] = pixels[a + 2]!;
    }
  }
  return out;
}

/** Decodes many samples, a few at a time; a sample that fails is reported, not fatal. */
export async function decodeAll<S extends Sample & { points?: Point[] }>(
  samples: S[], size: number, margin = 1, onProgress?: (done: number) => void,
): Promise<{ ok: Array<{ sample: S; decoded: Decoded }>; failed: Array<{ image: string; reason: string }> }> {
  const ok: Array<{ sample: S; decoded: Decoded }> = [];
  const failed: Array<{ image: string; reason: string }> = [];
  const batch = 8;
  for (let i = 0; i < samples.length; i += batch) {
    const part = samples.slice(i, i + batch);
    const res = await Promise.allSettled(part.map((s) => decode(s, size, margin)));
    res.forEach((r, j) => {
      if (r.status === 'fulfilled') ok.push({ sample: part[j]!, decoded: r.value });
      else failed.push({ image: part[j]!.image, reason: (r.reason as Error).message });
    });
    onProgress?.(Math.min(samples.length, i + batch));
  }
  return { ok, failed };
}
