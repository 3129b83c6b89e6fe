// The native elementwise kernels (training/kernels/native-ops.ts) and the fused AdamW / EMA / norms
// (native-fused.ts) against tfjs-backend-wasm's stock kernels: random shapes with every broadcasting pattern,
// reductions over each contiguous block of axes with and without keepDims, Unpack on every axis, the cases handed to
// the stock kernel (int32, non-contiguous axes, zero size), gradients through them, and the self-test catching a
// wrong kernel. Needs the addon (PROS_SKIP_NATIVE=1 skips visibly; CI builds it).
import test from 'ava';
import type { Tensor } from '@tensorflow/tfjs';
import { loadBackend } from '../../src/backend.ts';
import { installMatmul, relativeError, uninstallMatmul, type MatmulPreference } from '../../training/kernels/install.ts';
import { fusedOps } from '../../training/kernels/native-fused.ts';
import { opSelfTest } from '../../training/kernels/ops-self-test.ts';
import { stockKernels, type WasmBackendLike } from '../../training/kernels/wasm-internals.ts';
import { AdamW, clipGradients } from '../../training/optimizer.ts';
import { emaUpdate } from '../../training/ema.ts';
import { Params, gelu, layerNorm } from '../../training/params.ts';
import { testIf } from '../helpers/requires.ts';

const { tf } = await loadBackend('wasm', { quiet: true });
const nativeTest = testIf(process.env.PROS_SKIP_NATIVE !== '1', 'PROS_SKIP_NATIVE=1: the native addon was not built', { serial: true });
// exp and erf are polynomial approximations natively (≤ 2e-7 from the exact values); the rest is exact float32.
const TOL = 1e-6;

function on<T>(prefer: MatmulPreference, fn: () => T): T {
  const r = installMatmul(tf, { prefer, quiet: true, blasThreads: 2 });
  if (prefer === 'native' && !/native ops: 21 kernels/.test(r.reason)) throw new Error(`native ops not installed: ${r.reason}`);
  try {
    let out!: T;
    tf.tidy(() => {
      out = fn();
    });
    return out;
  } finally {
    uninstallMatmul(tf);
  }
}

let seed = 100;
/** A shape with random sizes 1..5 per axis (rank 0..5), or with some axes forced to 1. */
function randomShape(rank: number, rnd: () => number): number[] {
  return Array.from({ length: rank }, () => 1 + Math.floor(rnd() * 5));
}
function lcg(s: number) {
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
}
const rand = (shape: number[], lo = -3, hi = 3) => tf.randomUniform(shape, lo, hi, 'float32', seed++);

type Case = [what: string, fn: () => Tensor | Tensor[]];
type T = { true(v: boolean, m: string): void; deepEqual(a: unknown, b: unknown, m: string): void };

/** Runs every case on the stock kernels, then on the native ones (one install each: the self-test runs per install). */
function compareAll(t: T, cases: Case[]) {
  const read = (x: Tensor | Tensor[]) => (Array.isArray(x) ? x : [x]).map((y) => ({ shape: y.shape, dtype: y.dtype, data: Array.from(y.dataSync()) }));
  const want = on('stock', () => cases.map(([, fn]) => read(fn())));
  const got = on('native', () => cases.map(([, fn]) => read(fn())));
  cases.forEach(([what], c) => {
    t.deepEqual(got[c].map((g) => [g.shape, g.dtype]), want[c].map((w) => [w.shape, w.dtype]), `${what}: shapes`);
    for (let i = 0; i < want[c].length; i++) {
      const err = relativeError(got[c][i].data, want[c][i].data);
      t.true(err <= TOL, `${what}: relative error ${err}`);
    }
  });
}

