// Start-up self-tests of the native elementwise kernels (native-ops.ts) against the stock kernels they replace, and
// of the fused AdamW / EMA / norms (native-fused.ts) against the float32 arithmetic of the tf-op code. A kernel that
// fails keeps its stock version; the caller says which.
import type { Tensor } from '@tensorflow/tfjs';
import type { Tf } from '../../src/backend.ts';
import type { FusedOps } from './native-fused.ts';
import type { OpKernels } from './native-ops.ts';
import type { KernelArgs, WasmBackendLike, WasmKernel } from './wasm-internals.ts';

const TOL = 1e-5;

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]) !== Number.isNaN(got[i])) return Infinity;
    if (Number.isNaN(want[i])) continue;
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

type Case = { inputs: Record<string, number[]>; attrs: Record<string, unknown>; positive?: boolean };

const unaryCases: Case[] = [{ inputs: { x: [3, 37] }, attrs: {} }, { inputs: { x: [70000] }, attrs: {} }];
const binaryCases: Case[] = [
  [[4, 5], [4, 5]], [[2, 3, 4], [4]], [[2, 3, 4], [2, 3, 1]], [[1], [3, 4]], [[2, 1, 4], [3, 1]], [[5], []], [[], [2, 2]],
  [[3, 1, 5, 1], [1, 4, 1, 6]], [[300, 300], [300, 1]],
].map(([a, b]) => ({ inputs: { a, b }, attrs: {} }));
const reduceCases: Case[] = [
  { inputs: { x: [3, 4, 37] }, attrs: { axis: 2 } },
  { inputs: { x: [3, 4, 5] }, attrs: { axis: [0, 1] } },
  { inputs: { x: [3, 4, 5] }, attrs: { axis: -2, keepDims: true } },
  { inputs: { x: [3, 4, 5] }, attrs: { axis: null } },
  { inputs: { x: [3, 4, 5] }, attrs: { axis: [0, 2] } }, // not contiguous: the stock kernel runs
  { inputs: { x: [1000, 200] }, attrs: { axis: 0 } },
];
const unpackCases: Case[] = [0, 1, -1].map((axis) => ({ inputs: { value: [3, 4, 5] }, attrs: { axis } }));

const positiveOnly = new Set(['Log', 'Sqrt', 'Rsqrt', 'RealDiv']);

function casesFor(name: string): Case[] {
  if (['Sum', 'Mean', 'Max', 'Min'].includes(name)) {
    return reduceCases.map((c) => (name === 'Max' ? { ...c, attrs: { reductionIndices: c.attrs.axis, keepDims: c.attrs.keepDims } } : c));
  }
  if (name === 'Unpack') return unpackCases;
  return isBinary(name) ? binaryCases : unaryCases;
}

function isBinary(name: string): boolean {
  return ['Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference'].includes(name);
}

/** Null when `kernel` equals `stock` on every case, else what differed. */
export function opSelfTest(tf: Tf, backend: WasmBackendLike, name: string, kernel: WasmKernel, stock: WasmKernel): string | null {
  const read = (t: { dataId: object }) => (backend as unknown as { readSync(id: object): Float32Array }).readSync(t.dataId);
  let seed = 21;
  for (const c of casesFor(name)) {
    const lo = positiveOnly.has(name) ? 0.1 : -3;
    const made = Object.fromEntries(Object.entries(c.inputs).map(([k, shape]) => [k, tf.randomUniform(shape, lo, 3, 'float32', seed++)]));
    const outs: Array<{ dataId: object; shape: number[] }> = [];
    try {
      const args = { inputs: made, backend, attrs: c.attrs } as unknown as KernelArgs;
      const wantRaw = stock(args) as unknown;
      const want = (Array.isArray(wantRaw) ? wantRaw : [wantRaw]) as typeof outs;
      outs.push(...want);
      const gotRaw = kernel(args) as unknown;
      const got = (Array.isArray(gotRaw) ? gotRaw : [gotRaw]) as typeof outs;
      outs.push(...got);
      if (got.length !== want.length) return `${name}: ${got.length} outputs, stock ${want.length}`;
      for (let i = 0; i < got.length; i++) {
        if (String(got[i].shape) !== String(want[i].shape)) return `${name}: shape [${got[i].shape}] vs stock [${want[i].shape}] for ${JSON.stringify(c)}`;
        const err = relErr(read(got[i]), read(want[i]));
        if (!(err <= TOL)) return `${name}: relative error ${err.toExponential(2)} for ${JSON.stringify(c)}`;
      }
    } catch (e) {
      return `${name}: ${(e as Error).message} for ${JSON.stringify(c)}`;
    } finally {
      for (const o of outs) backend.disposeData(o.dataId);
      for (const t of Object.values(made)) t.dispose();
    }
  }
  return null;
}

/** The kernels that pass, and one reason per kernel that does not. */
export function opsSelfTest(tf: Tf, backend: WasmBackendLike, kernels: OpKernels[], stock: (name: string) => WasmKernel): { passed: OpKernels[]; failed: string[] } {
  const passed: OpKernels[] = [];
  const failed: string[] = [];
  for (const k of kernels) {
    const why = opSelfTest(tf, backend, k.name, k.kernel, stock(k.name));
    if (why) failed.push(why);
    else passed.push(k);
  }
  return { passed, failed };
}

