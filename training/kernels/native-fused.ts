// The AdamW update, the EMA teacher update and the gradient norms over all parameters, each in one call to the
// native/ addon instead of ~12 (AdamW), 3 (EMA) and 2 + a read (norm) tf ops per parameter; and GELU as one kernel
// forward and one backward (tf.customGrad) instead of 5 and ~9; likewise layer norm, softmax and log-softmax; and
// (with the native matmul) the bias of `linear` inside the matmul's output. The optimiser, the EMA and params.ts ask
// `fusedOps(tf)`; installMatmul sets it whenever the addon loads (after a self-test) and clears it otherwise, so the
// tf-op code stays the reference and the fallback. The new values go to freshly allocated heap tensors that are
// then assigned, as the tf ops do: nothing is written into a tensor another may share.
import type { Tensor, Variable } from '@tensorflow/tfjs';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Tf } from '../../src/backend.ts';
import type { KernelArgs, WasmBackendLike, WasmKernel } from './wasm-internals.ts';

export interface FusedAddon {
  adamw(heap: Uint8Array, offsets: Uint32Array, sizes: Uint32Array, coefs: Float32Array, beta1: number, beta1c: number, beta2: number, beta2c: number, eps: number): void;
  ema(heap: Uint8Array, offsets: Uint32Array, sizes: Uint32Array, momentum: number, rest: number): void;
  sumSquares(heap: Uint8Array, offsets: Uint32Array, sizes: Uint32Array): Float64Array;
  gelu(heap: Uint8Array, xOffset: number, outOffset: number, n: number): void;
  layerNorm(heap: Uint8Array, xOffset: number, gOffset: number, bOffset: number, outOffset: number, rows: number, d: number, eps: number): void;
  layerNormGrad(
    heap: Uint8Array, dyOffset: number, xOffset: number, gOffset: number, dxOffset: number, dgOffset: number, dbOffset: number,
    rows: number, d: number, eps: number,
  ): void;
  geluGrad(heap: Uint8Array, dyOffset: number, xOffset: number, outOffset: number, n: number): void;
  softmax(heap: Uint8Array, log: boolean, xOffset: number, outOffset: number, rows: number, d: number): void;
  softmaxGrad(heap: Uint8Array, log: boolean, dyOffset: number, yOffset: number, dxOffset: number, rows: number, d: number): void;
}

export interface AdamWEntry {
  p: Variable;
  g: Tensor;
  m: Variable;
  v: Variable;
  /** Multiplies the gradient (1: none). */
  gradScale: number;
  /** Multiplies the parameter before the step: 1 − lr·wd, or 1. */
  decay: number;
  /** lr / (1 − β1^t). */
  stepSize: number;
  /** √(1 − β2^t). */
  sqrtBc2: number;
}

export interface FusedOps {
  adamw(entries: AdamWEntry[], beta1: number, beta2: number, eps: number): void;
  ema(pairs: Array<[teacher: Variable, student: Tensor]>, momentum: number): void;
  sumSquares(tensors: Tensor[]): Float64Array;
  /** Exact GELU with its gradient; needs the kernels of `fusedKernels` registered. */
  gelu(x: Tensor): Tensor;
  /** Layer norm over the last axis with its gradients in x, g and b; needs the kernels of `fusedKernels`. */
  layerNorm(x: Tensor, g: Tensor, b: Tensor, eps: number): Tensor;
  /** Softmax over the last axis, one kernel each way. */
  softmax(x: Tensor): Tensor;
  /** Log-softmax over the last axis, one kernel each way. */
  logSoftmax(x: Tensor): Tensor;
  /**
   * x·W + b for rank-2 x, W and rank-1 b: the bias in the native matmul's output (one _FusedMatMul), its gradient one
   * row-sum. Only where the native matmul is installed (undefined on the explicit-transpose fallback).
   */
  linear?(x: Tensor, w: Tensor, b: Tensor): Tensor;
}

export const GELU = 'ProsGelu';
export const GELU_GRAD = 'ProsGeluGrad';
export const LAYER_NORM = 'ProsLayerNorm';
export const LAYER_NORM_GRAD = 'ProsLayerNormGrad';
export const SOFTMAX = 'ProsSoftmax';
export const SOFTMAX_GRAD = 'ProsSoftmaxGrad';
export const FUSED_KERNELS = [GELU, GELU_GRAD, LAYER_NORM, LAYER_NORM_GRAD, SOFTMAX, SOFTMAX_GRAD];

