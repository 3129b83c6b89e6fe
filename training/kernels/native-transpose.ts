// Transpose on the wasm backend through the native/ addon: tfjs-backend-wasm's kernel moves rank-5 and rank-6
// tensors (the ViT's qkv split and patchify) element by element at ~6 M elements/s, ~200 ms per qkv split at batch
// 32; the addon merges axes and copies whole runs. Used on the native path only, for 4-byte dtypes.
import type { KernelArgs, WasmKernel } from './wasm-internals.ts';

export interface TransposeAddon {
  transpose(heap: Uint8Array, xOffset: number, outOffset: number, shape: Int32Array, perm: Int32Array): void;
}

export function nativeTranspose(addon: TransposeAddon, fallback: WasmKernel): WasmKernel {
  return (args: KernelArgs) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x;
    const perm = (attrs as { perm: number[] }).perm;
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || perm.length !== x.shape.length) return fallback(args);
    const xData = backend.dataIdMap.get(x.dataId);
    if (!xData || xData.memoryOffset == null) return fallback(args);
    // Allocate first: makeOutput may grow the memory, which replaces the heap buffer read below.
    const out = backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype as 'float32');
    const outData = backend.dataIdMap.get(out.dataId)!;
    addon.transpose(backend.wasm.HEAPU8, xData.memoryOffset, outData.memoryOffset, Int32Array.from(x.shape), Int32Array.from(perm));
    return out;
  };
}
