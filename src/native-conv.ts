// Conv2D, FusedConv2D, DepthwiseConv2dNative and FusedDepthwiseConv2D on the wasm backend computed by the native
// addon (native/src/conv.cc: im2col or direct + OpenBLAS sgemm, direct depthwise, the fused epilogue) directly on the
// wasm heap, for face analysis: human's detector, mesh and descriptor spend ~85 % of their kernel time in these
// (docs/profile-curation.md). Installed by the face worker threads (retrieval/faces/worker.ts), not by training, and
// only after a self-test against the stock kernels on the models' own shapes; each kernel that fails keeps its stock
// version. Any case a kernel does not cover (NCHW, another dtype, channel multiplier > 1, zero size, a bias or prelu
// weight that is not per channel) goes to the stock kernel for that call.
import { envChoice } from './env.ts';
import { isMainThread } from 'node:worker_threads';
import type { KernelConfig, KernelFunc, Rank, Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import type { Tf } from './backend.ts';
import { defaultAddonPath, loadAddon, type AddonBase } from './native-addon.ts';
import { heapOffset, PINNED_WASM_VERSION, wasmBackendVersion, type KernelArgs, type WasmKernel } from './wasm-internals.ts';

export interface ConvAddon extends AddonBase {
  conv2d(
    heap: Uint8Array, xOffset: number, filterOffset: number, outOffset: number,
    biasOffset: number, biasLength: number, preluOffset: number, preluLength: number,
    dims: Int32Array, depthwise: boolean, activation: number, leakyAlpha: number,
  ): void;
}

export const CONV_KERNELS = ['Conv2D', 'FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D'] as const;
export type ConvKernelName = (typeof CONV_KERNELS)[number];

// tfjs-backend-wasm's FusableActivation codes.
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, prelu: 3, leakyrelu: 4, sigmoid: 5, elu: 6 };

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
  dataFormat?: string;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
  leakyreluAlpha?: number;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** The native kernel for `name`, handing what it does not cover to `fallback` (the stock kernel). */
export function nativeConvKernel(tf: Tf, addon: ConvAddon, name: ConvKernelName, fallback: WasmKernel): WasmKernel {
  const depthwise = name.includes('Depthwise');
  const fused = name.startsWith('Fused');
  return (args: KernelArgs) => {
    const { backend } = args;
    const { x, filter, bias, preluActivationWeights: prelu } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs;
    const act = fused ? ACTIVATIONS[a.activation ?? 'linear'] : 0;
    if (
      x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || filter.shape.length !== 4 ||
      (a.dataFormat != null && a.dataFormat !== 'NHWC') || act == null || (depthwise && filter.shape[3] !== 1) ||
      x.shape[3] !== filter.shape[2] || size(x.shape) === 0 || size(filter.shape) === 0
    ) {
      return fallback(args);
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
      a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, depthwise,
    );
    const outC = info.outChannels;
    const useBias = fused && bias != null;
    const usePrelu = act === ACTIVATIONS.prelu;
    const perChannel = (t: typeof x | undefined) => t != null && t.dtype === 'float32' && (size(t.shape) === 1 || size(t.shape) === outC);
    if ((useBias && !perChannel(bias)) || (usePrelu && !perChannel(prelu)) || size(info.outShape) === 0) return fallback(args);
    const xOff = heapOffset(backend, x), fOff = heapOffset(backend, filter);
    const bOff = useBias ? heapOffset(backend, bias!) : -1, pOff = usePrelu ? heapOffset(backend, prelu!) : -1;
    if (xOff == null || fOff == null || bOff == null || pOff == null) return fallback(args);
    // Allocate first: makeOutput may grow the memory, which replaces the heap buffer read below.
    const out = backend.makeOutput(info.outShape, 'float32');
    const dims = Int32Array.from([
      info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, outC,
      info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
      info.padInfo.top, info.padInfo.left,
    ]);
    addon.conv2d(
      backend.wasm.HEAPU8, xOff, fOff, heapOffset(backend, out)!, bOff, useBias ? size(bias!.shape) : 0,
      // Unset alpha is 0, as the stock kernels pass it.
      pOff, usePrelu ? size(prelu!.shape) : 0, dims, depthwise, act, a.leakyreluAlpha || 0,
    );
    return out;
  };
}

/** One convolution as human's models run it: the kernel, input and filter shapes, stride, padding, epilogue. */
export interface ConvCase {
  kernel: ConvKernelName;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number;
  pad: 'same' | 'valid';
  activation?: 'linear' | 'relu' | 'relu6' | 'prelu' | 'leakyrelu' | 'sigmoid' | 'elu';
  bias?: boolean;
}