nativeTest('binary ops broadcast like the stock kernels on random shapes', (t) => {
  const rnd = lcg(5);
  const ops: Array<[string, (a: Tensor, b: Tensor) => Tensor]> = [
    ['add', tf.add], ['sub', tf.sub], ['mul', tf.mul], ['div', tf.div], ['maximum', tf.maximum], ['minimum', tf.minimum],
    ['squaredDifference', tf.squaredDifference],
  ];
  const cases: Case[] = [];
  const made: Tensor[] = [];
  for (let k = 0; k < 40; k++) {
    const rank = Math.floor(rnd() * 6);
    const out = randomShape(rank, rnd);
    // Each operand: a suffix of the output shape with some axes set to 1.
    const operand = () => out.slice(Math.floor(rnd() * (rank + 1))).map((d) => (rnd() < 0.35 ? 1 : d));
    const as = operand();
    const bs = operand();
    const a = rand(as);
    const b = rand(bs, 0.5, 3);
    made.push(a, b);
    for (const [name, op] of ops) cases.push([`${name} [${as}] [${bs}]`, () => op(a, b)]);
  }
  // Large enough to be split over threads, with a row broadcast and a column broadcast.
  const big = rand([300, 257]);
  const row = rand([257]);
  const col = rand([300, 1]);
  cases.push(['mul big×row', () => tf.mul(big, row)], ['add big+col', () => tf.add(big, col)]);
  compareAll(t, cases);
  tf.dispose([...made, big, row, col]);
  t.true(cases.length >= 280);
});

nativeTest('unary ops equal the stock kernels (exp, erf over their whole float range)', (t) => {
  const x = rand([7, 1001], -12, 12);
  const pos = rand([7, 1001], 1e-3, 50);
  const edge = tf.tensor1d([0, -0, 1e-30, -1e-30, 0.49999, 0.5, 3.9, 4, 20, -20, 88, -87, -103, -110, -1e30]);
  const cases: Case[] = [];
  for (const [name, fn] of [['exp', tf.exp], ['erf', tf.erf], ['neg', tf.neg], ['square', tf.square], ['abs', tf.abs], ['sigmoid', tf.sigmoid]] as const) {
    cases.push([name, () => fn(x)]);
  }
  for (const [name, fn] of [['exp', tf.exp], ['erf', tf.erf], ['sigmoid', tf.sigmoid]] as const) cases.push([`${name} edge values`, () => fn(edge)]);
  for (const [name, fn] of [['log', tf.log], ['sqrt', tf.sqrt], ['rsqrt', tf.rsqrt]] as const) cases.push([name, () => fn(pos)]);
  compareAll(t, cases);
  const special = on('native', () => Array.from(tf.exp(tf.tensor1d([1e30, 89, NaN, -Infinity])).dataSync()));
  t.deepEqual(special, [Infinity, Infinity, NaN, 0]);
  // exp of large arguments is compared relative to each value, not to the largest.
  const big = on('native', () => Array.from(tf.exp(tf.tensor1d([-85, -80, -40, -5, 5, 40, 80, 88.5])).dataSync()));
  for (const [i, v] of [-85, -80, -40, -5, 5, 40, 80, 88.5].entries()) t.true(Math.abs(big[i] / Math.exp(v) - 1) < 1e-6, `exp(${v}) = ${big[i]}`);
  tf.dispose([x, pos, edge]);
});

nativeTest('reductions over every contiguous block of axes, keepDims, and the cases left to the stock kernel', (t) => {
  const x = rand([3, 4, 5, 6]);
  const cases: Case[] = [];
  for (let first = 0; first < 4; first++) {
    for (let last = first; last < 4; last++) {
      const axes = Array.from({ length: last - first + 1 }, (_, i) => first + i);
      for (const keepDims of [false, true]) {
        cases.push([`sum ${axes} ${keepDims}`, () => tf.sum(x, axes, keepDims)]);
        cases.push([`mean ${axes} ${keepDims}`, () => tf.mean(x, axes, keepDims)]);
        cases.push([`max ${axes} ${keepDims}`, () => tf.max(x, axes, keepDims)]);
        cases.push([`min ${axes} ${keepDims}`, () => tf.min(x, axes, keepDims)]);
      }
    }
  }
  const wide = rand([1000, 300]);
  cases.push(
    ['sum all', () => tf.sum(x)],
    ['sum negative axis', () => tf.sum(x, -1)],
    ['sum non-contiguous axes (stock)', () => tf.sum(x, [0, 2])],
    ['sum int32 (stock)', () => tf.sum(tf.tensor2d([[1, 2], [3, 4]], [2, 2], 'int32'), 1)],
    ['sum of a zero-size tensor (stock)', () => tf.sum(tf.zeros([0, 3]), 1)],
    ['column sum, threaded', () => tf.sum(wide, 0)],
    ['row mean, threaded', () => tf.mean(wide, 1)],
  );
  compareAll(t, cases);
  tf.dispose([x, wide]);
});

