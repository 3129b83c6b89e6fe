// Identity without a copy on the wasm backend. Stock tfjs-backend-wasm copies the whole tensor on every Identity,
// and autodiff issues ~100 of them per image per ProS step; sharing the data with a reference count is what tfjs's
// own Reshape does on wasm (and Identity does on the cpu backend). tfjs never writes into a tensor's data in place.
import type { KernelArgs, WasmKernel } from './wasm-internals.ts';

export function sharedIdentity(fallback: WasmKernel): WasmKernel {
  return (args: KernelArgs) => {
    const { x } = args.inputs;
    if (x.dtype === 'string' || !args.backend.dataIdMap.get(x.dataId)) return fallback(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}
