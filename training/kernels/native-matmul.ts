// BatchMatMul and _FusedMatMul on the wasm backend computed by OpenBLAS sgemm (through the native/ addon) directly
// on the wasm heap: no copies, all transpose combinations through sgemm's trans flags, batch dims broadcast.
import { defaultAddonPath, loadAddon, type AddonBase, type AddonLoad as AddonLoadOf } from '../../src/native-addon.ts';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { KernelArgs, WasmBackendLike, WasmKernel } from './wasm-internals.ts';
import type { OpsAddon } from './native-ops.ts';
import type { FusedAddon } from './native-fused.ts';

export interface NativeAddon extends AddonBase, OpsAddon, FusedAddon {
  transpose(heap: Uint8Array, xOffset: number, outOffset: number, shape: Int32Array, perm: Int32Array): void;
  gemm(
    heap: Uint8Array, transA: boolean, transB: boolean, m: number, n: number, k: number,
    aOffsets: Uint32Array, bOffsets: Uint32Array, cOffset: number,
    biasOffset: number, biasLength: number, activation: number, alpha: number,
  ): void;
}

export { defaultAddonPath };

// Without OpenBLAS the addon's elementwise and fused ops still work (they need no BLAS): `ops` carries it then.
export type AddonLoad = AddonLoadOf<NativeAddon>;

/** Loads the addon and OpenBLAS; says why not when either is missing. */
export function loadNativeAddon(addonPath = defaultAddonPath, blasLibrary?: string): AddonLoad {
  return loadAddon<NativeAddon>(addonPath, blasLibrary);
}

/**
 * Null when the fast training path (the addon and OpenBLAS) is there; else one line saying what training on the wasm
 * backend falls back to and exactly what to install, for the first lines of `pros demo` and `pros train`.
 */
export function fastPathAdvice(): string | null {
  const r = loadNativeAddon(process.env.PROS_NATIVE_ADDON || defaultAddonPath, process.env.PROS_OPENBLAS || undefined);
  if (r.addon) return null;
  return `on the wasm backend, training falls back to the explicit-transpose kernels (several times slower): ${r.reason}`;
}

// Activation codes of tfjs-backend-wasm's FusableActivation that the addon's epilogue implements.
const activations: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 4, sigmoid: 5, elu: 6 };

/** For every output batch, the batch index into each operand, broadcasting like numpy. */
export function broadcastBatches(aBatch: number[], bBatch: number[]): { out: number[]; a: number[]; b: number[] } {
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (s: number[]) => [...Array(rank - s.length).fill(1), ...s];
  const as = pad(aBatch);
  const bs = pad(bBatch);
  const out = as.map((d, i) => {
    const e = bs[i];
    if (d !== e && d !== 1 && e !== 1) throw new Error(`matMul: batch dims ${aBatch} and ${bBatch} do not broadcast`);
    return d === 1 ? e : d;
  });
  const strides = (s: number[]) => {
    const st = new Array<number>(rank);
    let acc = 1;
    for (let i = rank - 1; i >= 0; i--) {
      st[i] = s[i] === 1 ? 0 : acc;
      acc *= s[i];
    }
    return st;
  };
  const sa = strides(as);
  const sb = strides(bs);
  const total = out.reduce((x, y) => x * y, 1);
  const ia = new Array<number>(total);
  const ib = new Array<number>(total);
  const idx = new Array<number>(rank).fill(0);
  for (let t = 0; t < total; t++) {
    let oa = 0;
    let ob = 0;
    for (let d = 0; d < rank; d++) {
      oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
    }
    ia[t] = oa;
    ib[t] = ob;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return { out, a: ia, b: ib };
}

function offsetOf(backend: WasmBackendLike, t: TensorInfo): number {
  const d = backend.dataIdMap.get(t.dataId);
  if (!d || d.memoryOffset == null) throw new Error('native matmul: tensor has no wasm heap offset');
  return d.memoryOffset;
}

interface Gemm {
  a: TensorInfo;
  b: TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  bias?: TensorInfo;
  activation?: number;
  alpha?: number;
}

function runGemm(addon: NativeAddon, backend: WasmBackendLike, g: Gemm): TensorInfo {
  const { a, b, transposeA, transposeB } = g;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error('BatchMatMul for non-float32 tensors is not supported');
  const ar = a.shape.length;
  const br = b.shape.length;
  const m = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
  const ka = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const kb = transposeB ? b.shape[br - 1] : b.shape[br - 2];
  const n = transposeB ? b.shape[br - 2] : b.shape[br - 1];
  if (ka !== kb) {
    throw new Error(`Error in matMul: inner shapes (${ka}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  const batch = broadcastBatches(a.shape.slice(0, -2), b.shape.slice(0, -2));
  // Allocate first: makeOutput may grow the memory, which replaces the heap buffer read below.
  const out = backend.makeOutput([...batch.out, m, n], 'float32');
  const total = batch.a.length;
  if (total === 0 || m === 0 || n === 0) return out;
  const aOff = offsetOf(backend, a);
  const bOff = offsetOf(backend, b);
  const aBytes = m * ka * 4;
  const bBytes = ka * n * 4;
  const aOffs = new Uint32Array(total);
  const bOffs = new Uint32Array(total);
  for (let i = 0; i < total; i++) {
    aOffs[i] = aOff + batch.a[i] * aBytes;
    bOffs[i] = bOff + batch.b[i] * bBytes;
  }
  const biasOff = g.bias ? offsetOf(backend, g.bias) : -1;
  const biasLen = g.bias ? g.bias.shape.reduce((x, y) => x * y, 1) : 0;
  addon.gemm(backend.wasm.HEAPU8, transposeA, transposeB, m, n, ka, aOffs, bOffs, offsetOf(backend, out), biasOff, biasLen, g.activation ?? 0, g.alpha ?? 0);
  return out;
}

export function nativeBatchMatMul(addon: NativeAddon): WasmKernel {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    return runGemm(addon, backend, { a: inputs.a, b: inputs.b, transposeA, transposeB });
  };
}

/**
 * _FusedMatMul: bias (rank 1, length n or 1) and the activations the addon implements run in the addon's epilogue;
 * anything else (prelu, other bias shapes) goes to `fallback` for that call.
 */
export function nativeFusedMatMul(addon: NativeAddon, fallback: WasmKernel): WasmKernel {
  return (args: KernelArgs) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB, activation, leakyreluAlpha } = attrs as {
      transposeA: boolean; transposeB: boolean; activation: string; leakyreluAlpha?: number;
    };
    const act = activations[activation ?? 'linear'];
    const bias = inputs.bias as TensorInfo | undefined;
    const bShape = inputs.b.shape;
    const n = transposeB ? bShape[bShape.length - 2] : bShape[bShape.length - 1];
    const biasOk = !bias || (bias.shape.length === 1 && (bias.shape[0] === n || bias.shape[0] === 1) && bias.dtype === 'float32');
    if (act === undefined || !biasOk || inputs.preluActivationWeights) return fallback(args);
    return runGemm(addon, backend, { a: inputs.a, b: inputs.b, transposeA, transposeB, bias, activation: act, alpha: leakyreluAlpha ?? 0 });
  };
}
