// The masked patch term (iBOT): masks drawn per image of the global batch (so a worker's share is the full batch's
// rows), ratios in range, the loss by hand, and a masked ViT that no longer sees the masked pixels.
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor4D } from '@tensorflow/tfjs';
import { loadBackend } from '../../src/backend.ts';
import { readStoredTrainConfig, resolveTrainConfig } from '../../training/config.ts';
import { ibotLoss, ibotMasks, maskedRows, pixelLoss, selectRows } from '../../training/loss/ibot.ts';
import { Params } from '../../training/params.ts';
import { Rng } from '../../training/rng.ts';
import { initViT, vitForward } from '../../training/vit.ts';

const { tf } = await loadBackend('cpu', { quiet: true });
const cfg = { weight: 1, maskP: 0.5, maskRatio: [0.1, 0.5] as [number, number], pixelWeight: 0, denseWeight: 0, densePerCrop: 16, denseTarget: 'patch' as const, denseLocals: false };

test('masks: two workers draw exactly the rows of one full-batch draw', (t) => {
  const p = 64;
  const full = ibotMasks(7, 3, 0, 8, p, cfg);
  const w0 = ibotMasks(7, 3, 0, 4, p, cfg);
  const w1 = ibotMasks(7, 3, 1, 4, p, cfg);
  // Crop-major: crop c, image i of worker r is full row c·8 + r·4 + i.
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < 4; i++) {
      t.deepEqual(w0.subarray((c * 4 + i) * p, (c * 4 + i + 1) * p), full.subarray((c * 8 + i) * p, (c * 8 + i + 1) * p));
      t.deepEqual(w1.subarray((c * 4 + i) * p, (c * 4 + i + 1) * p), full.subarray((c * 8 + 4 + i) * p, (c * 8 + 5 + i) * p));
    }
  }
  t.notDeepEqual(ibotMasks(7, 4, 0, 8, p, cfg), full, 'another step draws other masks');
});

test('masks: maskP and maskRatio are honoured', (t) => {
  const p = 64;
  t.true(ibotMasks(1, 0, 0, 16, p, { ...cfg, maskP: 0 }).every((x) => x === 0));
  const all = ibotMasks(1, 0, 0, 64, p, { ...cfg, maskP: 1 });
  const counts = Array.from({ length: 128 }, (_, c) => all.subarray(c * p, (c + 1) * p).reduce((a, x) => a + x, 0));
  t.true(counts.every((n) => n >= Math.round(0.1 * p) && n <= Math.round(0.5 * p)), `counts ${counts}`);
  t.true(new Set(counts).size > 5, 'ratios vary between crops');
  const half = ibotMasks(1, 0, 0, 256, p, cfg);
  const masked = Array.from({ length: 512 }, (_, c) => half.subarray(c * p, (c + 1) * p).some((x) => x === 1)).filter(Boolean).length;
  t.true(masked > 200 && masked < 312, `${masked} of 512 crops masked at maskP 0.5`);
});

test('loss: each crop is the mean over its masked patches, crops averaged over all global crops', (t) => {
  // 2 crops of 3 patches: crop 0 masks patches 0 and 2, crop 1 masks patch 1.
  const mask = Float32Array.from([1, 0, 1, 0, 1, 0]);
  const { index, weight } = maskedRows(mask, 3);
  t.deepEqual(Array.from(index), [0, 2, 4]);
  t.deepEqual(Array.from(weight), [0.5, 0.5, 1]);
  const rows = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10], [11, 12]]);
  t.deepEqual(Array.from(selectRows(tf, rows, index).dataSync()), [1, 2, 5, 6, 9, 10]);
  const student = tf.tensor2d([[0.2, 0.1], [0, 0.3], [0.5, -0.5]]);
  const pt = [[0.7, 0.3], [0.1, 0.9], [0.5, 0.5]];
  const got = ibotLoss(tf, student, tf.tensor2d(pt), weight, 0.1, 2).dataSync()[0];
  const ce = [[0.2, 0.1], [0, 0.3], [0.5, -0.5]].map((s, m) => {
    const z = s.map((v) => v / 0.1);
    const lse = Math.log(z.reduce((a, v) => a + Math.exp(v), 0));
    return -pt[m].reduce((a, p, k) => a + p * (z[k] - lse), 0);
  });
  const want = (0.5 * ce[0] + 0.5 * ce[1] + ce[2]) / 2;
  t.true(Math.abs(got - want) < 1e-5, `${got} vs ${want}`);
});

