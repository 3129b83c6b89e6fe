// The linear probe's pieces on a global descriptor (human's 1,024-d vector): the standardiser and the landmark head
// that reads a global vector. Each test pins a defect that made the human landmark baseline land far above the
// mean-shape floor on real faces.
import test from 'ava';
import { loadBackend } from '../../src/backend.ts';
import { fitStandardiser } from '../../training/downstream/standardise.ts';
import { landmarkHead } from '../../training/downstream/heads.ts';
import { fitOnFeatures, probeLr } from '../../training/downstream/protocol.ts';
import { defaults } from '../../src/config.ts';

test('standardiser: a channel constant over the training rows maps to 0, not to (x − m) / 1e-6', (t) => {
  // channel 0 varies, channel 1 is 0 on every training row (a ReLU channel no training face lights up)
  const train = Float32Array.from([1, 0, 3, 0, 5, 0]);
  const s = fitStandardiser(train, 2);
  t.is(s.constant, 1);
  const out = s.apply(Float32Array.from([3, 0.25]));
  t.true(Math.abs(out[0]!) < 1e-6, 'the training mean of channel 0 maps to 0');
  t.is(out[1], 0, 'a test value on a constant channel is not amplified');
  const z = s.apply(Float32Array.from([5, 0]));
  t.true(Math.abs(z[0]! - Math.sqrt(1.5)) < 1e-5, `(5 − 3) / std(1, 3, 5) = ${z[0]}`);
});

test('standardiser: rows without a feature are left out of the statistics and map to the training mean', (t) => {
  // row 1 is a zero row (no face found); with it, the mean of channel 0 would be 2 and its spread wider
  const train = Float32Array.from([2, 4, 0, 0, 4, 8]);
  const s = fitStandardiser(train, 2, new Set([1]));
  const out = s.apply(Float32Array.from([3, 6, 0, 0]), new Set([1]));
  t.deepEqual(Array.from(out), [0, 0, 0, 0]);
  t.is(s.constant, 0);
});

test('landmark head on a global vector starts exactly at the mean shape and moves by about lr per Adam step', async (t) => {
  const { tf } = await loadBackend('cpu', { quiet: true });
  const mean = Float32Array.from({ length: 136 }, (_, i) => 0.2 + (i % 17) / 40);
  const head = landmarkHead(tf, { dim: 1024 }, mean, { seed: 3 });
  // standardised-looking input: ‖x‖₁ ≈ 800
  const x = tf.randomNormal([4, 1024], 0, 1, 'float32', 7);
  const p0 = head.apply(x);
  const first = (await p0.array()) as number[][];
  for (const row of first) for (const [i, v] of row.entries()) t.true(Math.abs(v - mean[i]!) < 1e-6, `point coordinate ${i}: ${v} vs ${mean[i]}`);
  // one Adam step at the default lr: each weight moves ≈ lr, so the output may move by lr·‖x‖₁/√dim, not lr·‖x‖₁
  const opt = tf.train.adam(3e-3);
  const target = tf.add(p0, 0.05);
  opt.minimize(() => tf.losses.huberLoss(target, head.apply(x), undefined, 0.02) as never, false, head.variables);
  const moved = tf.max(tf.abs(tf.sub(head.apply(x), p0)));
  const step = (await moved.data())[0]!;
  t.true(step < 0.2, `one step moved a coordinate by ${step} crop sides`);
  t.true(step > 0, 'the head learns');
  tf.dispose([x, p0, target, moved]);
  opt.dispose();
  head.dispose();
});

test('probe schedule: cosine (the default) decays the rate to ~0 by the last epoch, so a head settles where a constant rate does not', async (t) => {
  t.is(probeLr(3e-3, 0, 60, 'cosine'), 3e-3);
  t.true(Math.abs(probeLr(3e-3, 30, 60, 'cosine') - 1.5e-3) < 1e-12);
  t.true(probeLr(3e-3, 59, 60, 'cosine') < 3e-3 * 0.001);
  t.is(probeLr(3e-3, 59, 60), 3e-3, 'constant by default');
  t.is(defaults.eval.linear.schedule, 'cosine', 'every linear probe decays its rate by default');
  // The global-vector landmark head is one linear map from zero, a convex fit: at a constant rate Adam keeps
  // jumping round the optimum, decayed to 0 it settles there, so the last epoch's loss is far lower.
  const { tf } = await loadBackend('cpu', { quiet: true });
  const n = 256, dim = 64, out = 10;
  const x = tf.randomNormal([n, dim], 0, 1, 'float32', 1);
  const w = tf.randomNormal([dim, out], 0, 0.05, 'float32', 2);
  const y = Float32Array.from(tf.add(tf.matMul(x, w), tf.randomNormal([n, out], 0, 0.001, 'float32', 3)).dataSync());
  const last = async (schedule: 'constant' | 'cosine') => {
    const head = landmarkHead(tf, { dim }, new Float32Array(out), { seed: 0 });
    const curve = await fitOnFeatures(tf, head, x.dataSync() as Float32Array, [dim], y, out, (p, q) => tf.losses.meanSquaredError(q, p), { epochs: 40, batch: 32, lr: 0.3, seed: 0, schedule });
    head.dispose();
    return curve.at(-1)!;
  };
  const [constant, cosine] = [await last('constant'), await last('cosine')];
  t.log(`last-epoch training loss: constant ${constant.toExponential(2)}, cosine ${cosine.toExponential(2)}`);
  t.true(cosine < constant / 2, `cosine ${cosine} vs constant ${constant}`);
});