/** The fused ops against the tf-op code's float32 arithmetic, emulated here with Math.fround. */
export function fusedSelfTest(tf: Tf, fused: FusedOps): string | null {
  const f = Math.fround;
  const made: Tensor[] = [];
  const vals = (n: number, seed: number, lo = -1) => {
    const t = tf.randomUniform([n], lo, 1, 'float32', seed);
    made.push(t);
    return t.dataSync() as Float32Array;
  };
  try {
    const n = 37;
    const [p0, g0, m0, v0, t0] = [vals(n, 1), vals(n, 2), vals(n, 3), vals(n, 4, 0), vals(n, 5)];
    const vars = [p0, m0, v0, t0].map((d) => tf.variable(tf.tensor(d), false));
    const g = tf.tensor(g0);
    made.push(...vars, g);
    const [b1, b2, eps, decay, stepSize, sqrtBc2] = [0.9, 0.999, 1e-8, 1 - 0.01 * 0.04, 0.01 / (1 - 0.9 ** 3), Math.sqrt(1 - 0.999 ** 3)];
    fused.adamw([{ p: vars[0], g, m: vars[1], v: vars[2], gradScale: 1, decay, stepSize, sqrtBc2 }], b1, b2, eps);
    fused.ema([[vars[3], vars[0]]], 0.99);
    const sq = fused.sumSquares([g])[0];
    const want = { p: new Float32Array(n), m: new Float32Array(n), v: new Float32Array(n), t: new Float32Array(n) };
    let wantSq = 0;
    for (let i = 0; i < n; i++) {
      const m1 = f(f(m0[i] * f(b1)) + f(g0[i] * f(1 - b1)));
      const v1 = f(f(v0[i] * f(b2)) + f(f(g0[i] * g0[i]) * f(1 - b2)));
      const denom = f(f(f(Math.sqrt(v1)) / f(sqrtBc2)) + f(eps));
      want.p[i] = f(f(p0[i] * f(decay)) - f(f(m1 / denom) * f(stepSize)));
      want.m[i] = m1;
      want.v[i] = v1;
      want.t[i] = f(f(t0[i] * f(0.99)) + f(want.p[i] * f(1 - 0.99)));
      wantSq += g0[i] * g0[i];
    }
    const got = { p: vars[0].dataSync(), m: vars[1].dataSync(), v: vars[2].dataSync(), t: vars[3].dataSync() };
    for (const k of ['p', 'm', 'v', 't'] as const) {
      const err = relErr(got[k], want[k]);
      if (!(err <= 1e-6)) return `fused ${k === 't' ? 'EMA' : `AdamW ${k}`}: relative error ${err.toExponential(2)}`;
    }
    if (!(Math.abs(sq - wantSq) <= 1e-6 * wantSq)) return `fused sumSquares: ${sq} vs ${wantSq}`;
    return fusedGradSelfTest(tf, fused);
  } catch (e) {
    return `fused ops: ${(e as Error).message}`;
  } finally {
    for (const t of made) t.dispose();
  }
}

type Fn = (...xs: Tensor[]) => Tensor;

/**
 * Value and gradients of each fused op (GELU, layer norm, softmax, log-softmax, the biased linear) against the tf-op
 * chain it replaces, run on the kernels registered when called (stock, before the native elementwise kernels).
 */
function fusedGradSelfTest(tf: Tf, fused: FusedOps): string | null {
  const rnd = (shape: number[], seed: number) => tf.randomUniform(shape, -2, 2, 'float32', seed);
  const cases: Array<[string, Fn, Fn, number[][]]> = [
    ['GELU', (x) => fused.gelu(x), (x) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)), [[3, 5, 7]]],
    ['layer norm', (x, g, b) => fused.layerNorm(x, g, b, 1e-6), (x, g, b) => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-6))), g), b);
    }, [[4, 3, 9], [9], [9]]],
    ['softmax', (x) => fused.softmax(x), (x) => tf.softmax(x, -1), [[2, 3, 5, 13]]],
    ['log-softmax', (x) => fused.logSoftmax(x), (x) => tf.logSoftmax(x, -1), [[6, 33]]],
  ];
  if (fused.linear) cases.push(['bias in matmul', fused.linear, (x, w, b) => tf.add(tf.matMul(x as never, w as never), b), [[7, 5], [5, 6], [6]]]);
  for (const [name, mine, ref, shapes] of cases) {
    let why = null as string | null;
    tf.tidy(() => {
      const xs = shapes.map((s, i) => rnd(s, 40 + i));
      const weight = rnd(ref(...xs).shape, 50);
      const run = (f: Fn) => {
        const { value, grads } = tf.valueAndGrads((...a: Tensor[]) => tf.sum(tf.mul(f(...a), weight)))(xs);
        return [f(...xs), value, ...grads].map((t) => t.dataSync());
      };
      try {
        const got = run(mine);
        const want = run(ref);
        for (let i = 0; i < want.length; i++) {
          const err = relErr(got[i], want[i]);
          if (!(err <= TOL)) {
            why = `fused ${name}: ${i === 0 ? 'value' : i === 1 ? 'weighted sum' : `gradient ${i - 2}`} relative error ${err.toExponential(2)}`;
            return;
          }
        }
      } catch (e) {
        why = `fused ${name}: ${(e as Error).message}`;
      }
    });
    if (why) return why;
  }
  return null;
}