/** The wasm kernels behind FusedOps.gelu and .layerNorm: float32 only (params.ts uses them for float32 alone). */
export function fusedKernels(addon: FusedAddon): Array<{ name: string; kernel: WasmKernel }> {
  const off = (b: WasmBackendLike, t: TensorInfo) => {
    const d = b.dataIdMap.get(t.dataId);
    if (!d || d.memoryOffset == null || t.dtype !== 'float32') throw new Error('gelu: expected a float32 tensor on the wasm heap');
    return d.memoryOffset;
  };
  return [
    {
      name: GELU,
      kernel: ({ inputs, backend }: KernelArgs) => {
        const out = backend.makeOutput(inputs.x.shape.slice(), 'float32');
        addon.gelu(backend.wasm.HEAPU8, off(backend, inputs.x), off(backend, out), out.shape.reduce((a, b) => a * b, 1));
        return out;
      },
    },
    {
      name: GELU_GRAD,
      kernel: ({ inputs, backend }: KernelArgs) => {
        if (String(inputs.dy.shape) !== String(inputs.x.shape)) throw new Error('gelu gradient: dy and x differ in shape');
        const out = backend.makeOutput(inputs.x.shape.slice(), 'float32');
        addon.geluGrad(backend.wasm.HEAPU8, off(backend, inputs.dy), off(backend, inputs.x), off(backend, out), out.shape.reduce((a, b) => a * b, 1));
        return out;
      },
    },
    {
      name: LAYER_NORM,
      kernel: ({ inputs, backend, attrs }: KernelArgs) => {
        const { x, g, b } = inputs;
        const d = x.shape[x.shape.length - 1];
        if (g.shape.length !== 1 || b.shape.length !== 1 || g.shape[0] !== d || b.shape[0] !== d) throw new Error('layerNorm: g and b must be [d]');
        const out = backend.makeOutput(x.shape.slice(), 'float32');
        addon.layerNorm(backend.wasm.HEAPU8, off(backend, x), off(backend, g), off(backend, b), off(backend, out), out.shape.reduce((p, q) => p * q, 1) / d, d, attrs.eps as number);
        return out;
      },
    },
    {
      name: LAYER_NORM_GRAD,
      kernel: (({ inputs, backend, attrs }: KernelArgs) => {
        const { dy, x, g } = inputs;
        const d = x.shape[x.shape.length - 1];
        if (String(dy.shape) !== String(x.shape) || g.shape[0] !== d) throw new Error('layerNorm gradient: shapes differ');
        const dx = backend.makeOutput(x.shape.slice(), 'float32');
        const dg = backend.makeOutput([d], 'float32');
        const db = backend.makeOutput([d], 'float32');
        const rows = x.shape.reduce((p, q) => p * q, 1) / d;
        addon.layerNormGrad(backend.wasm.HEAPU8, off(backend, dy), off(backend, x), off(backend, g), off(backend, dx), off(backend, dg), off(backend, db), rows, d, attrs.eps as number);
        return [dx, dg, db];
      }) as unknown as WasmKernel,
    },
    {
      // attrs.log: log-softmax. Over the last axis.
      name: SOFTMAX,
      kernel: ({ inputs, backend, attrs }: KernelArgs) => {
        const { x } = inputs;
        const d = x.shape[x.shape.length - 1];
        const out = backend.makeOutput(x.shape.slice(), 'float32');
        const n = out.shape.reduce((p, q) => p * q, 1);
        if (n > 0) addon.softmax(backend.wasm.HEAPU8, attrs.log === true, off(backend, x), off(backend, out), n / d, d);
        return out;
      },
    },
    {
      name: SOFTMAX_GRAD,
      kernel: ({ inputs, backend, attrs }: KernelArgs) => {
        const { dy, y } = inputs;
        if (String(dy.shape) !== String(y.shape)) throw new Error('softmax gradient: dy and y differ in shape');
        const d = y.shape[y.shape.length - 1];
        const out = backend.makeOutput(y.shape.slice(), 'float32');
        const n = out.shape.reduce((p, q) => p * q, 1);
        if (n > 0) addon.softmaxGrad(backend.wasm.HEAPU8, attrs.log === true, off(backend, dy), off(backend, y), off(backend, out), n / d, d);
        return out;
      },
    },
  ];
}

const installed = new WeakMap<object, FusedOps>();

/** The fused ops installed for this tf, or undefined (then the tf-op code runs). */
export function fusedOps(tf: Tf): FusedOps | undefined {
  return tf.getBackend() === 'wasm' ? installed.get(tf) : undefined;
}

export function setFusedOps(tf: Tf, ops: FusedOps | undefined): void {
  if (ops) installed.set(tf, ops);
  else installed.delete(tf);
}

