// The two protocols. Linear probe: the backbone frozen, its features computed once, only the head trained.
// Fine-tune: backbone and head trained together on images, the backbone at a lower learning rate than the head,
// with horizontal-flip augmentation (targets flipped by the task, e.g. landmarks through the index permutation).
import type { Scalar, Tensor, Tensor2D, Variable, NamedTensorMap } from '@tensorflow/tfjs';
import type { Tf } from '../../src/backend.ts';
import type { EvalConfig } from '../../src/config.ts';
import type { Backbone } from '../backbone.ts';
import type { Head } from './heads.ts';
import { stackImages } from './features.ts';
import { flipPixels } from './images.ts';
import { mulberry32, shuffled } from './synth/rng.ts';

export type Protocol = 'linear' | 'finetune';
export type LossFn = (pred: Tensor2D, target: Tensor2D) => Scalar;

export interface FitOptions {
  epochs: number;
  batch: number;
  lr: number;
  /** Fine-tune only: the backbone's learning rate (lower than the head's). */
  backboneLr?: number;
  /** L2 penalty on the head's weights (matrices only, not biases). */
  l2?: number;
  /**
   * Linear probe only: the learning rate over the epochs. `cosine` decays it to 0 (DINO's linear evaluation), so the
   * head settles; `constant` keeps it, and Adam then stops wherever its last steps left it.
   */
  schedule?: ProbeSchedule;
  seed: number;
}

export type ProbeSchedule = EvalConfig['linear']['schedule'];

/** The probe's learning rate in epoch `e` of `epochs`. */
export function probeLr(lr: number, e: number, epochs: number, schedule: ProbeSchedule = 'constant'): number {
  return schedule === 'cosine' ? lr * 0.5 * (1 + Math.cos((Math.PI * e) / epochs)) : lr;
}

function batches(n: number, batch: number, rng: () => number): number[][] {
  const order = shuffled(rng, Array.from({ length: n }, (_, i) => i));
  const out: number[][] = [];
  for (let i = 0; i < n; i += batch) out.push(order.slice(i, i + batch));
  return out;
}

function rows(tf: Tf, data: Float32Array, width: number, idx: number[]): Tensor2D {
  const buf = new Float32Array(idx.length * width);
  idx.forEach((r, j) => buf.set(data.subarray(r * width, (r + 1) * width), j * width));
  return tf.tensor2d(buf, [idx.length, width]);
}

function pick(grads: NamedTensorMap, vars: Variable[]): Array<{ name: string; tensor: Tensor }> {
  return vars.filter((v) => grads[v.name]).map((v) => ({ name: v.name, tensor: grads[v.name]! }));
}

/**
 * Trains `head` on frozen features. `x` holds n rows of `shape` (e.g. [dim] or [tokens, dim]); `y` n rows of
 * `yWidth` targets. Returns the mean loss of each epoch.
 */
export async function fitOnFeatures(
  tf: Tf, head: Head, x: Float32Array, shape: number[], y: Float32Array, yWidth: number, loss: LossFn, o: FitOptions,
): Promise<number[]> {
  const width = shape.reduce((a, b) => a * b, 1);
  const n = x.length / width;
  const opt = tf.train.adam(o.lr);
  const rng = mulberry32(o.seed);
  const curve: number[] = [];
  for (let e = 0; e < o.epochs; e++) {
    let sum = 0;
    // tfjs's Adam reads its learningRate at every step; it has no scheduler of its own.
    (opt as unknown as { learningRate: number }).learningRate = probeLr(o.lr, e, o.epochs, o.schedule);
    for (const idx of batches(n, o.batch, rng)) {
      const cost = tf.tidy(() => {
        const xb = tf.reshape(rows(tf, x, width, idx), [idx.length, ...shape]);
        const yb = rows(tf, y, yWidth, idx);
        return opt.minimize(() => withL2(tf, loss(head.apply(xb), yb), head, o.l2), true, head.variables)!;
      });
      sum += (await cost.data())[0]! * idx.length;
      cost.dispose();
    }
    curve.push(sum / n);
  }
  opt.dispose();
  return curve;
}

