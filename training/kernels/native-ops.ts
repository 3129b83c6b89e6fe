// The non-matmul kernels of a training step, computed by the native/ addon (ops.cc) directly on the wasm heap:
// float32 unary and broadcasting binary elementwise ops, Sum/Mean/Max/Min over a contiguous block of axes, and
// Unpack. Registered under the stock kernels' names, so the autodiff graph is unchanged; each kernel hands any case
// it does not cover (another dtype, non-contiguous axes, zero size) to the stock kernel.
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { KernelArgs, WasmBackendLike, WasmKernel } from './wasm-internals.ts';

export interface OpsAddon {
  unary(heap: Uint8Array, op: number, xOffset: number, outOffset: number, n: number): void;
  binary(heap: Uint8Array, op: number, aOffset: number, aShape: Int32Array, bOffset: number, bShape: Int32Array, outOffset: number): void;
  reduce(heap: Uint8Array, op: number, xOffset: number, outOffset: number, outer: number, reduced: number, inner: number): void;
  unpack(heap: Uint8Array, xOffset: number, outOffsets: Uint32Array, outer: number, inner: number): void;
  setOpThreads(n: number): number;
}

// Op codes of ops.cc.
export const unaryOps = { Exp: 0, Erf: 1, Log: 2, Neg: 3, Sqrt: 4, Rsqrt: 5, Square: 6, Abs: 7, Sigmoid: 8 } as const;
export const binaryOps = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 } as const;
export const reduceOps = { Sum: 0, Mean: 1, Max: 2, Min: 3 } as const;

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function offsetOf(backend: WasmBackendLike, t: TensorInfo): number | null {
  const d = backend.dataIdMap.get(t.dataId);
  return d && d.memoryOffset != null ? d.memoryOffset : null;
}

export function broadcastShape(a: number[], b: number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const x = a[i - (rank - a.length)] ?? 1;
    const y = b[i - (rank - b.length)] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out[i] = x === 1 ? y : x;
  }
  return out;
}

export function nativeUnary(addon: OpsAddon, op: number, fallback: WasmKernel): WasmKernel {
  return (args: KernelArgs) => {
    const { backend } = args;
    const x = args.inputs.x;
    const n = size(x.shape);
    if (x.dtype !== 'float32' || n === 0 || offsetOf(backend, x) == null) return fallback(args);
    // Allocate first: makeOutput may grow the memory, which replaces the heap buffer read below.
    const out = backend.makeOutput(x.shape.slice(), 'float32');
    addon.unary(backend.wasm.HEAPU8, op, offsetOf(backend, x)!, offsetOf(backend, out)!, n);
    return out;
  };
}

export function nativeBinary(addon: OpsAddon, op: number, fallback: WasmKernel): WasmKernel {
  return (args: KernelArgs) => {
    const { backend } = args;
    const { a, b } = args.inputs;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || offsetOf(backend, a) == null || offsetOf(backend, b) == null) return fallback(args);
    const shape = broadcastShape(a.shape, b.shape);
    if (!shape || shape.length > 12 || size(shape) === 0) return fallback(args);
    const out = backend.makeOutput(shape, 'float32');
    addon.binary(backend.wasm.HEAPU8, op, offsetOf(backend, a)!, Int32Array.from(a.shape), offsetOf(backend, b)!, Int32Array.from(b.shape), offsetOf(backend, out)!);
    return out;
  };
}

/** Sorted, non-negative, unique axes (null: all), as tfjs's parseAxisParam. */
function parseAxes(axis: number | number[] | null | undefined, rank: number): number[] {
  const list = axis == null ? Array.from({ length: rank }, (_, i) => i) : Array.isArray(axis) ? axis : [axis];
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((x, y) => x - y);
}

export function nativeReduce(addon: OpsAddon, op: number, fallback: WasmKernel, axisAttr: 'axis' | 'reductionIndices'): WasmKernel {
  return (args: KernelArgs) => {
    const { backend } = args;
    const x = args.inputs.x;
    const { keepDims } = args.attrs as { keepDims?: boolean };
    const rank = x.shape.length;
    const axes = parseAxes(args.attrs[axisAttr] as number | number[] | null, rank);
    const contiguous = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
    if (x.dtype !== 'float32' || size(x.shape) === 0 || axes.length === 0 || !contiguous || axes.some((a) => a < 0 || a >= rank) || offsetOf(backend, x) == null) {
      return fallback(args);
    }
    const first = axes[0];
    const last = axes[axes.length - 1];
    const outer = size(x.shape.slice(0, first));
    const reduced = size(x.shape.slice(first, last + 1));
    const inner = size(x.shape.slice(last + 1));
    const shape = keepDims ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : x.shape.filter((_, i) => i < first || i > last);
    const out = backend.makeOutput(shape, 'float32');
    addon.reduce(backend.wasm.HEAPU8, op, offsetOf(backend, x)!, offsetOf(backend, out)!, outer, reduced, inner);
    return out;
  };
}

export function nativeUnpack(addon: OpsAddon, fallback: (args: KernelArgs) => TensorInfo[]): (args: KernelArgs) => TensorInfo[] {
  return (args: KernelArgs) => {
    const { backend } = args;
    const x = args.inputs.value;
    const rank = x.shape.length;
    let axis = (args.attrs as { axis: number }).axis;
    if (axis < 0) axis += rank;
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || size(x.shape) === 0 || offsetOf(backend, x) == null) return fallback(args);
    const num = x.shape[axis];
    const shape = x.shape.filter((_, i) => i !== axis);
    const outs = Array.from({ length: num }, () => backend.makeOutput(shape, x.dtype as 'float32'));
    const offsets = Uint32Array.from(outs, (o) => offsetOf(backend, o)!);
    addon.unpack(backend.wasm.HEAPU8, offsetOf(backend, x)!, offsets, size(x.shape.slice(0, axis)), size(x.shape.slice(axis + 1)));
    return outs;
  };
}

export interface OpKernels {
  name: string;
  kernel: WasmKernel;
}

/** The native kernel for each name, built around the stock kernel it replaces (its fallback). */
export function nativeOpKernels(addon: OpsAddon, stock: (name: string) => WasmKernel): OpKernels[] {
  const out: OpKernels[] = [];
  for (const [name, op] of Object.entries(unaryOps)) out.push({ name, kernel: nativeUnary(addon, op, stock(name)) });
  for (const [name, op] of Object.entries(binaryOps)) out.push({ name, kernel: nativeBinary(addon, op, stock(name)) });
  for (const [name, op] of Object.entries(reduceOps)) {
    out.push({ name, kernel: nativeReduce(addon, op, stock(name), name === 'Max' ? 'reductionIndices' : 'axis') });
  }
  const unpack = nativeUnpack(addon, stock('Unpack') as unknown as (args: KernelArgs) => TensorInfo[]);
  out.push({ name: 'Unpack', kernel: unpack as unknown as WasmKernel });
  return out;
}
