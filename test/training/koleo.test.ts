// KoLeo: the value by hand on a small batch, its gradient against finite differences, and that a step down its
// gradient spreads a clumped batch (the nearest-neighbour distances grow).
import test from 'ava';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { loadBackend } from '../../src/backend.ts';
import { koleoLoss } from '../../training/loss/koleo.ts';
import { Rng } from '../../training/rng.ts';

const { tf } = await loadBackend('cpu', { quiet: true });

function byHand(rows: number[][]): number {
  const z = rows.map((r) => {
    const n = Math.hypot(...r);
    return r.map((v) => v / n);
  });
  let s = 0;
  for (let i = 0; i < z.length; i++) {
    let best = Infinity;
    for (let j = 0; j < z.length; j++) if (j !== i) best = Math.min(best, Math.hypot(...z[i].map((v, k) => v - z[j][k])));
    s += Math.log(best + 1e-8);
  }
  return -s / z.length;
}

test('KoLeo value matches −mean log nearest-neighbour distance of the normalised rows', (t) => {
  const rows = [[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 2]];
  const v = koleoLoss(tf, tf.tensor2d(rows)).dataSync()[0];
  t.true(Math.abs(v - byHand(rows)) < 1e-4, `${v} vs ${byHand(rows)}`);
});

test('KoLeo gradient matches finite differences and spreads a clumped batch', (t) => {
  const rng = new Rng(3);
  const n = 6, d = 4;
  // A clump: every row near the same direction.
  const x0 = Float32Array.from({ length: n * d }, (_, i) => (i % d === 0 ? 1 : 0) + 0.1 * rng.normal());
  const f = (x: Tensor) => koleoLoss(tf, x as Tensor2D);
  const g = tf.grad(f)(tf.tensor2d(x0, [n, d])).dataSync();
  const eps = 1e-3;
  let worst = 0;
  const scale = Math.max(...Array.from(g, Math.abs));
  for (const i of [1, 5, 9, 14, 22]) {
    const xp = x0.slice(); xp[i] += eps;
    const xm = x0.slice(); xm[i] -= eps;
    const fd = (f(tf.tensor2d(xp, [n, d])).dataSync()[0] - f(tf.tensor2d(xm, [n, d])).dataSync()[0]) / (2 * eps);
    worst = Math.max(worst, Math.abs(fd - g[i]) / scale);
  }
  t.true(worst < 0.05, `finite-difference error ${worst}`);
  const before = f(tf.tensor2d(x0, [n, d])).dataSync()[0];
  const x1 = x0.map((v, i) => v - 0.01 * g[i]);
  const after = f(tf.tensor2d(x1, [n, d])).dataSync()[0];
  t.true(after < before, `loss ${before} → ${after}`);
});
