// Installs the fastest matmul kernel this machine allows on the wasm backend, and says which:
//   native-openblas    BatchMatMul/_FusedMatMul through OpenBLAS sgemm on the wasm heap (native/ addon), and
//                      Transpose through the addon's strided copy, Identity without a copy, after a start-up
//                      self-test against the stock kernels;
//   explicit-transpose transposed operands made explicit, then the stock kernel (always available on wasm);
//   stock              tfjs-backend-wasm's own kernels, untouched.
// Choice: opts.prefer, else $PROS_MATMUL (auto|native|explicit|stock), else auto. BLAS threads: opts.blasThreads,
// else $PROS_BLAS_THREADS, else every core on the main thread and 1 in a worker thread. $PROS_NATIVE_ADDON and $PROS_OPENBLAS override where the addon and the library
// are looked for (tests point them at nothing). Environment variables reach data-parallel worker threads too.
import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import type { Tf } from '../../src/backend.ts';
import { envChoice, envInt } from '../../src/env.ts';
import { explicitBatchMatMul, explicitFusedMatMul } from './explicit-transpose.ts';
import { loadNativeAddon, nativeBatchMatMul, nativeFusedMatMul, type NativeAddon } from './native-matmul.ts';
import { nativeTranspose } from './native-transpose.ts';
import { sharedIdentity } from './identity.ts';
import { nativeOpKernels } from './native-ops.ts';
import { FUSED_KERNELS, fusedKernels, nativeFusedOps, setFusedOps } from './native-fused.ts';
import { fusedSelfTest, opsSelfTest } from './ops-self-test.ts';
import { PINNED_WASM_VERSION, registerWasmKernel, restoreStock, stockKernels, wasmBackendVersion, type WasmBackendLike, type WasmKernel } from './wasm-internals.ts';

export type MatmulPath = 'native-openblas' | 'explicit-transpose' | 'stock' | 'not-wasm';
export type MatmulPreference = 'auto' | 'native' | 'explicit' | 'stock';

export interface InstallMatmulOptions {
  prefer?: MatmulPreference;
  /**
   * OpenBLAS threads (default $PROS_BLAS_THREADS, else: every core on the main thread, 1 in a worker thread, where
   * parallelism comes from the data-parallel workers). The count is process-wide: the last install sets it.
   */
  blasThreads?: number;
  quiet?: boolean;
  /** Where the addon is (default native/build/Release/pros_native.node). */
  addonPath?: string;
  /** Which OpenBLAS shared library to dlopen (default libopenblas.so.0, then libopenblas.so). */
  blasLibrary?: string;
}

export interface MatmulInstall {
  path: MatmulPath;
  reason: string;
}

const preferences: MatmulPreference[] = ['auto', 'native', 'explicit', 'stock'];

function preference(opts: InstallMatmulOptions): MatmulPreference {
  if (opts.prefer) return opts.prefer;
  return envChoice('PROS_MATMUL', preferences, 'auto');
}

