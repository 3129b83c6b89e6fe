// The native convolution kernels of face analysis (src/native-conv.ts, native/src/conv.cc) against
// tfjs-backend-wasm's stock kernels: random shapes with stride 1 and 2, padding same and valid, 1×1 / 3×3 / 5×5
// filters, dilation, batch 2, every fused activation with and without bias, per-channel and scalar prelu weights;
// the cases handed back to the stock kernel; the self-test refusing a wrong kernel; the fallback when the addon or
// OpenBLAS is absent. Needs the addon (PROS_SKIP_NATIVE=1 skips visibly; CI builds it).
import test from 'ava';
import type { Tensor4D } from '@tensorflow/tfjs';
import { loadBackend } from '../../src/backend.ts';
import {
  CONV_KERNELS, CONV_TOLERANCE, installFaceConv, MODEL_CASES, relativeError, runConvCase, uninstallFaceConv, type ConvCase,
} from '../../src/native-conv.ts';
import { testIf } from '../helpers/requires.ts';

const { tf } = await loadBackend('wasm', { quiet: true });
const nativeTest = testIf(process.env.PROS_SKIP_NATIVE !== '1', 'PROS_SKIP_NATIVE=1: the native addon was not built', { serial: true });

function native(): void {
  const r = installFaceConv(tf, { threads: 1, cases: [] });
  if (r.native.length !== CONV_KERNELS.length) throw new Error(`native convolutions not installed: ${r.description}`);
}

/** Each case on the stock kernels, then on the native ones; the relative error of each. */
function compare(cases: ConvCase[]): { c: ConvCase; err: number }[] {
  uninstallFaceConv(tf);
  const ref = cases.map((c, i) => runConvCase(tf, c, 300 + 7 * i));
  native();
  try {
    return cases.map((c, i) => ({ c, err: relativeError(runConvCase(tf, c, 300 + 7 * i), ref[i]) }));
  } finally {
    uninstallFaceConv(tf);
  }
}

const ACTIVATIONS = ['linear', 'relu', 'relu6', 'prelu', 'leakyrelu', 'sigmoid', 'elu'] as const;

function randomCases(seed: number): ConvCase[] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: ConvCase[] = [];
  for (const kernel of CONV_KERNELS) {
    for (const strides of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        const fused = kernel.startsWith('Fused');
        for (const activation of fused ? ACTIVATIONS : (['linear'] as const)) {
          const k = pick([1, 3, 5]);
          const c = 1 + Math.floor(rnd() * 20);
          const h = k + Math.floor(rnd() * 12), w = k + Math.floor(rnd() * 12);
          const depthwise = kernel.includes('Depthwise');
          out.push({
            kernel, strides, pad,
            x: [1 + Math.floor(rnd() * 2), h, w, c],
            filter: [k, k, c, depthwise ? 1 : 1 + Math.floor(rnd() * 40)],
            ...(fused ? { activation, bias: rnd() < 0.7 } : {}),
          });
        }
      }
    }
  }
  return out;
}

nativeTest('every kernel × stride 1, 2 × padding same, valid × each fused activation, on random shapes: as the stock kernels', (t) => {
  const results = compare([...randomCases(1), ...randomCases(2)]);
  t.true(results.length >= 2 * 2 * 2 * (1 + 7 + 1 + 7));
  for (const { c, err } of results) t.true(err <= CONV_TOLERANCE, `${JSON.stringify(c)}: relative error ${err}`);
});

nativeTest('the models\' own shapes (the start-up self-test cases): as the stock kernels', (t) => {
  for (const { c, err } of compare(MODEL_CASES)) t.true(err <= CONV_TOLERANCE, `${JSON.stringify(c)}: relative error ${err}`);
});

