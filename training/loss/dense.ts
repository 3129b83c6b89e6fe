// The dense cross-view patch term (VICRegL's and DenseCL's idea, in iBOT's form): the two global crops of an image
// overlap, and their known geometry says which patch of one shows the same part of the face as a patch of the other.
// The student's output for a patch of one crop (through the shared head) matches the teacher's centred, sharpened
// output for the corresponding patch of the other crop. The global DINO and prototype terms only ask what the whole
// crop is; this asks every sampled patch token to say what its part is, whatever the colour and the scale.
import { derive } from '../rng.ts';

/** A global crop's place in its image: the box [x0, y0, w, h] as fractions of the image, then 1 if it was flipped. */
export const BOX_FIELDS = 5;

export interface DensePairs {
  /** Rows of the student's flattened [2·b·P] patch tokens. */
  student: Int32Array;
  /** For each, the row of the teacher's patch tokens (the other global crop) that shows the same place. */
  teacher: Int32Array;
  /** 1 / (pairs of the student row's crop), so each crop counts once however many of its patches are used. */
  weight: Float32Array;
  /**
   * `bilinear` targets only: for each pair, the four teacher rows round the exact point (4 per pair) and their
   * bilinear weights, so that the target is read where the point lies, not at the centre of the patch that holds it.
   */
  corners?: { rows: Int32Array; weights: Float32Array };
}

/** How the dense term reads the teacher at a matched point: the patch that holds it, or the four round it. */
export type DenseTarget = 'patch' | 'bilinear';

/**
 * Where the centre of patch (row, col) of crop `from` lies in crop `to`, as fractions [u, v] of `to` (u read in `to`'s
 * own, possibly flipped, orientation), or null when it lies outside crop `to`.
 */
export function correspondingPoint(from: ArrayLike<number>, to: ArrayLike<number>, grid: number, row: number, col: number): [number, number] | null {
  let u = (col + 0.5) / grid;
  if (from[4]) u = 1 - u;
  const x = from[0] + u * from[2];
  const y = from[1] + ((row + 0.5) / grid) * from[3];
  let u2 = (x - to[0]) / to[2];
  const v2 = (y - to[1]) / to[3];
  if (u2 < 0 || u2 >= 1 || v2 < 0 || v2 >= 1) return null;
  if (to[4]) u2 = 1 - u2;
  return [u2, v2];
}

/**
 * The patch of crop `to` whose area holds the centre of patch (row, col) of crop `from`, or −1 when that centre lies
 * outside crop `to`. Boxes are [x0, y0, w, h] as fractions of the image, then 1 if the view was flipped.
 */
export function correspondingPatch(from: ArrayLike<number>, to: ArrayLike<number>, grid: number, row: number, col: number): number {
  const p = correspondingPoint(from, to, grid, row, col);
  return p ? Math.min(grid - 1, Math.floor(p[1] * grid)) * grid + Math.min(grid - 1, Math.floor(p[0] * grid)) : -1;
}

/**
 * The four patches round point [u, v] (fractions of the crop) and their bilinear weights, patch centres at
 * (i + 0.5) / grid; beyond the outer centres the nearest border patches are used (weights still sum to 1).
 */
export function bilinearCorners(u: number, v: number, grid: number): { patches: [number, number, number, number]; weights: [number, number, number, number] } {
  const clamp = (g: number) => Math.min(grid - 1, Math.max(0, g));
  const gx = clamp(u * grid - 0.5), gy = clamp(v * grid - 0.5);
  const x0 = Math.min(grid - 2, Math.floor(gx)), y0 = Math.min(grid - 2, Math.floor(gy));
  const fx = gx - x0, fy = gy - y0;
  return {
    patches: [y0 * grid + x0, y0 * grid + x0 + 1, (y0 + 1) * grid + x0, (y0 + 1) * grid + x0 + 1],
    weights: [(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy],
  };
}

/**
 * Up to `perCrop` matched patches for each of this worker's 2·b global crops, drawn at random among the patches whose
 * centre the other crop also shows. Each (step, crop, image of the global batch) draws from its own generator, so a
 * worker's pairs are exactly those of a one-thread draw over the full batch (as the iBOT masks).
 */
export function densePairs(
  seed: number, step: number, rank: number, b: number, grid: number, boxes: Float32Array, perCrop: number, target: DenseTarget = 'patch',
): DensePairs {
  const patches = grid * grid;
  const student: number[] = [];
  const teacher: number[] = [];
  const weight: number[] = [];
  const cornerRows: number[] = [];
  const cornerWeights: number[] = [];
  const box = (c: number, i: number) => boxes.subarray((c * b + i) * BOX_FIELDS, (c * b + i + 1) * BOX_FIELDS);
  const from = new Int32Array(patches);
  const to = new Int32Array(patches);
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < b; i++) {
      let n = 0;
      for (let j = 0; j < patches; j++) {
        const k = correspondingPatch(box(c, i), box(1 - c, i), grid, Math.floor(j / grid), j % grid);
        if (k < 0) continue;
        from[n] = j;
        to[n++] = k;
      }
      const take = Math.min(perCrop, n);
      for (const m of derive(seed, 'dense', step, c, rank * b + i).pick(n, take)) {
        student.push((c * b + i) * patches + from[m]);
        teacher.push(((1 - c) * b + i) * patches + to[m]);
        weight.push(1 / take);
        if (target === 'bilinear') {
          const [u, v] = correspondingPoint(box(c, i), box(1 - c, i), grid, Math.floor(from[m] / grid), from[m] % grid)!;
          const { patches: round, weights } = bilinearCorners(u, v, grid);
          for (const k of round) cornerRows.push(((1 - c) * b + i) * patches + k);
          cornerWeights.push(...weights);
        }
      }
    }
  }
  return {
    student: Int32Array.from(student), teacher: Int32Array.from(teacher), weight: Float32Array.from(weight),
    ...(target === 'bilinear' ? { corners: { rows: Int32Array.from(cornerRows), weights: Float32Array.from(cornerWeights) } } : {}),
  };
}

/** Boxes for 2·b global crops that each show the whole image unflipped (views made without an image: benchmarks, tests). */
export function wholeImageBoxes(b: number): Float32Array {
  const out = new Float32Array(2 * b * BOX_FIELDS);
  for (let r = 0; r < 2 * b; r++) out.set([0, 0, 1, 1, 0], r * BOX_FIELDS);
  return out;
}