export function installMatmul(tf: Tf, opts: InstallMatmulOptions = {}): MatmulInstall {
  const done = (r: MatmulInstall): MatmulInstall => {
    if (!opts.quiet) process.stderr.write(`matmul: ${r.path} (${r.reason})\n`);
    return r;
  };
  if (tf.getBackend() !== 'wasm') return done({ path: 'not-wasm', reason: `backend is ${tf.getBackend()}; kernels left as they are` });
  const stock = stockKernels(tf);
  restoreStock(tf);
  setFusedOps(tf, undefined);
  unregisterFused(tf);
  const prefer = preference(opts);
  if (prefer === 'stock') return done({ path: 'stock', reason: 'asked for' });

  const wantThreads = Math.max(1, opts.blasThreads ?? (envInt('PROS_BLAS_THREADS', 1) ?? (isMainThread ? availableParallelism() : 1)));
  // A fallback still gets the addon's elementwise and fused ops when the addon loads (they need no BLAS); the
  // explicit path asked for stays as it is (the benchmarks' reference).
  const useExplicit = (why: string, ops?: NativeAddon): MatmulInstall => {
    registerWasmKernel(tf, 'BatchMatMul', explicitBatchMatMul(stock));
    registerWasmKernel(tf, '_FusedMatMul', explicitFusedMatMul(stock, tf));
    const extra = ops ? `; ${installNativeOps(tf, tf.backend() as unknown as WasmBackendLike, ops, stock.byName, wantThreads, false)}` : '';
    return done({ path: 'explicit-transpose', reason: why + extra });
  };
  if (prefer === 'explicit') return useExplicit('asked for');

  // The native kernels read tfjs-backend-wasm internals (wasm-internals.ts); another version may lay them out otherwise.
  const version = wasmBackendVersion();
  if (version !== PINNED_WASM_VERSION) return useExplicit(`tfjs-backend-wasm ${version} is not the pinned ${PINNED_WASM_VERSION} the native kernels were written against`);
  const loaded = loadNativeAddon(opts.addonPath ?? (process.env.PROS_NATIVE_ADDON || undefined), opts.blasLibrary ?? (process.env.PROS_OPENBLAS || undefined));
  if (!loaded.addon) return useExplicit(loaded.reason, loaded.ops);
  const threads = loaded.addon.setThreads(wantThreads);
  const backend = tf.backend() as unknown as WasmBackendLike;
  const batch = nativeBatchMatMul(loaded.addon);
  const fused = nativeFusedMatMul(loaded.addon, explicitFusedMatMul(stock, tf));
  const transpose = nativeTranspose(loaded.addon, stock.transpose);
  const failure =
    selfTest(tf, backend, stock.batchMatMul, explicitFusedMatMul(stock, tf), batch, fused) ??
    transposeSelfTest(tf, backend, stock.transpose, transpose);
  if (failure) return useExplicit(`native self-test failed: ${failure}`, loaded.addon);
  registerWasmKernel(tf, 'BatchMatMul', batch);
  registerWasmKernel(tf, '_FusedMatMul', fused);
  registerWasmKernel(tf, 'Transpose', transpose);
  registerWasmKernel(tf, 'Identity', sharedIdentity(stock.identity));
  const ops = installNativeOps(tf, backend, loaded.addon, stock.byName, threads, true);
  return done({ path: 'native-openblas', reason: `${loaded.library}, ${threads} BLAS thread${threads === 1 ? '' : 's'}, self-test passed; ${ops}` });
}

/**
 * The elementwise kernels (native-ops.ts) and the fused AdamW / EMA / norms (native-fused.ts), each after its own
 * self-test; what fails keeps the stock version. Returns one line for the start-up message.
 */
function installNativeOps(tf: Tf, backend: WasmBackendLike, addon: NativeAddon, stock: Map<string, WasmKernel>, threads: number, matmul: boolean): string {
  if (typeof addon.binary !== 'function') return 'native ops: not in this addon build (run npm run build:native)';
  addon.setOpThreads(threads);
  const get = (name: string) => stock.get(name)!;
  const { passed, failed } = opsSelfTest(tf, backend, nativeOpKernels(addon, get), get);
  const fused = nativeFusedOps(tf, addon, matmul);
  for (const k of fusedKernels(addon)) registerWasmKernel(tf, k.name, k.kernel);
  const fusedFailure = fusedSelfTest(tf, fused);
  for (const k of passed) registerWasmKernel(tf, k.name, k.kernel);
  if (!fusedFailure) setFusedOps(tf, fused);
  else unregisterFused(tf);
  const what = `fused AdamW/EMA/GELU/layer norm/softmax${matmul ? '/bias' : ''}`;
  const parts = [`native ops: ${passed.length} kernels on ${threads} thread${threads === 1 ? '' : 's'}`, fusedFailure ? `${what} off (${fusedFailure})` : what];
  if (failed.length) parts.push(`self-test failed, stock kept: ${failed.join('; ')}`);
  return parts.join(', ');
}

/** Puts tfjs-backend-wasm's own kernels back. */
export function uninstallMatmul(tf: Tf): void {
  if (tf.getBackend() === 'wasm') restoreStock(tf);
  setFusedOps(tf, undefined);
  unregisterFused(tf);
}

function unregisterFused(tf: Tf): void {
  for (const name of FUSED_KERNELS) if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
}

export type { NativeAddon };

// ---- start-up self-test: the native kernels against the stock ones on small shapes of every kind used ----

interface Case {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
  fused?: { bias: number[]; activation: string; leakyreluAlpha?: number };
}

