// Named trainable tensors. Models here are plain functions over a Params object, so the same forward serves the
// student and the teacher, and checkpoints, EMA and the optimiser walk one ordered list of names.
import type { Tensor, Variable } from '@tensorflow/tfjs';
import type { Tf } from '../src/backend.ts';
import type { Rng } from './rng.ts';
import { fusedOps } from './kernels/native-fused.ts';

export type Init = 'zeros' | 'ones' | { truncNormal: number } | { uniform: number } | Float32Array;

export class Params {
  readonly vars = new Map<string, Variable>();

  constructor(readonly tf: Tf) {}

  add(name: string, shape: number[], init: Init, rng?: Rng): Variable {
    if (this.vars.has(name)) throw new Error(`parameter ${name} defined twice`);
    const size = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (init instanceof Float32Array) data = init;
    else {
      data = new Float32Array(size);
      if (init === 'ones') data.fill(1);
      else if (init !== 'zeros') {
        if (!rng) throw new Error(`parameter ${name}: random init needs a generator`);
        if ('truncNormal' in init) for (let i = 0; i < size; i++) data[i] = rng.truncNormal(init.truncNormal);
        else for (let i = 0; i < size; i++) data[i] = rng.uniform(-init.uniform, init.uniform);
      }
    }
    if (data.length !== size) throw new Error(`parameter ${name}: ${data.length} values for shape [${shape}]`);
    const t = this.tf.tensor(data, shape);
    const v = this.tf.variable(t, true);
    t.dispose();
    this.vars.set(name, v);
    return v;
  }

  get(name: string): Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  names(): string[] {
    return [...this.vars.keys()];
  }

  list(): Variable[] {
    return [...this.vars.values()];
  }

  /** Copies values from plain arrays (a checkpoint or another worker), checking every name and size. */
  load(values: Map<string, Float32Array>, prefix = ''): void {
    for (const [name, v] of this.vars) {
      const data = values.get(prefix + name);
      if (!data) throw new Error(`checkpoint has no tensor ${prefix + name}`);
      if (data.length !== v.size) throw new Error(`checkpoint tensor ${prefix + name}: ${data.length} values, expected ${v.size}`);
      this.tf.tidy(() => v.assign(this.tf.tensor(data, v.shape)));
    }
  }

  async read(prefix = ''): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.vars) out.set(prefix + name, (await v.data()) as Float32Array);
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

/** x·W + b over the last axis of a tensor of any rank (the bias inside the native matmul when installed). */
export function linear(tf: Tf, x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const shape = x.shape;
  const x2 = x.reshape([-1, shape[shape.length - 1]]);
  const fused = b && x.dtype === 'float32' && w.dtype === 'float32' && b.dtype === 'float32' && b.rank === 1 ? fusedOps(tf)?.linear : undefined;
  if (fused) return fused(x2, w, b!).reshape([...shape.slice(0, -1), w.shape[1]!]);
  let y = tf.matMul(x2 as never, w as never) as Tensor;
  if (b) y = tf.add(y, b);
  return y.reshape([...shape.slice(0, -1), w.shape[1]!]);
}

/** Layer norm over the last axis (one native kernel each way when installed: training/kernels/native-fused.ts). */
export function layerNorm(tf: Tf, x: Tensor, g: Tensor, b: Tensor, eps: number): Tensor {
  const fused = x.dtype === 'float32' && g.dtype === 'float32' && b.dtype === 'float32' && g.rank === 1 && b.rank === 1 ? fusedOps(tf) : undefined;
  if (fused) return fused.layerNorm(x, g, b, eps);
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), g), b);
}

/** Exact GELU, as torch.nn.GELU (one native kernel each way when installed: training/kernels/native-fused.ts). */
export function gelu(tf: Tf, x: Tensor): Tensor {
  const fused = x.dtype === 'float32' ? fusedOps(tf) : undefined;
  if (fused) return fused.gelu(x);
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/** Softmax over the last axis (one native kernel each way when installed: training/kernels/native-fused.ts). */
export function softmax(tf: Tf, x: Tensor): Tensor {
  const fused = x.dtype === 'float32' && x.rank > 0 ? fusedOps(tf) : undefined;
  return fused ? fused.softmax(x) : tf.softmax(x, -1);
}

/** Log-softmax over the last axis (one native kernel each way when installed). */
export function logSoftmax(tf: Tf, x: Tensor): Tensor {
  const fused = x.dtype === 'float32' && x.rank > 0 ? fusedOps(tf) : undefined;
  return fused ? fused.logSoftmax(x) : tf.logSoftmax(x, -1);
}
