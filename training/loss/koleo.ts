// KoLeo regulariser (DINOv2, after Sablayrolles et al. 2019): −mean_i log(min_j≠i ‖x_i − x_j‖) over the L2-normalised
// features of a batch. It pushes each feature away from its nearest neighbour, so the batch spreads over the sphere
// instead of drifting to one point — the feature collapse that short, small-batch DINO runs on faces show.
// [recon: DINOv2 applies it to the student's CLS token of each global crop, weight 0.1]
import type { Scalar, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from '../../src/backend.ts';
import { l2normalise } from '../head.ts';

/** x: [n, d] (any scale; normalised here), n ≥ 2. */
export function koleoLoss(tf: Tf, x: Tensor2D, eps = 1e-8): Scalar {
  const n = x.shape[0];
  const z = l2normalise(tf, x) as Tensor2D;
  // ‖a − b‖² = 2 − 2 a·b on the unit sphere; the diagonal is pushed out of reach of the minimum.
  const d2 = tf.sub(2, tf.mul(2, tf.matMul(z, z, false, true)));
  const masked = tf.add(d2, tf.mul(tf.eye(n), 4));
  const nearest = tf.sqrt(tf.maximum(tf.min(masked, 1), eps * eps));
  return tf.neg(tf.mean(tf.log(tf.add(nearest, eps)))) as Scalar;
}
