// The vision transformer (as DINO's vision_transformer.py): patch embedding, a CLS token, learned position
// embeddings interpolated to other crop sizes, pre-norm blocks of multi-head self-attention and a GELU MLP with
// stochastic depth, and a final norm. Features for downstream use: the CLS token and the patch tokens.
import type { Tensor, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import type { Tf } from '../src/backend.ts';
import type { ViTConfig } from './config.ts';
import { Params, gelu, layerNorm, linear, softmax } from './params.ts';
import type { Rng } from './rng.ts';

export interface ViTOutput {
  cls: Tensor2D;
  patches: Tensor3D;
}

/** Adds the ViT's parameters to `p` under `prefix` (DINO's init: truncated normal 0.02, zero biases, unit norms). */
export function initViT(p: Params, cfg: ViTConfig, rng: Rng, prefix = 'vit.'): void {
  const d = cfg.width;
  const grid = cfg.imageSize / cfg.patch;
  const tn = { truncNormal: 0.02 }; // timm's trunc_normal_(std=.02): cut at ±2 absolute
  p.add(`${prefix}patch.w`, [cfg.patch * cfg.patch * 3, d], tn, rng);
  p.add(`${prefix}patch.b`, [d], 'zeros');
  p.add(`${prefix}cls`, [1, 1, d], tn, rng);
  p.add(`${prefix}pos`, [1, 1 + grid * grid, d], tn, rng);
  const hidden = Math.round(d * cfg.mlpRatio);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `${prefix}blocks.${i}.`;
    p.add(`${b}norm1.g`, [d], 'ones');
    p.add(`${b}norm1.b`, [d], 'zeros');
    p.add(`${b}qkv.w`, [d, 3 * d], tn, rng);
    p.add(`${b}qkv.b`, [3 * d], 'zeros');
    p.add(`${b}proj.w`, [d, d], tn, rng);
    p.add(`${b}proj.b`, [d], 'zeros');
    p.add(`${b}norm2.g`, [d], 'ones');
    p.add(`${b}norm2.b`, [d], 'zeros');
    p.add(`${b}fc1.w`, [d, hidden], tn, rng);
    p.add(`${b}fc1.b`, [hidden], 'zeros');
    p.add(`${b}fc2.w`, [hidden, d], tn, rng);
    p.add(`${b}fc2.b`, [d], 'zeros');
  }
  p.add(`${prefix}norm.g`, [d], 'ones');
  p.add(`${prefix}norm.b`, [d], 'zeros');
}

const interpCache = new Map<string, Float32Array>();

/**
 * Bilinear interpolation (align_corners=false) from a g×g grid to an h×h grid as a [h², g²] matrix, so that the
 * interpolated position embeddings are a matMul and stay differentiable on every backend. [recon: DINO uses bicubic]
 */
export function interpMatrix(g: number, h: number): Float32Array {
  const key = `${g}:${h}`;
  const hit = interpCache.get(key);
  if (hit) return hit;
  const m = new Float32Array(h * h * g * g);
  const axis = (o: number): Array<[number, number]> => {
    const src = Math.min(Math.max((o + 0.5) * (g / h) - 0.5, 0), g - 1);
    const i0 = Math.floor(src);
    const i1 = Math.min(i0 + 1, g - 1);
    const f = src - i0;
    return i0 === i1 ? [[i0, 1]] : [[i0, 1 - f], [i1, f]];
  };
  for (let oy = 0; oy < h; oy++) {
    for (let ox = 0; ox < h; ox++) {
      for (const [iy, wy] of axis(oy)) for (const [ix, wx] of axis(ox)) m[(oy * h + ox) * g * g + iy * g + ix] += wy * wx;
    }
  }
  interpCache.set(key, m);
  return m;
}

/** Position embeddings for an h×h patch grid. */
function positions(tf: Tf, pos: Tensor, grid: number, h: number): Tensor {
  if (h === grid) return pos;
  const d = pos.shape[2]!;
  const cls = pos.slice([0, 0, 0], [1, 1, d]);
  const patch = pos.slice([0, 1, 0], [1, grid * grid, d]).reshape([grid * grid, d]);
  const m = tf.tensor2d(interpMatrix(grid, h), [h * h, grid * grid]);
  const resized = tf.matMul(m, patch as Tensor2D).reshape([1, h * h, d]);
  return tf.concat([cls, resized], 1);
}

/** [N, H, W, 3] → [N, (H/p)·(W/p), p·p·3] without a convolution (whose gradient wasm lacks). */
export function patchify(tf: Tf, x: Tensor4D, p: number): Tensor3D {
  const [n, h, w, c] = x.shape;
  const gh = h / p;
  const gw = w / p;
  return x
    .reshape([n, gh, p, gw, p, c])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([n, gh * gw, p * p * c]) as Tensor3D;
}

