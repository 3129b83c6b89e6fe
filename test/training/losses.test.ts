// Losses and their gradients against finite differences; centering, sharpening, Sinkhorn, EMA and schedules by hand.
import test from 'ava';
import type { Scalar, Tensor, Tensor2D } from '@tensorflow/tfjs';
import { loadBackend } from '../../src/backend.ts';
import { presets } from '../../training/config.ts';
import { distillLoss, teacherProbs, updateCentre } from '../../training/loss/distill.ts';
import { protoLoss, sharpen, sinkhorn } from '../../training/loss/prototypes.ts';
import { emaUpdate } from '../../training/ema.ts';
import { Params } from '../../training/params.ts';
import { Rng } from '../../training/rng.ts';
import { buildSchedules, cosineSchedule } from '../../training/schedule.ts';

const { tf } = await loadBackend('cpu', { quiet: true });

function rand(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** Central differences of f at x on `picks` coordinates; returns the max error relative to the gradient's scale. */
function checkGrad(f: (x: Tensor) => Scalar, x0: Float32Array, shape: number[], picks: number[], eps = 1e-2): number {
  const g = tf.grad(f)(tf.tensor(x0, shape)).dataSync();
  const scale = Math.max(...Array.from(g, Math.abs), 1e-3);
  let worst = 0;
  for (const i of picks) {
    const xp = x0.slice();
    xp[i] += eps;
    const xm = x0.slice();
    xm[i] -= eps;
    const fd = (f(tf.tensor(xp, shape)).dataSync()[0] - f(tf.tensor(xm, shape)).dataSync()[0]) / (2 * eps);
    worst = Math.max(worst, Math.abs(fd - g[i]) / scale);
  }
  return worst;
}

test('distillation loss: value by hand, gradient matches finite differences', (t) => {
  const rng = new Rng(1);
  const b = 2, k = 5, crops = 3;
  const s = rand(rng, crops * b * k);
  const te = rand(rng, 2 * b * k);
  const centre = tf.tensor1d(rand(rng, k, 0.1));
  const pt = teacherProbs(tf, tf.tensor2d(te, [2 * b, k]), centre, 0.5);
  const loss = distillLoss(tf, tf.tensor2d(s, [crops * b, k]), pt, 0.7, crops).dataSync()[0];
  // By hand: pairs (i, v ≠ i) over i ∈ {0,1}, v ∈ {0,1,2}.
  const P = pt.arraySync();
  let want = 0;
  for (let i = 0; i < 2; i++)
    for (let v = 0; v < crops; v++) {
      if (v === i) continue;
      for (let n = 0; n < b; n++) {
        const row = Array.from(s.subarray((v * b + n) * k, (v * b + n + 1) * k), (x) => x / 0.7);
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
        for (let j = 0; j < k; j++) want -= P[i * b + n][j] * (row[j] - lse);
      }
    }
  want /= 2 * (crops - 1) * b;
  t.true(Math.abs(loss - want) < 1e-4, `${loss} vs ${want}`);
  const err = checkGrad((x) => distillLoss(tf, x as Tensor2D, pt, 0.7, crops), s, [crops * b, k], [0, 3, 7, 12, 20, 29]);
  t.true(err < 2e-2, `gradient error ${err}`);
});

test('centering: c ← m·c + (1 − m)·mean, and teacher probabilities centred and sharpened', (t) => {
  const c = new Float32Array([1, 2]);
  updateCentre(c, new Float32Array([3, -2]), 0.9);
  t.true(Math.abs(c[0] - 1.2) < 1e-6 && Math.abs(c[1] - 1.6) < 1e-6);
  const p = teacherProbs(tf, tf.tensor2d([[2, 1]]), tf.tensor1d([1, 0]), 0.5).dataSync();
  // (2−1)/0.5 = 2, (1−0)/0.5 = 2 → equal.
  t.true(Math.abs(p[0] - 0.5) < 1e-6);
});

test('sharpening by hand; Sinkhorn balances prototypes', (t) => {
  const q = sharpen(tf, tf.tensor2d([[0.6, 0.3, 0.1]]), 0.5).dataSync();
  const z = 0.36 + 0.09 + 0.01;
  t.true(Math.abs(q[0] - 0.36 / z) < 1e-5 && Math.abs(q[2] - 0.01 / z) < 1e-5);
  const rng = new Rng(2);
  const b = 8, k = 4;
  const scores = Float32Array.from({ length: b * k }, () => rng.uniform(-1, 1));
  // Enough iterations to converge: rows sum to 1 and each prototype gets b/k of the mass.
  const a = sinkhorn(scores, b, k, 0.05, 100);
  for (let r = 0; r < b; r++) t.true(Math.abs(a.subarray(r * k, r * k + k).reduce((x, y) => x + y, 0) - 1) < 1e-4);
  const col = Array.from({ length: k }, (_, c) => Array.from({ length: b }, (_, r) => a[r * k + c]).reduce((x, y) => x + y, 0));
  for (const v of col) t.true(Math.abs(v - b / k) < 0.05, `column mass ${v}`);
});

test('prototype loss: gradient in the features and the bank matches finite differences (mean-entropy included)', (t) => {
  const rng = new Rng(3);
  const b = 2, d = 4, kp = 6, crops = 3;
  const zs = rand(rng, crops * b * d);
  const bank = rand(rng, kp * d);
  const tgt = sharpen(tf, tf.softmax(tf.tensor2d(rand(rng, 2 * b * kp), [2 * b, kp])) as Tensor2D, 0.25);
  const opts = { temp: 0.3, meanEntropyWeight: 1, crops };
  const norm = (x: Tensor) => tf.div(x, tf.norm(x, 'euclidean', -1, true)) as Tensor2D;
  const C = tf.tensor2d(bank, [kp, d]);
  const errZ = checkGrad((x) => protoLoss(tf, norm(x), C, tgt, opts).loss, zs, [crops * b, d], [0, 5, 9, 14, 23]);
  const Z = norm(tf.tensor2d(zs, [crops * b, d]));
  const errC = checkGrad((x) => protoLoss(tf, Z, x as Tensor2D, tgt, opts).loss, bank, [kp, d], [0, 6, 11, 17, 23]);
  t.true(errZ < 2e-2, `features: ${errZ}`);
  t.true(errC < 2e-2, `bank: ${errC}`);
  // The value includes −λ_me·H(p̄).
  const parts = protoLoss(tf, Z, C, tgt, opts);
  t.true(Math.abs(parts.loss.dataSync()[0] - (parts.ce - parts.meanEntropy)) < 1e-4);
});

test('EMA update is exact', (t) => {
  const s = new Params(tf);
  const te = new Params(tf);
  s.add('w', [3], new Float32Array([1, 2, 3]));
  te.add('w', [3], new Float32Array([0, 0, 6]));
  emaUpdate(tf, te, s, 0.75);
  t.deepEqual(Array.from(te.get('w').dataSync()), [0.25, 0.5, 5.25]);
});

test('schedules: endpoints, warm-up and monotonicity', (t) => {
  const s = cosineSchedule(1, 0.1, 50, 10);
  t.is(s[0], 0);
  t.true(Math.abs(s[10] - 1) < 1e-12);
  t.true(Math.abs(s[49] - 0.1) < 1e-12);
  for (let i = 1; i < 10; i++) t.true(s[i] > s[i - 1]);
  for (let i = 11; i < 50; i++) t.true(s[i] <= s[i - 1]);
  // DINO's schedules, as the small preset keeps them.
  const cfg = { ...presets.small, steps: 100 };
  const sc = buildSchedules(cfg, 64);
  t.is(sc.total, 100);
  t.is(sc.momentum[0], 0.996);
  t.is(sc.momentum[99], 1);
  t.is(sc.teacherTemp[0], 0.04);
  t.true(Math.abs(sc.teacherTemp[29] - 0.07) < 1e-12 && sc.teacherTemp[99] === 0.07);
  t.true(Math.abs(sc.weightDecay[0] - 0.04) < 1e-12 && Math.abs(sc.weightDecay[99] - 0.4) < 1e-12);
  for (let i = 1; i < 100; i++) t.true(sc.momentum[i] >= sc.momentum[i - 1] && sc.weightDecay[i] >= sc.weightDecay[i - 1]);
  t.true(Math.abs(sc.lr[10] - (5e-4 * 64) / 256) < 1e-12);
  t.is(sc.freezeLastLayerSteps, 1); // 1 of the nominal 100 epochs: 1 % of the run
});

test('learning-rate rules: linear (DINO), sqrt, and none (baseLr as is)', (t) => {
  const peak = (optim: object) => {
    const s = buildSchedules({ ...presets.small, batchSize: 16, steps: 100, optim: { ...presets.small.optim, warmupFraction: 0, ...optim } }, 64);
    return s.lr[0];
  };
  t.true(Math.abs(peak({ lrScaling: 'linear' }) - 5e-4 / 16) < 1e-12);
  t.true(Math.abs(peak({ lrScaling: 'sqrt' }) - 5e-4 / 4) < 1e-12);
  t.true(Math.abs(peak({ lrScaling: 'none' }) - 5e-4) < 1e-12);
});

test('the last-layer freeze scales with the run length like the warm-ups', (t) => {
  // 2,000 images at batch 16 are 125 steps per epoch: a 40-step run must not keep the last layer frozen throughout.
  const at = (steps: number, freezeLastLayerEpochs = 1) =>
    buildSchedules({ ...presets.tiny, steps, optim: { ...presets.tiny.optim, freezeLastLayerEpochs } }, 2000);
  t.is(at(40).freezeLastLayerSteps, 2);
  t.is(at(4000).freezeLastLayerSteps, 200);
  // A run whose length is set by epochs freezes exactly freezeLastLayerEpochs epochs.
  t.is(at(0).total, 2500);
  t.is(at(0).freezeLastLayerSteps, 125);
  t.is(at(0, 2).freezeLastLayerSteps, 250);
  t.is(at(40, 0).freezeLastLayerSteps, 0);
});