/**
 * The models' own convolutions (shapes from `npm run bench:face-kernels -- --shapes`): blazeface's 5×5/2 stem,
 * 1×1 and 3×3 depthwise at stride 1 and 2; facemesh's 3×3/2 stem with prelu and its 3×3 valid heads; faceres's
 * 3×3/2 stem, its 1×1 512→512, and stride-2 depthwise.
 */
export const MODEL_CASES: ConvCase[] = [
  { kernel: 'FusedConv2D', x: [1, 256, 256, 3], filter: [5, 5, 3, 24], strides: 2, pad: 'same', activation: 'relu', bias: true },
  { kernel: 'FusedConv2D', x: [1, 64, 64, 24], filter: [1, 1, 24, 24], strides: 1, pad: 'same', activation: 'relu', bias: true },
  { kernel: 'FusedConv2D', x: [1, 192, 192, 3], filter: [3, 3, 3, 16], strides: 2, pad: 'same', activation: 'prelu', bias: true },
  { kernel: 'FusedConv2D', x: [1, 3, 3, 32], filter: [3, 3, 32, 266], strides: 1, pad: 'valid', activation: 'linear', bias: true },
  { kernel: 'Conv2D', x: [1, 224, 224, 3], filter: [3, 3, 3, 32], strides: 2, pad: 'same' },
  { kernel: 'Conv2D', x: [1, 14, 14, 512], filter: [1, 1, 512, 512], strides: 1, pad: 'same' },
  { kernel: 'DepthwiseConv2dNative', x: [1, 128, 128, 24], filter: [3, 3, 24, 1], strides: 1, pad: 'same' },
  { kernel: 'DepthwiseConv2dNative', x: [1, 64, 64, 24], filter: [3, 3, 24, 1], strides: 2, pad: 'same' },
  { kernel: 'DepthwiseConv2dNative', x: [1, 56, 56, 128], filter: [3, 3, 128, 1], strides: 2, pad: 'same' },
  { kernel: 'FusedDepthwiseConv2D', x: [1, 32, 32, 48], filter: [3, 3, 48, 1], strides: 1, pad: 'same', activation: 'relu6', bias: true },
];

/** `n` values uniform in [lo, hi) from `seed` (an LCG: tf.randomUniform's seeded generator costs ~2 µs a value). */
function uniform(n: number, lo: number, hi: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

/** Runs one case through tf's ops (whatever kernels are registered now) on inputs made from `seed`. */
export function runConvCase(tf: Tf, c: ConvCase, seed: number): Float32Array {
  // The tensor leaves tidy, not its data: tidy walks what it returns, element by element for a typed array.
  const out = tf.tidy(() => {
    const rand = (shape: number[], lo: number, hi: number, k: number) => tf.tensor(uniform(size(shape), lo, hi, seed + k), shape, 'float32');
    const x = rand(c.x, -1, 1, 0) as Tensor4D;
    const f = rand(c.filter, -0.5, 0.5, 1) as Tensor4D;
    const outC = c.kernel.includes('Depthwise') ? c.x[3] * c.filter[3] : c.filter[3];
    const bias = c.bias ? rand([outC], -0.5, 0.5, 2) : undefined;
    const prelu = c.activation === 'prelu' ? rand([1, 1, outC], 0, 0.5, 3) : undefined;
    let y: Tensor<Rank>;
    if (c.kernel === 'Conv2D') y = tf.conv2d(x, f, c.strides, c.pad);
    else if (c.kernel === 'DepthwiseConv2dNative') y = tf.depthwiseConv2d(x, f, c.strides, c.pad);
    else if (c.kernel === 'FusedConv2D') y = tf.fused.conv2d({ x, filter: f, strides: c.strides, pad: c.pad, bias, activation: c.activation, preluActivationWeights: prelu });
    else y = tf.fused.depthwiseConv2d({ x, filter: f, strides: c.strides, pad: c.pad, bias, activation: c.activation, preluActivationWeights: prelu });
    return y;
  });
  try {
    return out.dataSync() as Float32Array;
  } finally {
    out.dispose();
  }
}

/** max |a − b| / max |b| (0 when both are all zero); Infinity on a length mismatch or a NaN. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= diff)) diff = d;
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

export const CONV_TOLERANCE = 1e-5;

export interface FaceConvInstall {
  /** Kernels now native. */
  native: ConvKernelName[];
  /** One part of the runtime line: what runs the convolutions and, where not native, why. */
  description: string;
}

