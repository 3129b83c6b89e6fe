// The patch position term (MP3's and DropPos's pretext task, on the crops' known geometry): each patch of a local crop
// says, through a linear classifier, which cell of a grid over its image it shows. The image is read in the view's own
// orientation (a flipped crop is a crop of the mirrored image), so that the answer follows what the patch looks like:
// a mirrored left eye is a right eye, and its target is where a right eye sits.
import type { Scalar, Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from '../../src/backend.ts';
import { BOX_FIELDS } from './dense.ts';

/** The parameters of the position classifier (student only; the teacher's EMA copy is never read). */
export const POSITION_W = 'position.w';
export const POSITION_B = 'position.b';

/** One group of crops whose patch tokens are asked: `first` is its first crop's index among the boxes' crops. */
export interface PositionCrops {
  first: number;
  count: number;
  /** Patches per side of each crop. */
  grid: number;
}

/**
 * The target cell (row-major in a `cells`×`cells` grid over the view-oriented image) of every patch of every crop of
 * the group, in the group's flattened token order (crop-major: crop c, image i, patch j at (c·b + i)·g² + j).
 */
export function positionCells(boxes: Float32Array, b: number, group: PositionCrops, cells: number): Int32Array {
  const { first, count, grid: g } = group;
  if (boxes.length < (first + count) * b * BOX_FIELDS) throw new Error(`the position term needs a box for each of ${first + count} crops of ${b} images; the views carry ${boxes.length / BOX_FIELDS}`);
  const out = new Int32Array(count * b * g * g);
  const cell = (t: number) => Math.min(cells - 1, Math.max(0, Math.floor(t * cells)));
  for (let c = 0; c < count; c++) {
    for (let i = 0; i < b; i++) {
      const o = ((first + c) * b + i) * BOX_FIELDS;
      const [x0, y0, w, h, flipped] = boxes.subarray(o, o + BOX_FIELDS);
      for (let j = 0; j < g * g; j++) {
        // The patch centre in the view's frame, then in the image's; a flipped view reads the mirrored image.
        let u = ((j % g) + 0.5) / g;
        if (flipped) u = 1 - u;
        let x = x0! + u * w!;
        if (flipped) x = 1 - x;
        const y = y0! + ((Math.floor(j / g) + 0.5) / g) * h!;
        out[(c * b + i) * g * g + j] = cell(y) * cells + cell(x);
      }
    }
  }
  return out;
}

/**
 * Cross-entropy of the classifier's cell logits for `tokens` [n, d] against `cells`, summed over rows and divided by
 * `perCrop` rows of each crop: the sum over crops of each crop's mean (the caller divides by the crops, as the dense
 * term does, so that the workers' means average to the full batch's).
 */
export function positionLoss(tf: Tf, tokens: Tensor2D, w: Tensor, bias: Tensor, cells: Int32Array, classes: number, perCrop: number): Scalar {
  const logp = tf.logSoftmax(tf.add(tf.matMul(tokens, w as Tensor2D), bias) as Tensor2D);
  const onehot = tf.oneHot(tf.tensor1d(cells, 'int32'), classes);
  return tf.div(tf.neg(tf.sum(tf.mul(onehot, logp))), perCrop) as Scalar;
}
