// AdamW with decoupled weight decay (torch.optim.AdamW's update), per-step lr and weight decay from the schedules,
// no decay on biases and norm parameters (rank ≤ 1, as DINO's get_params_groups) nor on the names given as `exempt`
// (the prototypes, as MSN), and gradient clipping. Each parameter counts its own updates for bias correction, as
// torch's per-parameter `state['step']`: one that starts later (the last layer after its freeze) starts from 1.
import type { Tensor, Variable } from '@tensorflow/tfjs';
import type { Tf } from '../src/backend.ts';
import type { OptimConfig } from './config.ts';
import { fusedOps, type AdamWEntry } from './kernels/native-fused.ts';

export class AdamW {
  readonly m = new Map<string, Variable>();
  readonly v = new Map<string, Variable>();
  /** Updates applied so far to each parameter (its bias correction). */
  readonly steps = new Map<string, number>();

  constructor(
    readonly tf: Tf,
    readonly params: Map<string, Variable>,
    readonly cfg: Pick<OptimConfig, 'beta1' | 'beta2' | 'eps'>,
    /** Parameters that take no weight decay whatever their rank. */
    readonly exempt: ReadonlySet<string> = new Set(),
  ) {
    tf.tidy(() => {
      for (const [name, p] of params) {
        this.m.set(name, tf.variable(tf.zerosLike(p), false));
        this.v.set(name, tf.variable(tf.zerosLike(p), false));
        this.steps.set(name, 0);
      }
    });
  }

  decays(name: string): boolean {
    return this.params.get(name)!.rank > 1 && !this.exempt.has(name);
  }

  /** Applies one update; `grads` may miss names (frozen this step). */
  step(grads: Map<string, Tensor>, lr: number, weightDecay: number): void {
    const { tf } = this;
    const { beta1, beta2, eps } = this.cfg;
    const fused = fusedOps(tf);
    if (fused) {
      // The same update as below, all parameters in one native call (training/kernels/native-fused.ts).
      const entries: AdamWEntry[] = [];
      for (const [name, g] of grads) {
        const t = this.steps.get(name)! + 1;
        this.steps.set(name, t);
        entries.push({
          p: this.params.get(name)!, g, m: this.m.get(name)!, v: this.v.get(name)!, gradScale: 1,
          decay: weightDecay > 0 && this.decays(name) ? 1 - lr * weightDecay : 1,
          stepSize: lr / (1 - beta1 ** t),
          sqrtBc2: Math.sqrt(1 - beta2 ** t),
        });
      }
      fused.adamw(entries, beta1, beta2, eps);
      return;
    }
    tf.tidy(() => {
      for (const [name, g] of grads) {
        const p = this.params.get(name)!;
        const t = this.steps.get(name)! + 1;
        this.steps.set(name, t);
        const bc1 = 1 - beta1 ** t;
        const bc2 = 1 - beta2 ** t;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        let next: Tensor = p;
        if (weightDecay > 0 && this.decays(name)) next = tf.mul(next, 1 - lr * weightDecay);
        const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), eps);
        next = tf.sub(next, tf.mul(tf.div(m1, denom), lr / bc1));
        p.assign(next);
      }
    });
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}

/**
 * Gradient norms: each parameter's own (DINO's clip_gradients) or the global one; returns the pre-clip global norm.
 * `exempt` names are neither clipped nor counted in the norm.
 */
export function clipGradients(
  tf: Tf, grads: Map<string, Tensor>, clip: number, mode: 'per-parameter' | 'global', exempt: ReadonlySet<string> = new Set(),
): number {
  const norms = new Map<string, number>();
  let sq = 0;
  const counted = [...grads].filter(([name]) => !exempt.has(name));
  // One native call for all the norms when installed (training/kernels/native-fused.ts), else two tf ops each.
  const fusedSq = fusedOps(tf)?.sumSquares(counted.map(([, g]) => g));
  counted.forEach(([name, g], i) => {
    let n: number;
    if (fusedSq) n = Math.sqrt(fusedSq[i]);
    else {
      const sqT = tf.tidy(() => tf.sum(tf.square(g)));
      n = Math.sqrt(sqT.dataSync()[0]);
      sqT.dispose();
    }
    norms.set(name, n);
    sq += n * n;
  });
  const global = Math.sqrt(sq);
  if (clip > 0) {
    for (const [name, g] of grads) {
      if (exempt.has(name)) continue;
      const n = mode === 'global' ? global : norms.get(name)!;
      const coef = clip / (n + 1e-6);
      if (coef < 1) {
        grads.set(name, tf.mul(g, coef));
        g.dispose();
      }
    }
  }
  return global;
}
