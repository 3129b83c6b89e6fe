// Self-distillation (DINO): the teacher's centred, sharpened softmax over K outputs is the target for the student's
// softmax on every other crop. The centre, a running mean of the teacher's outputs, keeps one output from dominating.
import type { Scalar, Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from '../../src/backend.ts';
import { logSoftmax, softmax } from '../params.ts';

/** P_t = softmax((g_t − c) / τ_t), no gradient. teacher: [2B, K]. */
export function teacherProbs(tf: Tf, teacher: Tensor2D, centre: Tensor1D, temp: number): Tensor2D {
  return softmax(tf, tf.div(tf.sub(teacher, centre), temp)) as Tensor2D;
}

/**
 * Mean over pairs (teacher global crop i, student crop v ≠ i) of −Σ_k P_t(i)_k log P_s(v)_k.
 * student: [V·B, K] (crop-major: all images' crop 0, then crop 1, ...), probsT: [G·B, K] with the G global crops
 * first in the same order.
 */
export function distillLoss(tf: Tf, student: Tensor2D, probsT: Tensor2D, studentTemp: number, crops: number, globals = 2): Scalar {
  const [rows, k] = student.shape;
  const b = rows / crops;
  const logPs = logSoftmax(tf, tf.div(student, studentTemp)).reshape([crops, b, k]);
  const pt = probsT.reshape([globals, b, k]);
  // Σ over v ≠ i = Σ over all v − the v = i term.
  const all = tf.sum(logPs, 0);
  let total: Tensor = tf.scalar(0);
  for (let i = 0; i < globals; i++) {
    const pti = pt.slice([i, 0, 0], [1, b, k]).reshape([b, k]);
    const own = logPs.slice([i, 0, 0], [1, b, k]).reshape([b, k]);
    total = tf.add(total, tf.neg(tf.sum(tf.mul(pti, tf.sub(all, own)))));
  }
  return tf.div(total, globals * (crops - 1) * b) as Scalar;
}

/** Mean per-row entropy of a probability matrix (nats). */
export function meanEntropy(tf: Tf, p: Tensor2D): Scalar {
  return tf.neg(tf.mean(tf.sum(tf.mul(p, tf.log(tf.maximum(p, 1e-30))), -1))) as Scalar;
}

/** c ← m·c + (1 − m)·batchMean, in place. */
export function updateCentre(centre: Float32Array, batchMean: Float32Array, momentum: number): void {
  for (let i = 0; i < centre.length; i++) centre[i] = centre[i] * momentum + batchMean[i] * (1 - momentum);
}