/** `matmul`: the native _FusedMatMul is registered, so `linear` can put the bias in its output. */
export function nativeFusedOps(tf: Tf, addon: FusedAddon, matmul = false): FusedOps {
  const backend = () => tf.backend() as unknown as WasmBackendLike;
  const offset = (b: WasmBackendLike, t: { dataId: object }): number => {
    const d = b.dataIdMap.get(t.dataId);
    if (!d || d.memoryOffset == null) throw new Error('fused op: tensor has no wasm heap offset');
    return d.memoryOffset;
  };
  const check = (t: Tensor) => {
    if (t.dtype !== 'float32') throw new Error(`fused op: ${t.dtype} tensor, expected float32`);
  };
  // Outputs are allocated first (allocation may grow the memory and replace HEAPU8), offsets read after.
  const assignAll = (targets: Variable[], infos: TensorInfo[]) => {
    const engine = tf.engine();
    for (let i = 0; i < targets.length; i++) {
      const t = engine.makeTensorFromTensorInfo(infos[i]);
      targets[i].assign(t);
      t.dispose();
    }
  };
  const engine = tf.engine();
  const gelu = tf.customGrad(((x: Tensor, save: (t: Tensor[]) => void) => {
    save([x]);
    return {
      value: engine.runKernel(GELU, { x }, {}) as Tensor,
      gradFunc: (dy: Tensor, saved: Tensor[]) => engine.runKernel(GELU_GRAD, { dy, x: saved[0] }, {}) as Tensor,
    };
  }) as never) as unknown as (x: Tensor) => Tensor;
  const layerNorms = new Map<number, (x: Tensor, g: Tensor, b: Tensor) => Tensor>();
  const layerNorm = (eps: number) => {
    let f = layerNorms.get(eps);
    if (!f) {
      f = tf.customGrad(((x: Tensor, g: Tensor, b: Tensor, save: (t: Tensor[]) => void) => {
        save([x, g]);
        return {
          value: engine.runKernel(LAYER_NORM, { x, g, b }, { eps }) as Tensor,
          gradFunc: (dy: Tensor, saved: Tensor[]) => engine.runKernel(LAYER_NORM_GRAD, { dy, x: saved[0], g: saved[1] }, { eps }) as Tensor[],
        };
      }) as never) as unknown as (x: Tensor, g: Tensor, b: Tensor) => Tensor;
      layerNorms.set(eps, f);
    }
    return f;
  };
  // The forward's output is what both gradients need (tfjs's own Softmax and logSoftmax gradients use it too).
  const softmaxOf = (log: boolean) =>
    tf.customGrad(((x: Tensor, save: (t: Tensor[]) => void) => {
      const y = engine.runKernel(SOFTMAX, { x }, { log }) as Tensor;
      save([y]);
      return { value: y, gradFunc: (dy: Tensor, saved: Tensor[]) => engine.runKernel(SOFTMAX_GRAD, { dy, y: saved[0] }, { log }) as Tensor };
    }) as never) as unknown as (x: Tensor) => Tensor;
  const softmax = softmaxOf(false);
  const logSoftmax = softmaxOf(true);
  const linear = tf.customGrad(((x: Tensor, w: Tensor, b: Tensor, save: (t: Tensor[]) => void) => {
    save([x, w]);
    const value = engine.runKernel('_FusedMatMul', { a: x, b: w, bias: b }, { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0 }) as Tensor;
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => [
        tf.matMul(dy as never, saved[1] as never, false, true),
        tf.matMul(saved[0] as never, dy as never, true, false),
        tf.sum(dy, 0),
      ],
    };
  }) as never) as unknown as (x: Tensor, w: Tensor, b: Tensor) => Tensor;
  return {
    gelu,
    layerNorm: (x, g, b, eps) => layerNorm(eps)(x, g, b),
    softmax,
    logSoftmax,
    ...(matmul ? { linear } : {}),
    adamw(entries, beta1, beta2, eps) {
      if (entries.length === 0) return;
      const b = backend();
      const outs: TensorInfo[] = [];
      const targets: Variable[] = [];
      for (const e of entries) {
        for (const t of [e.p, e.g, e.m, e.v]) check(t);
        for (const t of [e.p, e.m, e.v]) {
          outs.push(b.makeOutput(t.shape.slice(), 'float32'));
          targets.push(t);
        }
      }
      const offsets = new Uint32Array(entries.length * 7);
      const sizes = new Uint32Array(entries.length);
      const coefs = new Float32Array(entries.length * 4);
      entries.forEach((e, i) => {
        offsets.set([offset(b, e.p), offset(b, e.g), offset(b, e.m), offset(b, e.v), offset(b, outs[3 * i]), offset(b, outs[3 * i + 1]), offset(b, outs[3 * i + 2])], 7 * i);
        sizes[i] = e.p.size;
        coefs.set([e.gradScale, e.decay, e.stepSize, e.sqrtBc2], 4 * i);
      });
      addon.adamw(b.wasm.HEAPU8, offsets, sizes, coefs, beta1, 1 - beta1, beta2, 1 - beta2, eps);
      assignAll(targets, outs);
    },
    ema(pairs, momentum) {
      if (pairs.length === 0) return;
      const b = backend();
      const outs = pairs.map(([t, s]) => {
        check(t);
        check(s);
        if (t.size !== s.size) throw new Error('fused ema: teacher and student sizes differ');
        return b.makeOutput(t.shape.slice(), 'float32');
      });
      const offsets = new Uint32Array(pairs.length * 3);
      const sizes = new Uint32Array(pairs.length);
      pairs.forEach(([t, s], i) => {
        offsets.set([offset(b, t), offset(b, s), offset(b, outs[i])], 3 * i);
        sizes[i] = t.size;
      });
      addon.ema(b.wasm.HEAPU8, offsets, sizes, momentum, 1 - momentum);
      assignAll(pairs.map(([t]) => t), outs);
    },
    sumSquares(tensors) {
      const b = backend();
      for (const t of tensors) check(t);
      return addon.sumSquares(b.wasm.HEAPU8, Uint32Array.from(tensors, (t) => offset(b, t)), Uint32Array.from(tensors, (t) => t.size));
    },
  };
}
