// The projection head (DINO's DINOHead): an MLP to a bottleneck, L2-normalised, then a weight-normalised linear layer
// to K outputs with its norm fixed at 1, so each output is the cosine similarity to one learnable direction.
// The normalised bottleneck z is also what the prototype term matches against the prototype bank.
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from '../src/backend.ts';
import type { HeadConfig } from './config.ts';
import { Params, gelu, linear } from './params.ts';
import type { Rng } from './rng.ts';

export const LAST_LAYER = 'head.last.v';

export function initHead(p: Params, cfg: HeadConfig, inDim: number, rng: Rng): void {
  const tn = { truncNormal: 0.02 }; // timm's trunc_normal_(std=.02): cut at ±2 absolute
  const dims = cfg.layers === 1 ? [inDim, cfg.bottleneck] : [inDim, ...Array(cfg.layers - 1).fill(cfg.hidden), cfg.bottleneck];
  for (let i = 0; i + 1 < dims.length; i++) {
    p.add(`head.mlp.${i}.w`, [dims[i], dims[i + 1]], tn, rng);
    p.add(`head.mlp.${i}.b`, [dims[i + 1]], 'zeros');
  }
  p.add(LAST_LAYER, [cfg.bottleneck, cfg.outputs], tn, rng);
}

export function l2normalise(tf: Tf, x: Tensor, axis = -1): Tensor {
  // x · rsqrt(Σx²) rather than x / tf.norm(x): tf.norm goes through Pow, a slow single-threaded wasm kernel that
  // was the largest non-matmul cost of a step (the last layer's weights are normalised every step).
  return tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), axis, true), 1e-24)));
}

export function headForward(tf: Tf, p: Params, cfg: HeadConfig, x: Tensor2D): { z: Tensor2D; logits: Tensor2D } {
  let h: Tensor = x;
  for (let i = 0; i < cfg.layers; i++) {
    h = linear(tf, h, p.get(`head.mlp.${i}.w`), p.get(`head.mlp.${i}.b`));
    if (i + 1 < cfg.layers) h = gelu(tf, h);
  }
  const z = l2normalise(tf, h) as Tensor2D;
  const w = l2normalise(tf, p.get(LAST_LAYER), 0) as Tensor2D;
  return { z, logits: tf.matMul(z, w) };
}
