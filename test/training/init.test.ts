// Weight init as timm's trunc_normal_(std=0.02, a=-2, b=2): the cut is at ±2 absolute (±100 std), so the values
// have std 0.02; a cut at ±2 std would give 0.0176.
import test from 'ava';
import { loadBackend } from '../../src/backend.ts';
import { resolveTrainConfig } from '../../training/config.ts';
import { initHead } from '../../training/head.ts';
import { Params } from '../../training/params.ts';
import { Rng } from '../../training/rng.ts';
import { initViT } from '../../training/vit.ts';
import { testOverrides } from './_fixtures.ts';
import { buildModel } from '../../training/trainer.ts';
import { makeBackbone, randomBackbone, randomBackboneLike, type Backbone, type BackboneRef } from '../../training/backbone.ts';
import type { Tensor4D } from '@tensorflow/tfjs';

const std = (x: ArrayLike<number>) => {
  let s = 0, s2 = 0;
  for (let i = 0; i < x.length; i++) (s += x[i]), (s2 += x[i] * x[i]);
  const m = s / x.length;
  return Math.sqrt(s2 / x.length - m * m);
};

test('truncNormal(std) cuts at ±2 absolute, as timm: std 0.02 stays 0.02; std 1 is cut to the ±2 truncated normal', (t) => {
  const rng = new Rng(5);
  const small = Float64Array.from({ length: 200_000 }, () => rng.truncNormal(0.02));
  t.true(Math.abs(std(small) - 0.02) < 2e-4, `std ${std(small)}`);
  const unit = Float64Array.from({ length: 200_000 }, () => rng.truncNormal(1));
  t.true(unit.every((v) => Math.abs(v) <= 2));
  t.true(Math.abs(std(unit) - 0.8796) < 0.01, `std ${std(unit)}`); // the standard normal truncated to [-2, 2]
});

test('ViT and head weights start with std 0.02', async (t) => {
  const { tf } = await loadBackend('wasm', { quiet: true });
  const cfg = resolveTrainConfig('tiny', testOverrides);
  const p = new Params(tf);
  const rng = new Rng(1);
  initViT(p, cfg.vit, rng);
  initHead(p, cfg.head, cfg.vit.width, rng);
  for (const name of ['vit.blocks.0.fc1.w', 'vit.blocks.1.qkv.w', 'head.mlp.0.w']) {
    const s = std(p.get(name).dataSync());
    t.true(Math.abs(s - 0.02) < 6e-4, `${name}: std ${s}`);
  }
  p.dispose();
});

test("the random-init baseline of a run (`pros eval --backbone random --run R`) is that run's own starting weights, seed included", async (t) => {
  const { tf } = await loadBackend('wasm', { quiet: true });
  const cfg = resolveTrainConfig('tiny', { ...testOverrides, seed: 3 });
  const model = buildModel(tf, cfg);
  const ref: BackboneRef = { kind: 'run', name: 'r', dir: '.', preset: 'tiny', vit: cfg.vit, mean: cfg.views.mean, std: cfg.views.std, seed: 3, stamp: '' };
  const started = makeBackbone(tf, model.student, cfg.vit, cfg.views.mean, cfg.views.std, 3);
  const x = tf.randomNormal([2, cfg.vit.imageSize, cfg.vit.imageSize, 3], 0, 1, 'float32', 7) as Tensor4D;
  const cls = (b: Backbone) => Array.from(b.forward(x).cls.dataSync());
  t.deepEqual(cls(randomBackboneLike(ref, tf)), cls(started));
  t.notDeepEqual(cls(randomBackbone('tiny', 0, tf, cfg.vit)), cls(started));
});
