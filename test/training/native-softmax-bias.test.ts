// The fused softmax / log-softmax and the bias inside the native matmul (training/kernels/native-fused.ts,
// params.ts's softmax, logSoftmax and linear) against the stock kernels, value and gradients; and the native
// elementwise ops installed without OpenBLAS (the explicit-transpose fallback). Needs the addon (PROS_SKIP_NATIVE=1
// skips visibly; CI builds it).
import test from 'ava';
import type { Tensor } from '@tensorflow/tfjs';
import { loadBackend } from '../../src/backend.ts';
import { installMatmul, relativeError, uninstallMatmul, type InstallMatmulOptions } from '../../training/kernels/install.ts';
import { fusedOps } from '../../training/kernels/native-fused.ts';
import { stockKernels } from '../../training/kernels/wasm-internals.ts';
import { linear, logSoftmax, softmax } from '../../training/params.ts';
import { testIf } from '../helpers/requires.ts';

const { tf } = await loadBackend('wasm', { quiet: true });
const nativeTest = testIf(process.env.PROS_SKIP_NATIVE !== '1', 'PROS_SKIP_NATIVE=1: the native addon was not built', { serial: true });
const TOL = 1e-5;
let seed = 300;
const rand = (shape: number[], lo = -3, hi = 3) => tf.randomUniform(shape, lo, hi, 'float32', seed++);

