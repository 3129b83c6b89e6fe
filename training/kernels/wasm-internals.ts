// The tfjs-backend-wasm internals the fast matmul paths rely on, in one place. They are not public API, so the
// project pins @tensorflow/tfjs-backend-wasm to 4.22.0 and install.ts runs a self-test before trusting them:
// - backend.dataIdMap.get(dataId).memoryOffset: a tensor's byte offset in the wasm heap (stable: malloc never moves);
// - backend.makeOutput(shape, dtype): allocates an output tensor on the heap (may grow the memory);
// - backend.wasm.HEAPU8: the heap view, REPLACED when the memory grows, so it is re-read after every allocation;
// - backend.disposeData(dataId): frees an intermediate made inside a kernel.
import { createRequire } from 'node:module';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { Tf } from '../../src/backend.ts';

export const PINNED_WASM_VERSION = '4.22.0';

export function wasmBackendVersion(): string {
  try {
    return (createRequire(import.meta.url)('@tensorflow/tfjs-backend-wasm/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number; shape: number[]; dtype: string } | undefined };
  makeOutput(shape: number[], dtype: 'float32' | 'int32'): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

export interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: WasmBackendLike;
  attrs: NamedAttrMap;
}
export type WasmKernel = (args: KernelArgs) => TensorInfo;

/** The stock kernels as tfjs-backend-wasm registered them, captured before any re-registration. */
export interface StockKernels {
  batchMatMul: WasmKernel;
  fusedMatMul: WasmKernel;
  transpose: WasmKernel;
  identity: WasmKernel;
  /** Every captured kernel by name (the four above and the elementwise ones of native-ops.ts). */
  byName: Map<string, WasmKernel>;
}

// The kernels captured and restored besides the matmul ones: the names native-ops.ts replaces.
const OP_KERNELS = [
  'Exp', 'Erf', 'Log', 'Neg', 'Sqrt', 'Rsqrt', 'Square', 'Abs', 'Sigmoid',
  'Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference',
  'Sum', 'Mean', 'Max', 'Min', 'Unpack',
];

// Marks the kernel functions this project registers, so a second install never mistakes them for stock.
const ours = new WeakSet<object>();
const stockByTf = new WeakMap<object, StockKernels>();

export function markOurs<F extends object>(f: F): F {
  ours.add(f);
  return f;
}

export function stockKernels(tf: Tf): StockKernels {
  const cached = stockByTf.get(tf);
  if (cached) return cached;
  const get = (name: string): WasmKernel => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`tfjs-backend-wasm has no ${name} kernel registered`);
    if (ours.has(k.kernelFunc)) throw new Error(`${name} was re-registered before the stock kernel was captured`);
    return k.kernelFunc as unknown as WasmKernel;
  };
  const byName = new Map<string, WasmKernel>();
  for (const name of ['BatchMatMul', '_FusedMatMul', 'Transpose', 'Identity', ...OP_KERNELS]) byName.set(name, get(name));
  const stock = {
    batchMatMul: byName.get('BatchMatMul')!, fusedMatMul: byName.get('_FusedMatMul')!, transpose: byName.get('Transpose')!, identity: byName.get('Identity')!, byName,
  };
  stockByTf.set(tf, stock);
  return stock;
}

/** Replaces a wasm kernel's function (keeping no setupFunc: ours need none, and the stock ones already ran theirs). */
export function registerWasmKernel(tf: Tf, name: string, fn: WasmKernel): void {
  if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
  const config: KernelConfig = { kernelName: name, backendName: 'wasm', kernelFunc: markOurs(fn) as unknown as KernelFunc };
  tf.registerKernel(config);
}

export function restoreStock(tf: Tf): void {
  const stock = stockByTf.get(tf);
  if (!stock) return;
  for (const [name, fn] of stock.byName) {
    registerWasmKernel(tf, name, fn);
    // registerWasmKernel marked it as ours; unmark so a later capture is not refused.
    ours.delete(fn);
  }
}