test('a fully masked crop does not see its pixels; an unmasked one is the plain forward', (t) => {
  const c = resolveTrainConfig('tiny').vit;
  const vit = { ...c, imageSize: 16, patch: 8, width: 24, depth: 1, heads: 2, dropPath: 0 };
  const p = new Params(tf);
  initViT(p, vit, new Rng(1));
  const token = tf.randomNormal([1, 1, vit.width], 0, 1, 'float32', 5);
  const x = (seed: number) => tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', seed) as Tensor4D;
  const all = { rows: new Float32Array(2 * 4).fill(1), token };
  const a = vitForward(tf, p, vit, x(1), { mask: all }).cls.dataSync();
  const b = vitForward(tf, p, vit, x(2), { mask: all }).cls.dataSync();
  t.deepEqual(Array.from(a), Array.from(b));
  const none = vitForward(tf, p, vit, x(1), { mask: { rows: new Float32Array(8), token } }).cls.dataSync();
  const plain = vitForward(tf, p, vit, x(1)).cls.dataSync();
  t.true(Array.from(none).every((v, i) => Math.abs(v - plain[i]) < 1e-6));
  t.notDeepEqual(Array.from(a), Array.from(plain));
});

test('config: the tiny preset has the dense term on, local crops too (r24; the masked one off); a pros config file\'s train section keeps it; a run stored before it (or KoLeo) existed reads them off', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pros-ibot-'));
  t.like(resolveTrainConfig('tiny').ibot, { weight: 0, denseWeight: 1, denseLocals: true });
  const file = join(dir, 'pros.json');
  writeFileSync(file, JSON.stringify({ train: { steps: 3 } }));
  // The partial section must not fill in ibot's stored-run default (off) over the preset's value.
  t.like(resolveTrainConfig(file).ibot, { weight: 0, denseWeight: 1, denseLocals: true });
  // Runs stored before KoLeo or iBOT existed (no koleo / ibot key) still resume, with the term off.
  const { ibot: _, koleo: __, ...older } = resolveTrainConfig('tiny');
  const stored = join(dir, 'config.json');
  writeFileSync(stored, JSON.stringify(older));
  t.deepEqual(readStoredTrainConfig(stored).ibot, { weight: 0, maskP: 0.5, maskRatio: [0.1, 0.5], pixelWeight: 0, denseWeight: 0, densePerCrop: 16, denseTarget: 'patch', denseLocals: false });
  t.deepEqual(readStoredTrainConfig(stored).koleo, { weight: 0 });
  const { lrScaling: ___, ...optim } = older.optim;
  writeFileSync(stored, JSON.stringify({ ...older, optim }));
  t.is(readStoredTrainConfig(stored).optim.lrScaling, 'linear', 'runs from before the batch rules scaled linearly');
});

test('masked-pixel target: per-patch normalised pixels, each crop the mean over its masked patches', (t) => {
  const target = [[0, 1, 2, 3], [1, 1, 3, 3], [4, 0, 0, 0]];
  const pred = [[0.1, -0.2, 0.3, 0], [0, 0, 0, 0], [1, -1, 0.5, 0.5]];
  const weight = Float32Array.from([0.5, 0.5, 1]);
  const got = pixelLoss(tf, tf.tensor2d(pred), tf.tensor2d(target), weight, 2).dataSync()[0];
  const rows = target.map((r, m) => {
    const mean = r.reduce((a, v) => a + v, 0) / r.length;
    const sd = Math.sqrt(r.reduce((a, v) => a + (v - mean) ** 2, 0) / r.length + 1e-6);
    return r.reduce((a, v, k) => a + (pred[m][k] - (v - mean) / sd) ** 2, 0) / r.length;
  });
  const want = (0.5 * rows[0] + 0.5 * rows[1] + rows[2]) / 2;
  t.true(Math.abs(got - want) < 1e-5, `${got} vs ${want}`);
});
