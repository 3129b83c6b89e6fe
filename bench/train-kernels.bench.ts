// npm run bench:train-kernels [-- --reps 15 --threads 1]
// The non-matmul work of a ProS step, stock tfjs-backend-wasm kernels against the native path (training/kernels/),
// on the tiny preset's tensor shapes at batch 16: each case timed on each path in the same process, alternating,
// best of --reps, so a machine shared with other work still gives a fair ratio. A third column, "native −", is the
// native path without the fused softmax / log-softmax and the bias in the matmul (the path before they were added);
// the ViT-block case runs on the two native columns only (stock matmuls would take seconds). Forward+backward cases include tfjs's own
// per-op cost (the tape, tidy), which is what a fused kernel saves beyond the arithmetic.
import { loadBackend } from '../src/backend.ts';
import { installMatmul, uninstallMatmul } from '../training/kernels/install.ts';
import { fusedOps, setFusedOps } from '../training/kernels/native-fused.ts';
import { registerWasmKernel, restoreStock, stockKernels, type WasmKernel } from '../training/kernels/wasm-internals.ts';
import { gelu, layerNorm, linear, logSoftmax, softmax } from '../training/params.ts';
import type { Tensor } from '@tensorflow/tfjs';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const REPS = Number(arg('reps', '15'));
const THREADS = Number(arg('threads', '1'));

const { tf } = await loadBackend('wasm', { quiet: true });
// Global crops of a batch of 16: 32 × 65 tokens; MLP width 768, model width 192, 3 heads.
const hidden = tf.randomUniform([32, 65, 768], -3, 3, 'float32', 1);
const tokens = tf.randomUniform([32, 65, 192], -3, 3, 'float32', 2);
const scores = tf.randomUniform([32, 3, 65, 65], -3, 3, 'float32', 3);
const g = tf.randomUniform([192], 0.5, 1.5, 'float32', 4);
const b = tf.randomUniform([192], -1, 1, 'float32', 5);
const bias = tf.randomUniform([768], -1, 1, 'float32', 6);
const qkv = tf.randomUniform([3, 32, 3, 65, 64], -1, 1, 'float32', 7);
const logits = tf.randomUniform([160, 4096], -3, 3, 'float32', 8);
const w = (shape: number[], seed: number) => tf.randomUniform(shape, -0.1, 0.1, 'float32', seed);
const blk = {
  g1: g, b1: b, g2: g, b2: b, qkvW: w([192, 576], 10), qkvB: w([576], 11), projW: w([192, 192], 12), projB: w([192], 13),
  fc1W: w([192, 768], 14), fc1B: bias, fc2W: w([768, 192], 15), fc2B: w([192], 16),
};
/** One pre-norm ViT block on [32, 65, 192] (3 heads of 64), as training/vit.ts without drop-path. */
function block(z: Tensor, p: typeof blk): Tensor {
  const a = layerNorm(tf, z, p.g1, p.b1, 1e-6);
  const q3 = linear(tf, a, p.qkvW, p.qkvB).reshape([32, 65, 3, 3, 64]).transpose([2, 0, 3, 1, 4]);
  const [q, k, v] = tf.unstack(q3, 0);
  const attn = softmax(tf, tf.mul(tf.matMul(q as never, k as never, false, true), 0.125) as Tensor);
  const o = (tf.matMul(attn as never, v as never) as Tensor).transpose([0, 2, 1, 3]).reshape([32, 65, 192]);
  const z1 = tf.add(z, linear(tf, o, p.projW, p.projB));
  const m = layerNorm(tf, z1, p.g2, p.b2, 1e-6);
  return tf.add(z1, linear(tf, gelu(tf, linear(tf, m, p.fc1W, p.fc1B)), p.fc2W, p.fc2B));
}
const blockVars = Object.values(blk);
const blockStep = () => tf.grads((z: Tensor, ...ps: Tensor[]) => {
  const p = Object.fromEntries(Object.keys(blk).map((k, i) => [k, ps[i]])) as typeof blk;
  return tf.sum(tf.mul(block(z, p), z));
})([tokens, ...blockVars]);

