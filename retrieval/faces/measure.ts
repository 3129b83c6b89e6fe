// Cheap per-face measurements on the analysis raster, done in plain JS before any costly model runs. The grey crop
// and the dHash live on the floor (src/dhash.ts): the evaluation's pre-training overlap check uses them too.
import { greyCrop } from '../../src/dhash.ts';

export const SHARPNESS_SIZE = 112;

/** Variance of the 4-neighbour Laplacian over the interior of a size×size grey image. */
export function laplacianVariance(g: Float32Array, size: number): number {
  let sum = 0, sum2 = 0, n = 0;
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      const i = y * size + x;
      const l = g[i - size]! + g[i + size]! + g[i - 1]! + g[i + 1]! - 4 * g[i]!;
      sum += l;
      sum2 += l * l;
      n++;
    }
  }
  return n ? sum2 / n - (sum / n) ** 2 : 0;
}

export function sharpness(rgb: Uint8Array, w: number, h: number, box: [number, number, number, number]): number {
  return laplacianVariance(greyCrop(rgb, w, h, box, SHARPNESS_SIZE), SHARPNESS_SIZE);
}

/** In-plane roll in degrees from the two eye keypoints (subject's right eye first, on the image's left). */
export function rollFromEyes(right: [number, number], left: [number, number]): number {
  return (Math.atan2(left[1] - right[1], left[0] - right[0]) * 180) / Math.PI;
}

/** Intersection over union of two [x, y, w, h] boxes. */
export function iou(a: number[], b: number[]): number {
  const ix = Math.max(0, Math.min(a[0]! + a[2]!, b[0]! + b[2]!) - Math.max(a[0]!, b[0]!));
  const iy = Math.max(0, Math.min(a[1]! + a[3]!, b[1]! + b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = ix * iy;
  const union = a[2]! * a[3]! + b[2]! * b[3]! - inter;
  return union > 0 ? inter / union : 0;
}
