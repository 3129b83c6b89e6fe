import test from 'ava';
import { loadBackend } from '../../src/backend.ts';
import { BOX_FIELDS } from '../../training/loss/dense.ts';
import { positionCells } from '../../training/loss/position.ts';
import { makeViews } from '../../training/augment.ts';
import { resolveTrainConfig } from '../../training/config.ts';
import { derive } from '../../training/rng.ts';
import { buildSchedules } from '../../training/schedule.ts';
import { buildModel, trainStep } from '../../training/trainer.ts';
import { ramp, rampViews } from './_fixtures.ts';

const boxes = (...bs: number[][]) => Float32Array.from(bs.flat());
const cellsOf = (box: number[], grid = 4, cells = 8) => Array.from(positionCells(boxes(box), 1, { first: 0, count: 1, grid }, cells));

test('a whole-image crop\'s patches fall in the cells under their centres, flipped or not (a flipped crop reads the mirrored image)', (t) => {
  // Patch (r, c) of a 4×4 grid has its centre at ((c + ½)/4, (r + ½)/4): cell (2r + 1, 2c + 1) of an 8×8 grid.
  const expected = Array.from({ length: 16 }, (_, j) => (2 * Math.floor(j / 4) + 1) * 8 + 2 * (j % 4) + 1);
  t.deepEqual(cellsOf([0, 0, 1, 1, 0]), expected);
  t.deepEqual(cellsOf([0, 0, 1, 1, 1]), expected, 'the mirrored whole image is a whole image');
});

test('a crop of the right half, flipped, is the left half of the mirrored image; unflipped, the right half of the image', (t) => {
  t.deepEqual(cellsOf([0.5, 0, 0.5, 1, 1]), cellsOf([0, 0, 0.5, 1, 0]));
  // Unflipped, its first column is the image's column just right of the middle: cells 4 (x 0.5–0.625) of each row pair.
  const right = cellsOf([0.5, 0, 0.5, 1, 0]);
  t.deepEqual([0, 4, 8, 12].map((j) => right[j]! % 8), [4, 4, 4, 4]);
  t.deepEqual([3, 7, 11, 15].map((j) => right[j]! % 8), [7, 7, 7, 7]);
  // Rows follow the box's height: a crop of the lower half starts at row 4.
  t.is(Math.floor(cellsOf([0, 0.5, 1, 0.5, 0])[0]! / 8), 4);
});

test('cells are laid out crop-major after the group\'s first crop, and a short box array is a clear error', (t) => {
  // Crops: 2 globals then 2 locals of 2 images; the locals' group starts at crop 2.
  const b = 2;
  const all = new Float32Array(4 * b * BOX_FIELDS);
  for (let r = 0; r < 4 * b; r++) all.set([0, 0, 1, 1, 0], r * BOX_FIELDS);
  all.set([0.5, 0.5, 0.5, 0.5, 0], (3 * b + 1) * BOX_FIELDS); // local 1, image 1: the lower right quarter
  const cells = positionCells(all, b, { first: 2, count: 2, grid: 2 }, 4);
  t.is(cells.length, 2 * b * 4);
  t.deepEqual(Array.from(cells.subarray(0, 4)), [5, 7, 13, 15], 'whole image, 2×2 patches in a 4×4 grid');
  t.deepEqual(Array.from(cells.subarray(12, 16)), [10, 11, 14, 15], 'the lower right quarter');
  t.throws(() => positionCells(all.subarray(0, 3 * b * BOX_FIELDS), b, { first: 2, count: 2, grid: 2 }, 4), { message: /needs a box for each of 4 crops of 2 images/ });
});

test('on a ramp image (red is x, green is y) each local patch\'s target cell holds the place the patch shows, flipped crops too', (t) => {
  const { v, b, locals, localMean } = rampViews();
  const cells = 8;
  const target = positionCells(v.boxes, b, { first: 2, ...locals }, cells);
  let worst = 0, flipped = 0;
  for (let row = 0; row < target.length; row++) {
    const crop = 2 + Math.floor(row / (b * locals.grid ** 2));
    const flip = v.boxes[(crop * b + (Math.floor(row / locals.grid ** 2) % b)) * BOX_FIELDS + 4] === 1;
    flipped += flip ? 1 : 0;
    // The cell's centre, read back in the unmirrored image for a flipped crop.
    let x = ((target[row]! % cells) + 0.5) / cells;
    if (flip) x = 1 - x;
    const y = (Math.floor(target[row]! / cells) + 0.5) / cells;
    worst = Math.max(worst, Math.abs(localMean(row, 0) - x), Math.abs(localMean(row, 1) - y));
  }
  t.true(flipped > 0, 'some local crop is flipped');
  // Half a cell, plus the patch's own spread about its centre (ramp steps, resampling).
  t.true(worst < 0.5 / cells + 0.02, `worst gap between a patch's mean position and its cell's centre: ${worst}`);
});

test.serial('the position term adds its weighted value to the loss, trains its classifier and reaches the patch tokens; on in the tiny preset (r31)', async (t) => {
  t.deepEqual(resolveTrainConfig('tiny').position, { weight: 1, grid: 8, globals: false }, 'the tiny defaults are run r31 (docs/training-recipe.md)');
  t.is(resolveTrainConfig('small').position.weight, 0, 'not measured at the larger presets');
  const { tf } = await loadBackend('wasm', { quiet: true });
  const step = (weight: number, globals = false, locals = 2) => {
    const cfg = resolveTrainConfig('tiny', { batchSize: 2, backend: 'wasm', views: { locals }, vit: { depth: 1 }, position: { weight, grid: 8, globals } });
    const v = makeViews([ramp(), ramp()], cfg.views, derive(0, 'views', 0));
    const model = buildModel(tf, cfg);
    const grads = new Map<string, Float32Array>();
    const live = tf.memory().numTensors;
    const m = trainStep(tf, model, cfg, buildSchedules(cfg, 10), 0, v, undefined, { grads });
    t.is(tf.memory().numTensors, live, 'a step leaves no tensors behind');
    return { m, grads, model };
  };
  const off = step(0), on = step(2), both = step(2, true);
  t.is(off.m.position, 0);
  t.false(off.model.student.vars.has('position.w'), 'no classifier when the term is off');
  // A classifier at init guesses near uniformly among 64 cells: ln 64 ≈ 4.16.
  t.true(Math.abs(on.m.position - Math.log(64)) < 0.5, `position term ${on.m.position}`);
  t.true(Math.abs(on.m.loss - (off.m.loss + 2 * on.m.position)) < 1e-3 * Math.abs(on.m.loss), `${on.m.loss} vs ${off.m.loss} + 2 × ${on.m.position}`);
  t.true(on.grads.get('position.w')!.some((x) => x !== 0));
  const gap = on.grads.get('vit.patch.w')!.reduce((a, x, i) => Math.max(a, Math.abs(x - off.grads.get('vit.patch.w')![i]!)), 0);
  t.true(gap > 0, 'the term reaches the backbone');
  t.not(both.m.position, on.m.position, 'with globals the global crops\' patches are asked too');
  // Without local crops and without `globals` the term asks no crop: no classifier, no value (as denseLocals without locals).
  const idle = step(2, false, 0);
  t.is(idle.m.position, 0);
  t.false(idle.model.student.vars.has('position.w'));
});
