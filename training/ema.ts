// The teacher is an exponential moving average of the student: θ_t ← m·θ_t + (1 − m)·θ_s after every step.
import type { Tf } from '../src/backend.ts';
import type { Params } from './params.ts';
import { fusedOps } from './kernels/native-fused.ts';

export function emaUpdate(tf: Tf, teacher: Params, student: Params, momentum: number): void {
  const fused = fusedOps(tf);
  // All parameters in one native call when installed (training/kernels/native-fused.ts); the same arithmetic.
  if (fused) return fused.ema([...teacher.vars].map(([name, t]) => [t, student.get(name)]), momentum);
  tf.tidy(() => {
    for (const [name, t] of teacher.vars) {
      t.assign(tf.add(tf.mul(t, momentum), tf.mul(student.get(name), 1 - momentum)));
    }
  });
}