const cases: Case[] = [
  ...[false, true].flatMap((ta) => [false, true].map((tb) => ({ a: ta ? [3, 7, 5] : [3, 5, 7], b: tb ? [3, 4, 7] : [3, 7, 4], transposeA: ta, transposeB: tb }))),
  { a: [9, 6], b: [6, 11], transposeA: false, transposeB: false },
  { a: [1, 6, 8], b: [1, 5, 8], transposeA: false, transposeB: true, fused: { bias: [5], activation: 'relu' } },
  { a: [1, 8, 6], b: [1, 8, 5], transposeA: true, transposeB: false, fused: { bias: [5], activation: 'leakyrelu', leakyreluAlpha: 0.1 } },
  { a: [2, 4, 3], b: [2, 3, 6], transposeA: false, transposeB: false, fused: { bias: [6], activation: 'linear' } },
];

export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) return Infinity;
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

// The fused reference is the explicit-transpose kernel: stock _FusedMatMul adds the bias wrongly with transposeB or
// several batches in 4.22.0 (see docs/training-kernels.md).
function selfTest(
  tf: Tf, backend: WasmBackendLike, refBatch: WasmKernel, refFused: WasmKernel, batch: WasmKernel, fused: WasmKernel,
): string | null {
  const read = (t: { dataId: object }) => (backend as unknown as { readSync(id: object): Float32Array }).readSync(t.dataId);
  for (const c of cases) {
    const made = [tf.randomUniform(c.a, -1, 1, 'float32', 7), tf.randomUniform(c.b, -1, 1, 'float32', 8)];
    if (c.fused) made.push(tf.randomUniform(c.fused.bias, -1, 1, 'float32', 9));
    const inputs = { a: made[0], b: made[1], ...(c.fused ? { bias: made[2] } : {}) };
    const attrs = { transposeA: c.transposeA, transposeB: c.transposeB, ...(c.fused ? { activation: c.fused.activation, leakyreluAlpha: c.fused.leakyreluAlpha ?? 0 } : {}) };
    const outs: { dataId: object; shape: number[] }[] = [];
    try {
      const want = (c.fused ? refFused : refBatch)({ inputs, backend, attrs });
      outs.push(want);
      const got = (c.fused ? fused : batch)({ inputs, backend, attrs });
      outs.push(got);
      const err = relativeError(read(got), read(want));
      if (String(got.shape) !== String(want.shape)) return `shape ${got.shape} != ${want.shape} for ${JSON.stringify(c)}`;
      if (!(err <= 1e-5)) return `relative error ${err.toExponential(2)} for ${JSON.stringify(c)}`;
    } catch (e) {
      return `${(e as Error).message} for ${JSON.stringify(c)}`;
    } finally {
      for (const o of outs) backend.disposeData(o.dataId);
      for (const t of made) t.dispose();
    }
  }
  return null;
}

const transposeCases: Array<[number[], number[]]> = [
  [[2, 5, 3, 3, 4], [2, 0, 3, 1, 4]], // qkv split
  [[2, 2, 3, 2, 3, 3], [0, 1, 3, 2, 4, 5]], // patchify
  [[1, 3, 1, 4], [3, 2, 1, 0]],
  [[5, 7], [1, 0]],
];

function transposeSelfTest(tf: Tf, backend: WasmBackendLike, ref: WasmKernel, native: WasmKernel): string | null {
  const read = (t: { dataId: object }) => (backend as unknown as { readSync(id: object): Float32Array }).readSync(t.dataId);
  for (const [shape, perm] of transposeCases) {
    const x = tf.randomUniform(shape, -1, 1, 'float32', 10);
    const outs: { dataId: object; shape: number[] }[] = [];
    try {
      const want = ref({ inputs: { x }, backend, attrs: { perm } });
      outs.push(want);
      const got = native({ inputs: { x }, backend, attrs: { perm } });
      outs.push(got);
      if (String(got.shape) !== String(want.shape) || relativeError(read(got), read(want)) !== 0) return `transpose ${shape} by ${perm} differs`;
    } catch (e) {
      return `transpose ${shape} by ${perm}: ${(e as Error).message}`;
    } finally {
      for (const o of outs) backend.disposeData(o.dataId);
      x.dispose();
    }
  }
  return null;
}