export async function predictFeatures(tf: Tf, head: Head, x: Float32Array, shape: number[], batch = 256): Promise<Float32Array[]> {
  const width = shape.reduce((a, b) => a * b, 1);
  const n = x.length / width;
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i += batch) {
    const idx = Array.from({ length: Math.min(batch, n - i) }, (_, j) => i + j);
    const p = tf.tidy(() => head.apply(tf.reshape(rows(tf, x, width, idx), [idx.length, ...shape])));
    const data = (await p.data()) as Float32Array;
    const w = p.shape[1];
    for (let j = 0; j < idx.length; j++) out.push(data.slice(j * w, (j + 1) * w));
    p.dispose();
  }
  return out;
}

export interface FinetuneData {
  images: Float32Array[];
  size: number;
  targets: Float32Array[];
  /** Flip one sample's target with the image (null: the target does not change under a flip). */
  flipTarget: ((t: Float32Array) => Float32Array) | null;
  /** Which backbone output the head reads. */
  input: 'cls' | 'patches';
}

export async function finetune(tf: Tf, backbone: Backbone, head: Head, d: FinetuneData, loss: LossFn, o: FitOptions): Promise<number[]> {
  const headOpt = tf.train.adam(o.lr);
  const bbOpt = tf.train.adam(o.backboneLr ?? o.lr * 0.1);
  const rng = mulberry32(o.seed);
  const all = [...head.variables, ...backbone.variables];
  const curve: number[] = [];
  for (let e = 0; e < o.epochs; e++) {
    let sum = 0;
    for (const idx of batches(d.images.length, o.batch, rng)) {
      const flips = idx.map(() => rng() < 0.5);
      const imgs = idx.map((i, j) => (flips[j] ? flipPixels(d.images[i]!, d.size) : d.images[i]!));
      const tgts = idx.map((i, j) => (flips[j] && d.flipTarget ? d.flipTarget(d.targets[i]!) : d.targets[i]!));
      const cost = tf.tidy(() => {
        const x = backbone.normalise(stackImages(tf, imgs, d.size));
        const y = tf.tensor2d(concat(tgts), [tgts.length, tgts[0]!.length]);
        const { value, grads } = tf.variableGrads(() => {
          const out = backbone.forward(x, true);
          return withL2(tf, loss(head.apply(d.input === 'cls' ? out.cls : out.patches), y), head, o.l2);
        }, all);
        headOpt.applyGradients(pick(grads, head.variables));
        bbOpt.applyGradients(pick(grads, backbone.variables));
        return value;
      });
      sum += (await cost.data())[0]! * idx.length;
      cost.dispose();
    }
    curve.push(sum / d.images.length);
  }
  headOpt.dispose();
  bbOpt.dispose();
  return curve;
}

export async function predictImages(
  tf: Tf, backbone: Backbone, head: Head, images: Float32Array[], size: number, input: 'cls' | 'patches', batch = 32,
): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < images.length; i += batch) {
    const part = images.slice(i, i + batch);
    const p = tf.tidy(() => {
      const o = backbone.forward(backbone.normalise(stackImages(tf, part, size)), false);
      return head.apply(input === 'cls' ? o.cls : o.patches);
    });
    const data = (await p.data()) as Float32Array;
    const w = p.shape[1];
    for (let j = 0; j < part.length; j++) out.push(data.slice(j * w, (j + 1) * w));
    p.dispose();
  }
  return out;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function withL2(tf: Tf, value: Scalar, head: Head, l2 = 0): Scalar {
  if (!l2) return value;
  const mats = head.variables.filter((v) => v.rank === 2);
  return tf.add(value, tf.mul(l2, tf.addN(mats.map((w) => tf.sum(tf.square(w)))))) as Scalar;
}
