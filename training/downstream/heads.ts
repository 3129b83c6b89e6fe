// The added layers. Classification heads read the global vector (CLS token or descriptor): linear, or an MLP with
// one hidden GELU layer. The landmark head reads the patch tokens: a per-token linear reduction, then a linear map
// from all tokens to 2 × points coordinates added to the mean shape (direct regression in units of the image side);
// on a source with no patch tokens it regresses from the global vector.
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import type { Tf } from '../../src/backend.ts';

export interface Head {
  variables: Variable[];
  /** x: [N, dim] (global) or [N, tokens, dim] (patch tokens) → [N, out]. */
  apply(x: Tensor): Tensor2D;
  dispose(): void;
}

let headSeed = 1;
function dense(tf: Tf, inDim: number, outDim: number, seed: number, bias?: Float32Array): [Variable, Variable] {
  const scale = Math.sqrt(2 / (inDim + outDim)); // Glorot normal
  const w = tf.variable(tf.randomNormal([inDim, outDim], 0, scale, 'float32', seed), true, `head.w${headSeed++}`);
  const b = tf.variable(bias ? tf.tensor1d(bias) : tf.zeros([outDim]), true, `head.b${headSeed++}`);
  return [w, b];
}

export function classifierHead(tf: Tf, input: { dim: number; tokens?: number }, out: number, opts: { hidden?: number; seed: number }): Head {
  if (input.tokens) return tokenHead(tf, input.dim, input.tokens, out, opts.seed);
  const inDim = input.dim;
  const layers: Array<[Variable, Variable]> = opts.hidden
    ? [dense(tf, inDim, opts.hidden, opts.seed), dense(tf, opts.hidden, out, opts.seed + 1)]
    : [dense(tf, inDim, out, opts.seed)];
  return {
    variables: layers.flat(),
    apply: (x) =>
      tf.tidy(() => {
        let h = x as Tensor2D;
        layers.forEach(([w, b], i) => {
          h = tf.add(tf.matMul(h, w), b);
          if (i < layers.length - 1) h = gelu(tf, h);
        });
        return h;
      }),
    dispose: () => tf.dispose(layers.flat()),
  };
}

export function landmarkHead(
  tf: Tf,
  input: { dim: number; tokens?: number },
  meanShape: Float32Array,
  opts: { reduce?: number; seed: number },
): Head {
  const out = meanShape.length;
  if (!input.tokens) {
    // One linear map from a global vector (human's 1,024-d descriptor), started at zero: the first prediction is
    // the mean shape, and no random map is left in the many directions a few training images do not span (a 0.1×
    // Glorot start added ~0.1 crop side of noise to every test point). The input is read as x/√dim: Adam moves
    // every weight by about lr per step, so the output moves by about lr·‖x‖₁: for 1,024 standardised channels and
    // the default lr 3e-3 that is ~2 crop sides per step, and the fit oscillates instead of settling.
    const [w, b] = dense(tf, input.dim, out, opts.seed, meanShape);
    tf.tidy(() => w.assign(tf.zerosLike(w)));
    const s = 1 / Math.sqrt(input.dim);
    return {
      variables: [w, b],
      apply: (x) => tf.tidy(() => tf.add(tf.matMul(tf.mul(x as Tensor2D, s), w), b)),
      dispose: () => tf.dispose([w, b]),
    };
  }
  const r = opts.reduce ?? 16;
  const tokens = input.tokens;
  const [rw, rb] = dense(tf, input.dim, r, opts.seed);
  const [w, b] = dense(tf, tokens * r, out, opts.seed + 1, meanShape);
  // Start at the mean shape: a small map so the first steps do not throw the points off the face.
  tf.tidy(() => w.assign(tf.mul(w, 0.1)));
  return {
    variables: [rw, rb, w, b],
    apply: (x) =>
      tf.tidy(() => {
        const [n] = x.shape;
        const t = tf.reshape(x, [n! * tokens, input.dim]) as Tensor2D;
        const z = tf.reshape(tf.add(tf.matMul(t, rw), rb), [n!, tokens * r]) as Tensor2D;
        return tf.add(tf.matMul(z, w), b);
      }),
    dispose: () => tf.dispose([rw, rb, w, b]),
  };
}

function gelu(tf: Tf, x: Tensor2D): Tensor2D {
  // tanh approximation, as in the ViT's MLP
  return tf.tidy(() => {
    const c = Math.sqrt(2 / Math.PI);
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), c);
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner))) as Tensor2D;
  });
}

/**
 * A linear map from all patch tokens (each first reduced to a few channels): it can read a cue at one place in the
 * face, such as the mouth, which the CLS token of a small or briefly trained ViT may not carry linearly.
 */
export function tokenHead(tf: Tf, dim: number, tokens: number, out: number, seed: number, reduce = 16): Head {
  const [rw, rb] = dense(tf, dim, reduce, seed);
  const [w, b] = dense(tf, tokens * reduce, out, seed + 1);
  return {
    variables: [rw, rb, w, b],
    apply: (x) =>
      tf.tidy(() => {
        const [n] = x.shape;
        const z = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [n! * tokens, dim]) as Tensor2D, rw), rb), [n!, tokens * reduce]) as Tensor2D;
        return tf.add(tf.matMul(z, w), b);
      }),
    dispose: () => tf.dispose([rw, rb, w, b]),
  };
}