nativeTest('dilation, scalar prelu weight, explicit leaky alpha, and the 1×1 direct path with a 1×1 image', (t) => {
  const run = () => tf.tidy(() => {
    const x = tf.randomUniform([2, 9, 11, 5], -1, 1, 'float32', 3) as Tensor4D;
    const f = tf.randomUniform([3, 3, 5, 4], -1, 1, 'float32', 4) as Tensor4D;
    const fd = tf.randomUniform([3, 3, 5, 1], -1, 1, 'float32', 5) as Tensor4D;
    const f1 = tf.randomUniform([1, 1, 5, 6], -1, 1, 'float32', 6) as Tensor4D;
    const x1 = tf.randomUniform([3, 1, 1, 5], -1, 1, 'float32', 7) as Tensor4D;
    return [
      tf.conv2d(x, f, 1, 'same', 'NHWC', 2),
      tf.depthwiseConv2d(x, fd, 1, 'valid', 'NHWC', 2),
      tf.fused.conv2d({ x, filter: f, strides: 1, pad: 'same', activation: 'prelu', preluActivationWeights: tf.scalar(0.3) }),
      tf.fused.conv2d({ x, filter: f, strides: 2, pad: 'valid', activation: 'leakyrelu', leakyreluAlpha: 0.05, bias: tf.fill([4], 0.1) }),
      tf.fused.depthwiseConv2d({ x, filter: fd, strides: 2, pad: 'same', activation: 'prelu', preluActivationWeights: tf.fill([5], 0.25), bias: tf.fill([5], -0.2) }),
      tf.conv2d(x1, f1, 1, 'same'),
    ].map((y) => y.dataSync() as Float32Array);
  });
  uninstallFaceConv(tf);
  const ref = run();
  native();
  try {
    const got = run();
    got.forEach((g, i) => t.true(relativeError(g, ref[i]!) <= CONV_TOLERANCE, `case ${i}: ${relativeError(g, ref[i]!)}`));
  } finally {
    uninstallFaceConv(tf);
  }
});

nativeTest('a channel multiplier above 1 goes to the stock kernel, and the result is the stock one', (t) => {
  const run = () => tf.tidy(() => {
    const x = tf.randomUniform([1, 8, 8, 3], -1, 1, 'float32', 9) as Tensor4D;
    const f = tf.randomUniform([3, 3, 3, 2], -1, 1, 'float32', 10) as Tensor4D;
    return tf.depthwiseConv2d(x, f, 1, 'same').dataSync() as Float32Array;
  });
  uninstallFaceConv(tf);
  const ref = run();
  native();
  try {
    t.deepEqual(run(), ref);
  } finally {
    uninstallFaceConv(tf);
  }
});

nativeTest('the self-test refuses a wrong kernel, keeps its stock version and says so; the others stay native', (t) => {
  const stockDepthwise = tf.getKernel('DepthwiseConv2dNative', 'wasm')!.kernelFunc;
  const r = installFaceConv(tf, {
    threads: 1,
    // A depthwise convolution that adds 1e-3 to its first output: a small but real error.
    wrapAddon: (addon) => ({
      ...addon,
      conv2d(...args: Parameters<typeof addon.conv2d>) {
        addon.conv2d(...args);
        if (args[9]) new Float32Array(args[0].buffer, args[3], 1)[0]! += 1e-3;
      },
    }),
  });
  try {
    t.deepEqual(r.native, ['Conv2D', 'FusedConv2D']);
    t.regex(r.description, /self-test failed, stock kept: DepthwiseConv2dNative: relative error .* FusedDepthwiseConv2D: relative error/);
    t.is(tf.getKernel('DepthwiseConv2dNative', 'wasm')!.kernelFunc, stockDepthwise);
  } finally {
    uninstallFaceConv(tf);
  }
});

test.serial('without the addon or without OpenBLAS the stock kernels stay, and the line says what to install', (t) => {
  const before = CONV_KERNELS.map((n) => tf.getKernel(n, 'wasm')!.kernelFunc);
  const noAddon = installFaceConv(tf, { addonPath: '/nonexistent/pros_native.node' });
  t.deepEqual(noAddon.native, []);
  t.regex(noAddon.description, /^stock wasm convolutions \(native addon not built .*npm run build:native\)/);
  const noBlas = installFaceConv(tf, { blasLibrary: 'libopenblas-nonexistent.so' });
  t.deepEqual(noBlas.native, []);
  t.regex(noBlas.description, /libopenblas not found .*apt-get install libopenblas0-pthread/);
  const asked = installFaceConv(tf, { prefer: 'stock' });
  t.is(asked.description, 'stock wasm convolutions (asked for)');
  t.deepEqual(CONV_KERNELS.map((n) => tf.getKernel(n, 'wasm')!.kernelFunc), before);
  t.throws(() => installFaceConv(tf, { prefer: 'fast' as 'auto' }), { message: /PROS_FACE_CONV must be auto or stock/ });
});
