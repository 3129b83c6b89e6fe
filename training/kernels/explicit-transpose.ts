// BatchMatMul and _FusedMatMul with transposed operands made explicit: tfjs-backend-wasm's matmul with
// transposeA/transposeB falls off XNNPACK's fast path (the batched attention matmuls run at ~2 GFLOP/s), so
// transpose the operand with tf's own Transpose kernel first and run the stock kernel untransposed.
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Tf } from '../../src/backend.ts';
import type { KernelArgs, StockKernels, WasmKernel } from './wasm-internals.ts';

/** The permutation that swaps the last two axes of a rank-`rank` tensor. */
export function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

function transposeLastTwo(stock: StockKernels, x: TensorInfo, backend: KernelArgs['backend']): TensorInfo {
  return stock.transpose({ inputs: { x }, backend, attrs: { perm: swapLastTwo(x.shape.length) } });
}

function withExplicitTransposes(stock: StockKernels, kernel: WasmKernel): WasmKernel {
  return ({ inputs, backend, attrs }) => {
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return kernel({ inputs, backend, attrs });
    const a = inputs.a;
    const b = inputs.b;
    const made: TensorInfo[] = [];
    const at = transposeA ? transposeLastTwo(stock, a, backend) : a;
    if (transposeA) made.push(at);
    const bt = transposeB ? transposeLastTwo(stock, b, backend) : b;
    if (transposeB) made.push(bt);
    try {
      return kernel({ inputs: { ...inputs, a: at, b: bt }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      for (const t of made) backend.disposeData(t.dataId);
    }
  };
}

export function explicitBatchMatMul(stock: StockKernels): WasmKernel {
  return withExplicitTransposes(stock, stock.batchMatMul);
}

/**
 * Stock _FusedMatMul (4.22.0) adds the bias wrongly off XNNPACK's path (transposeB, or several batches): rows after
 * the first get the wrong bias elements. So: transposes made explicit, the fused kernel for one batch, and for
 * several batches the unfused composition (BatchMatMul, Add, the activation's own kernel).
 */
export function explicitFusedMatMul(stock: StockKernels, tf: Tf): WasmKernel {
  const fusedOneBatch = withExplicitTransposes(stock, stock.fusedMatMul);
  const matmul = explicitBatchMatMul(stock);
  const kernel = (name: string): WasmKernel => {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`tfjs-backend-wasm has no ${name} kernel`);
    return k.kernelFunc as unknown as WasmKernel;
  };
  return (args) => {
    const { inputs, backend, attrs } = args;
    const batches = Math.max(inputs.a.shape[0] ?? 1, inputs.b.shape[0] ?? 1);
    if (inputs.a.shape.length === 3 && batches <= 1) return fusedOneBatch(args);
    const { transposeA, transposeB, activation, leakyreluAlpha } = attrs as {
      transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number;
    };
    let y = matmul({ inputs: { a: inputs.a, b: inputs.b }, backend, attrs: { transposeA, transposeB } });
    const step = (next: TensorInfo) => {
      backend.disposeData(y.dataId);
      y = next;
    };
    if (inputs.bias) step(kernel('Add')({ inputs: { a: y, b: inputs.bias }, backend, attrs: {} }));
    switch (activation ?? 'linear') {
      case 'linear':
        break;
      case 'relu': step(kernel('Relu')({ inputs: { x: y }, backend, attrs: {} })); break;
      case 'relu6': step(kernel('Relu6')({ inputs: { x: y }, backend, attrs: {} })); break;
      case 'sigmoid': step(kernel('Sigmoid')({ inputs: { x: y }, backend, attrs: {} })); break;
      case 'elu': step(kernel('Elu')({ inputs: { x: y }, backend, attrs: {} })); break;
      case 'leakyrelu': step(kernel('LeakyRelu')({ inputs: { x: y }, backend, attrs: { alpha: leakyreluAlpha ?? 0.2 } })); break;
      case 'prelu': step(kernel('Prelu')({ inputs: { x: y, alpha: inputs.preluActivationWeights }, backend, attrs: {} })); break;
      default:
        backend.disposeData(y.dataId);
        throw new Error(`${activation} activation is not supported for _FusedMatMul on wasm`);
    }
    return y;
  };
}