const cases: Array<[string, () => unknown]> = [
  ['Erf [32,65,768]', () => tf.erf(hidden)],
  ['Exp [32,3,65,65]', () => tf.exp(scores)],
  ['Multiply same shape [32,65,768]', () => tf.mul(hidden, hidden)],
  ['Add bias [32,65,768]+[768]', () => tf.add(hidden, bias)],
  ['Sum over rows [2080,768] axis 0', () => tf.sum(hidden.reshape([-1, 768]), 0)],
  ['Sum last axis [32,3,65,65]', () => tf.sum(scores, -1)],
  ['Unpack qkv [3,32,3,65,64]', () => tf.unstack(qkv, 0)],
  ['GELU forward [32,65,768]', () => gelu(tf, hidden)],
  ['GELU forward+backward', () => tf.grad((v: Tensor) => tf.sum(gelu(tf, v)))(hidden)],
  ['layer norm forward [32,65,192]', () => layerNorm(tf, tokens, g, b, 1e-6)],
  ['layer norm forward+backward', () => tf.grads((v: Tensor, gg: Tensor, bb: Tensor) => tf.sum(layerNorm(tf, v, gg, bb, 1e-6)))([tokens, g, b])],
  ['softmax forward+backward [32,3,65,65]', () => tf.grad((v: Tensor) => tf.sum(tf.mul(softmax(tf, v), v)))(scores)],
  ['log-softmax forward+backward [160,4096]', () => tf.grad((v: Tensor) => tf.sum(tf.mul(logSoftmax(tf, v), v)))(logits)],
  ['linear + bias forward+backward [2080,192]·[192,768]', () => tf.grads((x: Tensor, ww: Tensor, bb: Tensor) => tf.sum(tf.mul(linear(tf, x, ww, bb), hidden)))([tokens, blk.fc1W, bias])],
];
const nativeOnly = new Set<number>();
nativeOnly.add(cases.push(['ViT block forward+backward [32,65,192]', blockStep]) - 1);
nativeOnly.add(cases.indexOf(cases.find(([n]) => n.startsWith('linear'))!));

// Switching paths by re-registering the captured kernel functions is cheap, so the two paths alternate rep by rep
// and a burst of load elsewhere hits both alike. The wasm backend runs kernels synchronously: no read-back is timed.
const native = installMatmul(tf, { prefer: 'native', blasThreads: THREADS, quiet: true });
if (native.path !== 'native-openblas') {
  console.log(`native path not available here: ${native.reason}`);
  process.exit(1);
}
const names = [...stockKernels(tf).byName.keys()];
const nativeFns = new Map(names.map((n) => [n, tf.getKernel(n, 'wasm')!.kernelFunc as unknown as WasmKernel]));
const fused = fusedOps(tf)!;
// The native path as it was before the fused softmax and the bias in the matmul.
const before = { ...fused, softmax: (x: Tensor) => tf.softmax(x, -1), logSoftmax: (x: Tensor) => tf.logSoftmax(x, -1), linear: undefined };
type Which = 'stock' | 'before' | 'native';
const use = (which: Which) => {
  if (which === 'stock') {
    restoreStock(tf);
    setFusedOps(tf, undefined);
  } else {
    for (const [n, f] of nativeFns) registerWasmKernel(tf, n, f);
    setFusedOps(tf, which === 'native' ? fused : before);
  }
};

const best = { stock: cases.map(() => Infinity), before: cases.map(() => Infinity), native: cases.map(() => Infinity) };
for (let r = 0; r < REPS; r++) {
  for (const which of ['stock', 'before', 'native'] as const) {
    use(which);
    cases.forEach(([, fn], i) => {
      if (which === 'stock' && nativeOnly.has(i)) return;
      const t0 = performance.now();
      tf.tidy(() => {
        fn();
      });
      best[which][i] = Math.min(best[which][i], performance.now() - t0);
    });
  }
}
uninstallMatmul(tf);

console.log(`native: ${native.reason}; stock and native alternating, best of ${REPS}`);
console.log('\n| case | stock ms | native − ms | native ms | native vs stock | native vs native − |\n| --- | ---: | ---: | ---: | ---: | ---: |');
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const ratio = (x: number, y: number) => (Number.isFinite(x) ? `${(x / y).toFixed(2)}×` : '—');
cases.forEach(([name], i) => {
  const [s, bf, n] = [best.stock[i], best.before[i], best.native[i]];
  console.log(`| ${name} | ${ms(s)} | ${ms(bf)} | ${ms(n)} | ${ratio(s, n)} | ${ratio(bf, n)} |`);
});
