// AdamW and what the optimiser touches: per-parameter bias correction (a parameter that starts updating later, like
// the frozen last layer, starts its own from 1), its step counts in checkpoints (and old single-count checkpoints),
// and the prototypes kept out of weight decay and gradient clipping (as MSN).
import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackend } from '../../src/backend.ts';
import { decode, makeViews } from '../../training/augment.ts';
import { resolveTrainConfig } from '../../training/config.ts';
import { LAST_LAYER } from '../../training/head.ts';
import { AdamW } from '../../training/optimizer.ts';
import { derive } from '../../training/rng.ts';
import { buildSchedules } from '../../training/schedule.ts';
import { buildModel, loadModelTensors, modelTensors, trainStep, type Model } from '../../training/trainer.ts';
import { makeSet, testOverrides } from './_fixtures.ts';

const { tf } = await loadBackend('wasm', { quiet: true });
const data = await makeSet(join(mkdtempSync(join(tmpdir(), 'pros-optim-')), 'set'), 8);
const files = readFileSync(join(data, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => join(data, JSON.parse(l).path));
const images = await Promise.all(files.map(decode));

test('AdamW: a parameter that starts updating later starts its own bias correction (first update = lr·sign g)', (t) => {
  const a = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
  const b = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
  const opt = new AdamW(tf, new Map([['a', a], ['b', b]]), { beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  const g = tf.tensor2d([[0.5, -0.25], [2, -3]]);
  opt.step(new Map([['a', g]]), 0.01, 0); // b frozen this step
  opt.step(new Map([['a', g], ['b', g]]), 0.01, 0);
  const moved = Array.from(b.dataSync(), (v, i) => v - [1, 2, 3, 4][i]);
  for (const [i, d] of moved.entries()) t.true(Math.abs(d + 0.01 * Math.sign(g.dataSync()[i])) < 1e-6, `b[${i}] moved ${d}`);
  t.is(opt.steps.get('a'), 2);
  t.is(opt.steps.get('b'), 1);
  tf.dispose([a, b, g]);
  opt.dispose();
});

const cfg = resolveTrainConfig('tiny', { ...testOverrides, optim: { freezeLastLayerEpochs: 0 } });
const sched = { ...buildSchedules(cfg, 8), freezeLastLayerSteps: 2 };
const views = (step: number) => makeViews(images, cfg.views, derive(cfg.seed, 'views', step));
const run = (model: Model, from: number, to: number) => {
  for (let s = from; s < to; s++) trainStep(tf, model, cfg, sched, s, views(s));
};

test('per-parameter step counts survive a checkpoint: resume after the freeze ends is exact; old checkpoints load', async (t) => {
  const full = buildModel(tf, cfg);
  run(full, 0, 5);
  t.is(full.opt.steps.get(LAST_LAYER), 3);
  t.is(full.opt.steps.get('vit.patch.w'), 5);
  const cut = buildModel(tf, cfg);
  run(cut, 0, 4);
  const saved = await modelTensors(cut);
  t.deepEqual(Array.from(saved.get(`adam.t.${LAST_LAYER}`)!.data), [2]);
  const resumed = buildModel(tf, cfg);
  loadModelTensors(tf, resumed, saved);
  run(resumed, 4, 5);
  const [a, b] = [await modelTensors(full), await modelTensors(resumed)];
  for (const [name, x] of a) t.deepEqual(b.get(name)!.data, x.data, name);
  // A checkpoint written before per-parameter counts has one `adam.t`: every parameter gets it.
  const old = new Map([...saved].filter(([n]) => !n.startsWith('adam.t.')));
  old.set('adam.t', { shape: [1], data: new Float32Array([4]) });
  const legacy = buildModel(tf, cfg);
  loadModelTensors(tf, legacy, old);
  t.is(legacy.opt.steps.get(LAST_LAYER), 4);
  t.is(legacy.opt.steps.get('proto.C'), 4);
  for (const m of [full, cut, resumed, legacy]) disposeModel(m);
});

test('prototypes take no weight decay', (t) => {
  const model = buildModel(tf, cfg);
  const names = ['proto.C', 'vit.patch.w'];
  const before = names.map((n) => (n === 'proto.C' ? model.protos : model.student).get(n).dataSync().slice());
  const zeros = new Map(names.map((n) => [n, tf.zerosLike((n === 'proto.C' ? model.protos : model.student).get(n))]));
  model.opt.step(zeros, 0.1, 0.5);
  const after = names.map((n) => (n === 'proto.C' ? model.protos : model.student).get(n).dataSync());
  t.deepEqual(after[0], before[0], 'proto.C unchanged');
  t.true(Math.abs(after[1][0] - before[1][0] * 0.95) < 1e-7, 'a weight matrix decays');
  tf.dispose([...zeros.values()]);
  disposeModel(model);
});

test('prototypes are not clipped: with a tiny clip threshold the student stands still and the prototypes move', (t) => {
  const c = resolveTrainConfig('tiny', { ...testOverrides, optim: { baseLr: 0.02, clipGrad: 1e-9, weightDecay: 0, weightDecayEnd: 0, warmupFraction: 0 } });
  const s = buildSchedules(c, 8);
  const model = buildModel(tf, c);
  const C0 = model.protos.get('proto.C').dataSync().slice() as Float32Array;
  const W0 = model.student.get('vit.blocks.0.fc1.w').dataSync().slice() as Float32Array;
  trainStep(tf, model, c, s, 0, makeViews(images, c.views, derive(c.seed, 'views', 0)));
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  const dC = maxDiff(model.protos.get('proto.C').dataSync() as Float32Array, C0);
  const dW = maxDiff(model.student.get('vit.blocks.0.fc1.w').dataSync() as Float32Array, W0);
  t.true(dW < 0.01 * s.lr[0], `student moved ${dW} (clipped)`);
  t.true(dC > 0.2 * s.lr[0], `prototypes moved ${dC} (lr ${s.lr[0]})`);
  disposeModel(model);
});

function disposeModel(m: Model): void {
  m.student.dispose();
  m.teacher.dispose();
  m.protos.dispose();
  m.opt.dispose();
}
