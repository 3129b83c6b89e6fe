// The tfjs-backend-wasm internals the native kernels (training's matmul and ops, face analysis's convolutions) rely
// on, in one place. They are not public API, so the project pins @tensorflow/tfjs-backend-wasm to 4.22.0 and every
// native kernel set self-tests before it is trusted:
// - backend.dataIdMap.get(dataId).memoryOffset: a tensor's byte offset in the wasm heap (stable: malloc never moves);
// - backend.makeOutput(shape, dtype): allocates an output tensor on the heap (may grow the memory);
// - backend.wasm.HEAPU8: the heap view, REPLACED when the memory grows, so it is re-read after every allocation;
// - backend.disposeData(dataId): frees an intermediate made inside a kernel.
import { createRequire } from 'node:module';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

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

/** A tensor's byte offset in the wasm heap; null when it has none (not on this backend). */
export function heapOffset(backend: WasmBackendLike, t: TensorInfo): number | null {
  const d = backend.dataIdMap.get(t.dataId);
  return d && d.memoryOffset != null ? d.memoryOffset : null;
}
