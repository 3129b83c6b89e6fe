// npm run bench:train-kernels [-- --reps 15 --threads 1]
// The non-matmul work of a ProS step, stock tfjs-backend-wasm kernels against the native path (training/kernels/),
// on the tiny preset's tensor shapes at batch 16: each case timed on both paths in the same process, alternating,
// best of --reps, so a machine shared with other work still gives a fair ratio. Forward+backward cases include tfjs's own
// per-op cost (the tape, tidy), which is what a fused kernel saves beyond the arithmetic.
import { loadBackend } from '../src/backend.ts';
import { installMatmul, uninstallMatmul } from '../training/kernels/install.ts';
import { fusedOps, setFusedOps } from '../training/kernels/native-fused.ts';
import { registerWasmKernel, restoreStock, stockKernels, type WasmKernel } from '../training/kernels/wasm-internals.ts';
import { gelu, layerNorm } from '../training/params.ts';
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
];

// Switching paths by re-registering the captured kernel functions is cheap, so the two paths alternate rep by rep
// and a burst of load elsewhere hits both alike. The wasm backend runs kernels synchronously: no read-back is timed.
const native = installMatmul(tf, { prefer: 'native', blasThreads: THREADS, quiet: true });
if (native.path !== 'native-openblas') {
  console.log(`native path not available here: ${native.reason}`);
  process.exit(1);
}
const names = [...stockKernels(tf).byName.keys()];
const nativeFns = new Map(names.map((n) => [n, tf.getKernel(n, 'wasm')!.kernelFunc as unknown as WasmKernel]));
const fused = fusedOps(tf);
const use = (which: 'stock' | 'native') => {
  if (which === 'stock') {
    restoreStock(tf);
    setFusedOps(tf, undefined);
  } else {
    for (const [n, f] of nativeFns) registerWasmKernel(tf, n, f);
    setFusedOps(tf, fused);
  }
};

const best = { stock: cases.map(() => Infinity), native: cases.map(() => Infinity) };
for (let r = 0; r < REPS; r++) {
  for (const which of ['stock', 'native'] as const) {
    use(which);
    cases.forEach(([, fn], i) => {
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
console.log('\n| case | stock ms | native ms | speed-up |\n| --- | ---: | ---: | ---: |');
cases.forEach(([name], i) => console.log(`| ${name} | ${best.stock[i].toFixed(2)} | ${best.native[i].toFixed(2)} | ${(best.stock[i] / best.native[i]).toFixed(1)}× |`));