function on<T>(opts: InstallMatmulOptions, fn: () => T): T {
  installMatmul(tf, { quiet: true, blasThreads: 2, ...opts });
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

const read = (x: Tensor | Tensor[]) => (Array.isArray(x) ? x : [x]).map((y) => ({ shape: y.shape, data: Array.from(y.dataSync()) }));

type Case = [what: string, fn: () => Tensor | Tensor[]];
function compare(t: { true(v: boolean, m: string): void; deepEqual(a: unknown, b: unknown, m: string): void }, cases: Case[], mine: InstallMatmulOptions) {
  const want = on({ prefer: 'stock' }, () => cases.map(([, fn]) => read(fn())));
  const got = on(mine, () => cases.map(([, fn]) => read(fn())));
  cases.forEach(([what], c) => {
    t.deepEqual(got[c].map((g) => g.shape), want[c].map((w) => w.shape), `${what}: shapes`);
    for (let i = 0; i < want[c].length; i++) {
      const err = relativeError(got[c][i].data, want[c][i].data);
      t.true(err <= TOL, `${what} [${i}]: relative error ${err}`);
    }
  });
}

/** The kernels one call runs (tf.profile), in order. */
function kernelsOf(opts: InstallMatmulOptions, fn: () => Tensor): Promise<string[]> {
  installMatmul(tf, { quiet: true, blasThreads: 2, ...opts });
  return tf.profile(() => fn()).then((p) => {
    uninstallMatmul(tf);
    return p.kernelNames.filter((k) => k !== 'Reshape' && k !== '');
  }, (e) => {
    uninstallMatmul(tf);
    throw e;
  });
}

nativeTest('fused softmax and log-softmax: values and gradients equal the stock ops (attention, losses, extremes)', (t) => {
  const cases: Case[] = [];
  const made: Tensor[] = [];
  for (const [shape, lo, hi] of [[[2, 3, 65, 65], -8, 8], [[20, 4096], -30, 30], [[1, 1], -1, 1], [[3, 7], -80, 80], [[5, 3, 2], -1e-3, 1e-3]] as Array<[number[], number, number]>) {
    const x = rand(shape, lo, hi);
    const w = rand(shape, -1, 1);
    made.push(x, w);
    cases.push(
      [`softmax ${shape}`, () => softmax(tf, x)],
      [`log-softmax ${shape}`, () => logSoftmax(tf, x)],
      [`softmax ${shape} gradient`, () => tf.grad((v: Tensor) => tf.sum(tf.mul(softmax(tf, v), w)))(x)],
      [`log-softmax ${shape} gradient`, () => tf.grad((v: Tensor) => tf.sum(tf.mul(logSoftmax(tf, v), w)))(x)],
    );
  }
  // The DINO loss shape: log-softmax of the student against the teacher's softmax, gradients through both inputs.
  const s = rand([8, 64]);
  const te = rand([8, 64]);
  made.push(s, te);
  cases.push(['cross-entropy gradient', () => tf.grads((a: Tensor, b: Tensor) => tf.neg(tf.sum(tf.mul(softmax(tf, b), logSoftmax(tf, tf.div(a, 0.1))))))([s, te])]);
  compare(t, cases, { prefer: 'native' });
  tf.dispose(made);
});

nativeTest('softmax and log-softmax run as one kernel each way on the native path', async (t) => {
  const x = rand([4, 9, 17]);
  const w = rand([4, 9, 17]);
  t.deepEqual(await kernelsOf({ prefer: 'native' }, () => softmax(tf, x)), ['ProsSoftmax']);
  t.deepEqual(await kernelsOf({ prefer: 'native' }, () => logSoftmax(tf, x)), ['ProsSoftmax']);
  const back = await kernelsOf({ prefer: 'native' }, () => tf.grad((v: Tensor) => tf.sum(tf.mul(logSoftmax(tf, v), w)))(x));
  t.deepEqual(back.filter((k) => k.startsWith('ProsSoftmax')), ['ProsSoftmax', 'ProsSoftmaxGrad'], back.join(','));
  t.false(back.includes('Exp'), `no stock chain in the backward: ${back.join(',')}`);
  tf.dispose([x, w]);
});

nativeTest('bias in the native matmul: linear value and gradients in x, W and b equal matMul + add on stock kernels', (t) => {
  const cases: Case[] = [];
  const made: Tensor[] = [];
  for (const [shape, n] of [[[2, 65, 192], 576], [[130, 768], 192], [[3, 1, 5], 1], [[1, 7], 9]] as Array<[number[], number]>) {
    const k = shape[shape.length - 1];
    const x = rand(shape);
    const w = rand([k, n], -0.2, 0.2);
    const b = rand([n]);
    const dy = rand([...shape.slice(0, -1), n]);
    made.push(x, w, b, dy);
    cases.push(
      [`linear ${shape}×${n}`, () => linear(tf, x, w, b)],
      [`linear ${shape}×${n} gradients`, () => tf.grads((a: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(linear(tf, a, ww, bb), dy)))([x, w, b])],
    );
  }
  compare(t, cases, { prefer: 'native' });
  tf.dispose(made);
});

nativeTest('linear on the native path is one _FusedMatMul forward and no Add; on explicit-transpose it stays matMul + add', async (t) => {
  const x = rand([6, 8]);
  const w = rand([8, 5]);
  const b = rand([5]);
  t.deepEqual(await kernelsOf({ prefer: 'native' }, () => linear(tf, x, w, b)), ['_FusedMatMul']);
  const back = await kernelsOf({ prefer: 'native' }, () => tf.grads((a: Tensor, ww: Tensor, bb: Tensor) => tf.sum(linear(tf, a, ww, bb)))([x, w, b])[2]);
  t.false(back.includes('Add'), `no Add forward or backward: ${back.join(',')}`);
  t.deepEqual(await kernelsOf({ prefer: 'explicit' }, () => linear(tf, x, w, b)), ['BatchMatMul', 'Add']);
  tf.dispose([x, w, b]);
});

nativeTest('without OpenBLAS the native elementwise and fused ops are still installed (explicit-transpose matmul)', (t) => {
  const noBlas: InstallMatmulOptions = { blasLibrary: '/nonexistent/libopenblas.so.0' };
  const r = installMatmul(tf, { quiet: true, blasThreads: 2, ...noBlas });
  try {
    t.is(r.path, 'explicit-transpose');
    t.regex(r.reason, /libopenblas not found/);
    t.regex(r.reason, /native ops: 21 kernels on 2 threads, fused AdamW\/EMA\/GELU\/layer norm\/softmax\b/);
    t.not(tf.getKernel('Exp', 'wasm')!.kernelFunc, stockKernels(tf).byName.get('Exp'), 'Exp is the native kernel');
    const ops = fusedOps(tf);
    t.truthy(ops, 'fused ops installed');
    t.is(ops!.linear, undefined, 'no bias fusion without the native matmul');
  } finally {
    uninstallMatmul(tf);
  }
  // Asked for explicitly, the explicit path stays the benchmarks' reference: no native ops.
  const asked = installMatmul(tf, { quiet: true, prefer: 'explicit' });
  t.notRegex(asked.reason, /native ops/);
  t.is(fusedOps(tf), undefined);
  uninstallMatmul(tf);
  const x = rand([4, 33]);
  const w = rand([33, 7]);
  const bias = rand([7]);
  compare(t, [
    ['log-softmax gradient', () => tf.grad((v: Tensor) => tf.sum(tf.mul(logSoftmax(tf, v), v)))(x)],
    ['linear gradients', () => tf.grads((a: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.square(linear(tf, a, ww, bb))))([x, w, bias])],
    ['erf', () => tf.erf(x)],
  ], noBlas);
  tf.dispose([x, w, bias]);
});
