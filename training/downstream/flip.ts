// Horizontal flip of landmarks: mirror x and swap left/right point indices, so a flipped face keeps its semantics.
// Coordinates are continuous pixels with the origin at the image's left edge, so x ↦ W − x is its own inverse.
import type { Point } from '../../src/contracts/geometry.ts';

function fromPairs(n: number, pairs: Array<[number, number]>): number[] {
  const perm = Array.from({ length: n }, (_, i) => i);
  for (const [a, b] of pairs) {
    perm[a] = b;
    perm[b] = a;
  }
  return perm;
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** iBUG 68: jaw, brows, nose base, eyes, outer and inner lips. */
export const FLIP_68 = fromPairs(68, [
  ...range(0, 7).map((i): [number, number] => [i, 16 - i]),
  [17, 26], [18, 25], [19, 24], [20, 23], [21, 22],
  [31, 35], [32, 34],
  [36, 45], [37, 44], [38, 43], [39, 42], [40, 47], [41, 46],
  [48, 54], [49, 53], [50, 52], [55, 59], [56, 58],
  [60, 64], [61, 63], [65, 67],
]);

/** WFLW 98 (as in the HRNet facial-landmark code). */
export const FLIP_98 = fromPairs(98, [
  ...range(0, 15).map((i): [number, number] => [i, 32 - i]),
  [33, 46], [34, 45], [35, 44], [36, 43], [37, 42], [38, 50], [39, 49], [40, 48], [41, 47],
  [55, 59], [56, 58],
  [60, 72], [61, 71], [62, 70], [63, 69], [64, 68], [65, 75], [66, 74], [67, 73],
  [76, 82], [77, 81], [78, 80], [83, 87], [84, 86], [88, 92], [89, 91], [93, 95], [96, 97],
]);

/** Outer eye corners per layout, for the inter-ocular normaliser. */
export const OUTER_EYE_CORNERS: Record<number, [number, number]> = { 68: [36, 45], 98: [60, 72] };

export function flipPermutation(points: number): number[] {
  if (points === 68) return FLIP_68;
  if (points === 98) return FLIP_98;
  throw new Error(`no flip permutation known for ${points} landmarks`);
}

export function flipLandmarks(points: Point[], width: number, perm = flipPermutation(points.length)): Point[] {
  return perm.map((j) => [width - points[j]![0], points[j]![1]] as Point);
}