/** Per-sample keep decisions (1 keep, 0 drop) for one residual branch of one block. */
export type DropPathMask = (block: number, branch: 0 | 1, n: number, rate: number) => Uint8Array;

export interface ForwardOptions {
  /** Stochastic depth: a generator (or a mask function) deciding which samples skip each residual branch; none = eval. */
  dropPath?: Rng | DropPathMask;
  /**
   * Masked patches (iBOT): `rows` holds 1 for each of the n·(H/p)·(W/p) patches to replace by `token` ([1, 1, d]),
   * before the position embeddings are added, so a masked patch still knows where it is.
   */
  mask?: { rows: Float32Array; token: Tensor };
}

export function vitForward(tf: Tf, p: Params, cfg: ViTConfig, x: Tensor4D, opts: ForwardOptions = {}, prefix = 'vit.'): ViTOutput {
  const [n, h, w] = x.shape;
  if (h !== w || h % cfg.patch) throw new Error(`ViT input ${h}×${w}: expected a square multiple of ${cfg.patch}`);
  const d = cfg.width;
  const heads = cfg.heads;
  const hd = d / heads;
  const grid = cfg.imageSize / cfg.patch;
  const g = h / cfg.patch;
  const t = 1 + g * g;

  let z = linear(tf, patchify(tf, x, cfg.patch), p.get(`${prefix}patch.w`), p.get(`${prefix}patch.b`));
  if (opts.mask) {
    if (opts.mask.rows.length !== n * g * g) throw new Error(`mask of ${opts.mask.rows.length} patches for ${n}×${g * g}`);
    const m = tf.tensor3d(opts.mask.rows, [n, g * g, 1]);
    z = tf.add(tf.mul(z, tf.sub(1, m)), tf.mul(m, opts.mask.token));
  }
  const cls = tf.tile(p.get(`${prefix}cls`), [n, 1, 1]);
  z = tf.add(tf.concat([cls, z], 1), positions(tf, p.get(`${prefix}pos`), grid, g));

  const dropPath = (x: Tensor, rate: number, block: number, branch: 0 | 1): Tensor => {
    const dp = opts.dropPath;
    if (!dp || rate <= 0) return x;
    const keep = new Float32Array(n);
    if (typeof dp === 'function') {
      const m = dp(block, branch, n, rate);
      for (let i = 0; i < n; i++) keep[i] = m[i] ? 1 / (1 - rate) : 0;
    } else for (let i = 0; i < n; i++) keep[i] = dp.next() >= rate ? 1 / (1 - rate) : 0;
    return tf.mul(x, tf.tensor3d(keep, [n, 1, 1]));
  };

  for (let i = 0; i < cfg.depth; i++) {
    const b = `${prefix}blocks.${i}.`;
    const rate = cfg.depth > 1 ? (cfg.dropPath * i) / (cfg.depth - 1) : cfg.dropPath;
    // Attention branch.
    const a = layerNorm(tf, z, p.get(`${b}norm1.g`), p.get(`${b}norm1.b`), cfg.layerNormEps);
    const qkv = linear(tf, a, p.get(`${b}qkv.w`), p.get(`${b}qkv.b`)).reshape([n, t, 3, heads, hd]).transpose([2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(qkv, 0) as [Tensor, Tensor, Tensor];
    const scores = tf.mul(tf.matMul(q as never, k as never, false, true), 1 / Math.sqrt(hd)) as Tensor;
    const attn = softmax(tf, scores);
    const o = (tf.matMul(attn as never, v as never) as Tensor).transpose([0, 2, 1, 3]).reshape([n, t, d]);
    z = tf.add(z, dropPath(linear(tf, o, p.get(`${b}proj.w`), p.get(`${b}proj.b`)), rate, i, 0));
    // MLP branch.
    const m = layerNorm(tf, z, p.get(`${b}norm2.g`), p.get(`${b}norm2.b`), cfg.layerNormEps);
    const hid = gelu(tf, linear(tf, m, p.get(`${b}fc1.w`), p.get(`${b}fc1.b`)));
    z = tf.add(z, dropPath(linear(tf, hid, p.get(`${b}fc2.w`), p.get(`${b}fc2.b`)), rate, i, 1));
  }
  z = layerNorm(tf, z, p.get(`${prefix}norm.g`), p.get(`${prefix}norm.b`), cfg.layerNormEps);
  return {
    cls: z.slice([0, 0, 0], [n, 1, d]).reshape([n, d]) as Tensor2D,
    patches: z.slice([0, 1, 0], [n, t - 1, d]) as Tensor3D,
  };
}
