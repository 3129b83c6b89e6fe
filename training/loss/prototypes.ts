// The prototype-matching term (ProS; reconstructed after MSN/SwAV): a learnable bank of K_p unit prototypes. Each
// normalised feature z gets p(z) = softmax(z·Cᵀ / τ_p). The teacher's assignment, sharpened (or Sinkhorn-balanced),
// is the target for the student's on every other crop, and a mean-entropy regulariser keeps many prototypes in use.
import type { Scalar, Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from '../../src/backend.ts';
import { l2normalise } from '../head.ts';
import { softmax } from '../params.ts';

/** How batch statistics are shared between data-parallel workers: mean over workers (identity for one). */
export interface Collective {
  size: number;
  /** This worker's rank (0 for one). */
  rank?: number;
  mean(x: Float32Array): Float32Array;
}

export const single: Collective = { size: 1, mean: (x) => x };

/** p(z) = softmax(z·normalise(C)ᵀ / τ_p). */
export function protoProbs(tf: Tf, z: Tensor2D, bank: Tensor2D, temp: number): Tensor2D {
  const c = l2normalise(tf, bank) as Tensor2D;
  return softmax(tf, tf.div(tf.matMul(z, c, false, true), temp)) as Tensor2D;
}

/** sharpen(p)_k = p_k^{1/T} / Σ_j p_j^{1/T}, computed in log space. */
export function sharpen(tf: Tf, p: Tensor2D, temp: number): Tensor2D {
  return softmax(tf, tf.div(tf.log(tf.maximum(p, 1e-30)), temp)) as Tensor2D;
}

/**
 * Sinkhorn-Knopp (SwAV): balanced soft assignments of the B rows to the K prototypes from scores z·Cᵀ, each
 * prototype used equally over the (global) batch; rows of the result sum to 1. scores: row-major [B, K].
 */
export function sinkhorn(scores: Float32Array, b: number, k: number, eps: number, iters: number, coll: Collective = single): Float32Array {
  const q = new Float32Array(b * k);
  // Scores are cosines (≤ 1): shifting by 1 keeps exp in range and is the same on every worker.
  for (let i = 0; i < q.length; i++) q[i] = Math.exp((scores[i] - 1) / eps);
  const bGlobal = b * coll.size;
  const total = coll.mean(new Float32Array([q.reduce((a, x) => a + x, 0)]))[0] * coll.size;
  for (let i = 0; i < q.length; i++) q[i] /= total;
  for (let it = 0; it < iters; it++) {
    // Each prototype's total mass over the global batch → 1/K.
    const col = new Float32Array(k);
    for (let r = 0; r < b; r++) for (let c = 0; c < k; c++) col[c] += q[r * k + c];
    const colG = coll.mean(col);
    for (let r = 0; r < b; r++) for (let c = 0; c < k; c++) q[r * k + c] /= colG[c] * coll.size * k || 1;
    // Each sample's mass → 1/B.
    for (let r = 0; r < b; r++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += q[r * k + c];
      for (let c = 0; c < k; c++) q[r * k + c] /= (s || 1) * bGlobal;
    }
  }
  for (let i = 0; i < q.length; i++) q[i] *= bGlobal;
  return q;
}

export interface ProtoLossParts {
  /** ce − λ_me·H(p̄): the value of the term; its gradient is exact for the global batch. */
  loss: Scalar;
  ce: number;
  meanEntropy: number;
  /** How many of the local student crops pick each prototype (argmax). */
  usage: Float32Array;
}

/**
 * Mean over pairs (teacher crop i, student crop v ≠ i) of H(q(i), p(z_s(v))), minus λ_me·H(mean over the batch of
 * p(z_s)). targets: [G·B, K_p] (constant), zs: [V·B, d] crop-major. Under data-parallel the batch mean p̄ is the
 * mean over all workers (through `coll`); the entropy's gradient is then applied through the local mean as
 * ∂H/∂p̄ · p̄_local, which averaged over workers is exactly the full batch's gradient.
 */
export function protoLoss(
  tf: Tf,
  zs: Tensor2D,
  bank: Tensor2D,
  targets: Tensor2D,
  opts: { temp: number; meanEntropyWeight: number; crops: number; globals?: number },
  coll: Collective = single,
): ProtoLossParts {
  const globals = opts.globals ?? 2;
  const ps = protoProbs(tf, zs, bank, opts.temp);
  const [rows, k] = ps.shape;
  const b = rows / opts.crops;
  const logPs = tf.log(tf.maximum(ps, 1e-30)).reshape([opts.crops, b, k]);
  const q = targets.reshape([globals, b, k]);
  const all = tf.sum(logPs, 0);
  let total: Tensor = tf.scalar(0);
  for (let i = 0; i < globals; i++) {
    const qi = q.slice([i, 0, 0], [1, b, k]).reshape([b, k]);
    const own = logPs.slice([i, 0, 0], [1, b, k]).reshape([b, k]);
    total = tf.add(total, tf.neg(tf.sum(tf.mul(qi, tf.sub(all, own)))));
  }
  const ce = tf.div(total, globals * (opts.crops - 1) * b) as Scalar;

  const pbarLocal = tf.mean(ps, 0);
  const pbar = coll.mean(pbarLocal.dataSync() as Float32Array);
  let h = 0;
  const g = new Float32Array(k);
  for (let j = 0; j < k; j++) {
    const pj = Math.max(pbar[j], 1e-30);
    h -= pj * Math.log(pj);
    g[j] = -(Math.log(pj) + 1);
  }
  const lin = tf.sum(tf.mul(pbarLocal, tf.tensor1d(g)));
  // Value H(p̄_global); gradient ∂H/∂p̄ · ∂p̄_local.
  const entropy = tf.add(tf.sub(lin, tf.scalar(lin.dataSync()[0])), h) as Scalar;
  const loss = tf.sub(ce, tf.mul(entropy, opts.meanEntropyWeight)) as Scalar;
  const usage = new Float32Array(k);
  for (const i of tf.argMax(ps, 1).dataSync()) usage[i] += 1;
  return { loss, ce: ce.dataSync()[0], meanEntropy: h, usage };
}