nativeTest('unpack on every axis (float32 and int32) and binary ops on int32 (stock) equal the stock kernels', (t) => {
  const x = rand([3, 4, 5]);
  const xi = tf.tensor3d(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4], 'int32');
  compareAll(t, [
    ...[0, 1, 2, -1].map((axis): Case => [`unstack axis ${axis}`, () => tf.unstack(x, axis)]),
    ['unstack int32', () => tf.unstack(xi, 1)],
    ['add int32', () => tf.add(xi, tf.scalar(3, 'int32'))],
  ]);
  tf.dispose([x, xi]);
});

nativeTest('gradients through the native kernels equal the stock ones (GELU, layer norm, softmax)', (t) => {
  const x = rand([4, 9, 16]);
  const g = rand([16]);
  const f = (v: Tensor) => {
    const { mean, variance } = tf.moments(v, -1, true);
    const n = tf.add(tf.mul(tf.mul(tf.sub(v, mean), tf.rsqrt(tf.add(variance, 1e-6))), g), 0.1);
    const gelu = tf.mul(tf.mul(n, 0.5), tf.add(tf.erf(tf.mul(n, Math.SQRT1_2)), 1));
    return tf.sum(tf.mul(tf.logSoftmax(gelu, -1), tf.softmax(tf.mul(v, 2), -1)));
  };
  compareAll(t, [['value and gradient', () => {
    const { value, grad } = tf.valueAndGrad(f)(x);
    return [value, grad];
  }]]);
  tf.dispose([x, g]);
});

nativeTest('fused GELU: value and gradient equal the stock tf-op chain, through a ViT-sized MLP', (t) => {
  const x = rand([2, 65, 768], -6, 6);
  const w1 = rand([768, 64], -0.1, 0.1);
  compareAll(t, [
    ['gelu value', () => gelu(tf, x)],
    ['gelu of int32 (the tf-op chain)', () => gelu(tf, tf.tensor1d([-2, 0, 3], 'int32'))],
    ['gelu gradients through a matmul', () => tf.grads((v: Tensor, w: Tensor) => tf.sum(tf.square(tf.matMul(gelu(tf, v).reshape([-1, 768]) as never, w as never))))([x, w1])],
    ['gelu input gradient', () => tf.grad((v: Tensor) => tf.sum(tf.mul(gelu(tf, v), tf.sin(v))))(x)],
  ]);
  // The fused path is the one taken: one kernel forward.
  const made = on('native', () => {
    const before = tf.memory().numTensors;
    const y = gelu(tf, x);
    return [y.shape, tf.memory().numTensors - before];
  });
  t.deepEqual(made, [[2, 65, 768], 1], 'one tensor made: a single fused kernel, not the 5-op chain');
  tf.dispose([x, w1]);
});