export interface FaceConvOptions {
  /** Default $PROS_FACE_CONV: auto (native where it self-tests) or stock. */
  prefer?: 'auto' | 'stock';
  addonPath?: string;
  blasLibrary?: string;
  /** OpenBLAS threads to set (process-wide); default 1 in a worker thread, left as it is on the main thread. */
  threads?: number;
  /** The self-test cases (default MODEL_CASES). */
  cases?: ConvCase[];
  /** Wraps the loaded addon (tests: a deliberately wrong kernel must fail the self-test). */
  wrapAddon?: (addon: ConvAddon) => ConvAddon;
}

const stockConfigs = new WeakMap<object, Map<string, KernelConfig>>();

/** Puts the stock convolution kernels back (no-op when none were replaced). */
export function uninstallFaceConv(tf: Tf): void {
  const stock = stockConfigs.get(tf);
  if (!stock) return;
  for (const [name, cfg] of stock) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(cfg);
  }
}

/**
 * Registers the native convolution kernels on `tf`'s wasm backend where the addon, OpenBLAS and the self-test allow.
 * Never throws for a missing or failing native path: the stock kernels stay and `description` says why.
 */
export function installFaceConv(tf: Tf, opts: FaceConvOptions = {}): FaceConvInstall {
  const stockLine = (why: string): FaceConvInstall => ({ native: [], description: `stock wasm convolutions (${why})` });
  if (tf.getBackend() !== 'wasm') return stockLine(`backend is ${tf.getBackend()}`);
  const prefer = opts.prefer ?? envChoice('PROS_FACE_CONV', ['auto', 'stock'], 'auto');
  if (prefer !== 'auto' && prefer !== 'stock') throw new Error(`PROS_FACE_CONV must be auto or stock, got ${prefer}`);
  uninstallFaceConv(tf);
  if (prefer === 'stock') return stockLine('asked for');
  const version = wasmBackendVersion();
  if (version !== PINNED_WASM_VERSION) return stockLine(`tfjs-backend-wasm ${version} is not the pinned ${PINNED_WASM_VERSION}`);
  const loaded = loadAddon<ConvAddon>(opts.addonPath ?? (process.env.PROS_NATIVE_ADDON || defaultAddonPath), opts.blasLibrary ?? (process.env.PROS_OPENBLAS || undefined));
  if (!loaded.addon) return stockLine(loaded.reason);
  const addon = opts.wrapAddon ? opts.wrapAddon(loaded.addon) : loaded.addon;
  if (typeof addon.conv2d !== 'function') return stockLine('this addon build has no conv2d: run npm run build:native');
  // One BLAS thread per face worker: the pool already runs one worker per core. (The count is process-wide; the
  // main thread's own BLAS users, if any, set theirs.)
  const threads = opts.threads ?? (isMainThread ? undefined : 1);
  if (threads) addon.setThreads(threads);

  let stock = stockConfigs.get(tf);
  if (!stock) {
    stock = new Map();
    for (const name of CONV_KERNELS) {
      const k = tf.getKernel(name, 'wasm');
      if (!k) return stockLine(`tfjs-backend-wasm has no ${name} kernel`);
      stock.set(name, k);
    }
    stockConfigs.set(tf, stock);
  }
  const cases = opts.cases ?? MODEL_CASES;
  const reference = cases.map((c, i) => runConvCase(tf, c, 17 + 5 * i));
  for (const name of CONV_KERNELS) {
    const fallback = stock.get(name)!.kernelFunc as unknown as WasmKernel;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: nativeConvKernel(tf, addon, name, fallback) as unknown as KernelFunc });
  }
  const failed = new Map<string, string>();
  cases.forEach((c, i) => {
    if (failed.has(c.kernel)) return;
    let err: number;
    try {
      err = relativeError(runConvCase(tf, c, 17 + 5 * i), reference[i]);
    } catch (e) {
      failed.set(c.kernel, `${(e as Error).message.split('\n')[0]} for ${JSON.stringify(c)}`);
      return;
    }
    if (!(err <= CONV_TOLERANCE)) failed.set(c.kernel, `relative error ${err.toExponential(1)} for ${JSON.stringify(c)}`);
  });
  for (const name of failed.keys()) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(stock.get(name)!);
  }
  const native = CONV_KERNELS.filter((n) => !failed.has(n));
  const parts = [`native convolutions (${loaded.library}${threads ? `, ${threads} BLAS thread${threads === 1 ? '' : 's'}` : ''}, self-tested on ${cases.length} model shapes): ${native.join(', ') || 'none'}`];
  if (failed.size) parts.push(`self-test failed, stock kept: ${[...failed].map(([n, why]) => `${n}: ${why}`).join('; ')}`);
  return { native, description: parts.join('; ') };
}

