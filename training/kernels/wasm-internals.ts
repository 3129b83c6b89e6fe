// The tfjs-backend-wasm kernel registry as the fast training kernels use it: the stock kernels captured once, ours
// registered under their names and put back. The heap internals they rely on are in src/wasm-internals.ts (shared
// with face analysis's convolutions); install.ts runs a self-test before trusting them.
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import type { Tf } from '../../src/backend.ts';
import type { WasmKernel } from '../../src/wasm-internals.ts';

// The shared part (heap layout, kernel argument types, the pinned version) stands on the floor, for face analysis too.
export { PINNED_WASM_VERSION, wasmBackendVersion, type KernelArgs, type WasmBackendLike, type WasmKernel } from '../../src/wasm-internals.ts';

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