nativeTest('fused layer norm: value and gradients in x, g and b equal the stock tf-op chain', (t) => {
  const cases: Case[] = [];
  const made: Tensor[] = [];
  for (const [shape, eps] of [[[2, 65, 192], 1e-6], [[7, 5], 1e-5], [[1, 1, 3], 1e-6], [[64, 65, 192], 1e-6]] as Array<[number[], number]>) {
    const d = shape[shape.length - 1];
    const x = rand(shape);
    const g = rand([d], 0.5, 1.5);
    const b = rand([d], -1, 1);
    const w = rand(shape, -1, 1);
    made.push(x, g, b, w);
    cases.push(
      [`layerNorm ${shape} value`, () => layerNorm(tf, x, g, b, eps)],
      [`layerNorm ${shape} gradients`, () => tf.grads((v: Tensor, gg: Tensor, bb: Tensor) => tf.sum(tf.mul(layerNorm(tf, v, gg, bb, eps), w)))([x, g, b])],
    );
  }
  compareAll(t, cases);
  const made1 = on('native', () => {
    const before = tf.memory().numTensors;
    layerNorm(tf, made[0], made[1], made[2], 1e-6);
    return tf.memory().numTensors - before;
  });
  t.is(made1, 1, 'one tensor made: a single fused kernel, not the chain of ~10');
  tf.dispose(made);
});

nativeTest('fused AdamW, EMA and clip norms equal the tf-op path over several steps', (t) => {
  const shapes: Record<string, number[]> = { w: [33, 17], b: [17], c: [5, 4] };
  const run = (prefer: MatmulPreference) => {
    installMatmul(tf, { prefer, quiet: true });
    try {
      t.is(fusedOps(tf) !== undefined, prefer === 'native', `${prefer}: fused ops installed`);
      const student = new Params(tf);
      const teacher = new Params(tf);
      let s = 3;
      const init = (n: number) => Float32Array.from({ length: n }, () => ((s = (s * 69069 + 1) % 4294967296) / 4294967296 - 0.5));
      for (const [name, shape] of Object.entries(shapes)) {
        const data = init(shape.reduce((a, b) => a * b, 1));
        student.add(name, shape, data);
        teacher.add(name, shape, data);
      }
      const opt = new AdamW(tf, student.vars, { beta1: 0.9, beta2: 0.999, eps: 1e-8 }, new Set(['c']));
      const norms: number[] = [];
      for (let step = 0; step < 4; step++) {
        const grads = new Map([...student.vars].map(([name, v]) => [name, tf.tensor(init(v.size).map((x) => x * (step + 1) * 3), v.shape)]));
        norms.push(clipGradients(tf, grads, 1.5, 'per-parameter', new Set(['c'])));
        opt.step(grads, 0.01, step % 2 ? 0.04 : 0);
        emaUpdate(tf, teacher, student, 0.9);
        for (const g of grads.values()) g.dispose();
      }
      const out = { norms, student: new Map([...student.vars].map(([n, v]) => [n, v.dataSync() as Float32Array])), teacher: new Map([...teacher.vars].map(([n, v]) => [n, v.dataSync() as Float32Array])), m: opt.m.get('w')!.dataSync() as Float32Array };
      student.dispose();
      teacher.dispose();
      opt.dispose();
      return out;
    } finally {
      uninstallMatmul(tf);
    }
  };
  const want = run('stock');
  const got = run('native');
  t.true(relativeError(got.norms, want.norms) <= 1e-6, `norms ${got.norms} vs ${want.norms}`);
  for (const name of Object.keys(shapes)) {
    t.true(relativeError(got.student.get(name)!, want.student.get(name)!) <= 1e-6, `student ${name}`);
    t.true(relativeError(got.teacher.get(name)!, want.teacher.get(name)!) <= 1e-6, `teacher ${name}`);
  }
  t.true(relativeError(got.m, want.m) <= 1e-6, 'first moment');
  t.is(fusedOps(tf), undefined, 'uninstall removes the fused ops');
});

nativeTest('the start-up self-test refuses a kernel that computes something else', (t) => {
  installMatmul(tf, { prefer: 'stock', quiet: true });
  const backend = tf.backend() as unknown as WasmBackendLike;
  const stock = stockKernels(tf).byName;
  const wrong = opSelfTest(tf, backend, 'Multiply', stock.get('Add')!, stock.get('Multiply')!);
  t.truthy(wrong);
  t.regex(wrong!, /^Multiply: relative error/);
  t.is(opSelfTest(tf, backend, 'Multiply', stock.get('Multiply')!, stock.get('Multiply')!), null);
  uninstallMatmul(tf);
});
