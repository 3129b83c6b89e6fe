// The dense cross-view patch term (VICRegL's and DenseCL's idea, in iBOT's form): the two global crops of an image
// overlap, and their known geometry says which patch of one shows the same part of the face as a patch of the other.
// The student's output for a patch of one crop (through the shared head) matches the teacher's centred, sharpened
// output for the corresponding patch of the other crop. The global DINO and prototype terms only ask what the whole
// crop is; this asks every sampled patch token to say what its part is, whatever the colour and the scale.
import { derive } from '../rng.ts';

/** A crop's place in its image: the box [x0, y0, w, h] as fractions of the image, then 1 if it was flipped. */
export const BOX_FIELDS = 5;

export interface DensePairs {
  /** Rows of the student's flattened [2·b·P] global-crop patch tokens. */
  student: Int32Array;
  /** With `denseLocals`: rows of its flattened [L·b·p] local-crop patch tokens, paired after the global rows. */
  local?: Int32Array;
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
  return p ? patchAt(p[0], p[1], grid) : -1;
}

/** The patch whose area holds point [u, v] (fractions of the crop). */
const patchAt = (u: number, v: number, grid: number) => Math.min(grid - 1, Math.floor(v * grid)) * grid + Math.min(grid - 1, Math.floor(u * grid));

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

/** The local crops' part in the dense term (`ibot.denseLocals`): how many per image and their patch grid. */
export interface DenseLocals {
  count: number;
  grid: number;
}

/**
 * Up to `perCrop` matched patches for each of this worker's 2·b global crops, drawn at random among the patches whose
 * centre the other crop also shows. Each (step, crop, image of the global batch) draws from its own generator, so a
 * worker's pairs are exactly those of a one-thread draw over the full batch (as the iBOT masks). With `locals`, each
 * local crop (boxes after the globals') draws up to `perCrop` of its patches matched in either global crop, after the
 * global crops' pairs in `teacher`, `weight` and `corners`.
 */
export function densePairs(
  seed: number, step: number, rank: number, b: number, grid: number, boxes: Float32Array, perCrop: number, target: DenseTarget = 'patch',
  locals?: DenseLocals,
): DensePairs {
  const student: number[] = [];
  const local: number[] = [];
  const teacher: number[] = [];
  const weight: number[] = [];
  const cornerRows: number[] = [];
  const cornerWeights: number[] = [];
  const crops = 2 + (locals?.count ?? 0);
  if (boxes.length < crops * b * BOX_FIELDS) throw new Error(`the dense term needs a box for each of ${crops} crops of ${b} images; the views carry ${boxes.length / BOX_FIELDS}`);
  const box = (c: number, i: number) => boxes.subarray((c * b + i) * BOX_FIELDS, (c * b + i + 1) * BOX_FIELDS);
  // One crop's pairs: crop `c` (a patch grid of `g`) against the crops `to`; `rows` gets the student rows, `slot` the
  // crop's place among its group's crops (its row offset), `key` names its generator.
  const match = (c: number, i: number, g: number, to: number[], rows: number[], slot: number, key: string) => {
    const found: [number, number, number, number][] = [];
    for (let j = 0; j < g * g; j++) {
      for (const d of to) {
        const p = correspondingPoint(box(c, i), box(d, i), g, Math.floor(j / g), j % g);
        if (p) found.push([j, d, p[0], p[1]]);
      }
    }
    const take = Math.min(perCrop, found.length);
    for (const m of derive(seed, key, step, slot, rank * b + i).pick(found.length, take)) {
      const [j, d, u, v] = found[m]!;
      rows.push((slot * b + i) * g * g + j);
      teacher.push((d * b + i) * grid * grid + patchAt(u, v, grid));
      weight.push(1 / take);
      if (target === 'bilinear') {
        const { patches: round, weights } = bilinearCorners(u, v, grid);
        for (const k of round) cornerRows.push((d * b + i) * grid * grid + k);
        cornerWeights.push(...weights);
      }
    }
  };
  for (let c = 0; c < 2; c++) for (let i = 0; i < b; i++) match(c, i, grid, [1 - c], student, c, 'dense');
  for (let l = 0; l < (locals?.count ?? 0); l++) for (let i = 0; i < b; i++) match(2 + l, i, locals!.grid, [0, 1], local, l, 'dense-local');
  return {
    student: Int32Array.from(student), teacher: Int32Array.from(teacher), weight: Float32Array.from(weight),
    ...(locals ? { local: Int32Array.from(local) } : {}),
    ...(target === 'bilinear' ? { corners: { rows: Int32Array.from(cornerRows), weights: Float32Array.from(cornerWeights) } } : {}),
  };
}

/** Boxes for the 2 global (and `locals` local) crops of b images, each the whole image unflipped (views made without an image: benchmarks, tests). */
export function wholeImageBoxes(b: number, locals = 0): Float32Array {
  const out = new Float32Array((2 + locals) * b * BOX_FIELDS);
  for (let r = 0; r < (2 + locals) * b; r++) out.set([0, 0, 1, 1, 0], r * BOX_FIELDS);
  return out;
}
