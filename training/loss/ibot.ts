// Masked patch self-distillation (iBOT; DINOv2's patch term). The student sees its global crops with some patch
// embeddings replaced by a learned mask token; at each masked position its patch output (through the same head,
// softmax at τ_s) matches the teacher's centred, sharpened output for that patch of the unmasked crop. A crop's loss
// is the mean over its masked patches, and crops are averaged over all global crops of the batch (an unmasked crop
// counts 0, as in iBOT), so the gradients of W workers average to the full batch's.
import type { Scalar, Tensor1D, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from '../../src/backend.ts';
import type { IbotConfig } from '../config.ts';
import { logSoftmax } from '../params.ts';
import { derive } from '../rng.ts';

/**
 * Which patches of each of this worker's 2·b global crops the student sees masked, as [2·b·P] 0/1 rows, crop-major
 * like the views. Each (step, crop, image of the global batch) draws from its own generator, so a worker's rows are
 * exactly the same rows of a one-thread draw over the full batch. [recon: random positions; DINOv2 masks blocks]
 */
export function ibotMasks(seed: number, step: number, rank: number, b: number, patches: number, cfg: IbotConfig): Float32Array {
  const out = new Float32Array(2 * b * patches);
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < b; i++) {
      const rng = derive(seed, 'ibot', step, c, rank * b + i);
      if (rng.next() >= cfg.maskP) continue;
      const count = Math.max(1, Math.round(rng.uniform(cfg.maskRatio[0], cfg.maskRatio[1]) * patches));
      for (const j of rng.pick(patches, count)) out[(c * b + i) * patches + j] = 1;
    }
  }
  return out;
}

/** The masked rows of the flattened [2·b·P] patch tokens, and each one's weight 1 / (masked patches of its crop). */
export function maskedRows(mask: Float32Array, patches: number): { index: Int32Array; weight: Float32Array } {
  const index: number[] = [];
  const weight: number[] = [];
  for (let c = 0; c < mask.length / patches; c++) {
    let n = 0;
    for (let j = 0; j < patches; j++) n += mask[c * patches + j];
    for (let j = 0; j < patches; j++) {
      if (!mask[c * patches + j]) continue;
      index.push(c * patches + j);
      weight.push(1 / n);
    }
  }
  return { index: Int32Array.from(index), weight: Float32Array.from(weight) };
}

/**
 * The rows `index` of x [R, d], as a product with a one-hot [M, R] matrix: its gradient is a matMul on every backend
 * (gather's needs UnsortedSegmentSum, which not every backend has).
 */
export function selectRows(tf: Tf, x: Tensor2D, index: Int32Array): Tensor2D {
  const r = x.shape[0];
  const s = new Float32Array(index.length * r);
  for (const [m, i] of index.entries()) s[m * r + i] = 1;
  return tf.matMul(tf.tensor2d(s, [index.length, r]), x);
}

/** Σ_m w_m · (−Σ_k P_t(m)_k log P_s(m)_k) / crops, over the M masked rows. */
export function ibotLoss(tf: Tf, student: Tensor2D, probsT: Tensor2D, weight: Float32Array, studentTemp: number, crops: number): Scalar {
  const logPs = logSoftmax(tf, tf.div(student, studentTemp));
  const perRow = tf.neg(tf.sum(tf.mul(probsT, logPs), -1)) as Tensor1D;
  return tf.div(tf.sum(tf.mul(perRow, tf.tensor1d(weight))), crops) as Scalar;
}

/**
 * The masked-pixel target (MAE's, with its per-patch normalisation): Σ_m w_m · mean over the patch's values of
 * (pred − norm(target))² / crops. `target` holds the masked patches' pixels [M, p·p·3].
 */
export function pixelLoss(tf: Tf, pred: Tensor2D, target: Tensor2D, weight: Float32Array, crops: number): Scalar {
  const { mean, variance } = tf.moments(target, -1, true);
  const norm = tf.div(tf.sub(target, mean), tf.sqrt(tf.add(variance, 1e-6)));
  const perRow = tf.mean(tf.square(tf.sub(pred, norm)), -1) as Tensor1D;
  return tf.div(tf.sum(tf.mul(perRow, tf.tensor1d(weight))), crops) as Scalar;
}
