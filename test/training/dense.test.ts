// The dense cross-view patch term: the patch correspondence between two global crops (boxes, flips), checked on views
// whose pixels say where they came from; pairs drawn per image of the global batch (two workers = one full draw);
// and a step with the term on trains the patch path.
import test from 'ava';
import { presets, resolveTrainConfig } from '../../training/config.ts';
import { makeViews, shardViews } from '../../training/augment.ts';
import { BOX_FIELDS, bilinearCorners, correspondingPatch, correspondingPoint, densePairs } from '../../training/loss/dense.ts';
import { derive } from '../../training/rng.ts';
import { loadBackend } from '../../src/backend.ts';
import { buildModel, trainStep } from '../../training/trainer.ts';
import { buildSchedules } from '../../training/schedule.ts';
import { ramp, rampViews } from './_fixtures.ts';

test('correspondingPatch: the same box maps a patch to itself, a flip mirrors it, a shift moves it, outside is −1', (t) => {
  const whole = [0, 0, 1, 1, 0];
  t.is(correspondingPatch(whole, whole, 8, 3, 5), 3 * 8 + 5);
  t.is(correspondingPatch(whole, [0, 0, 1, 1, 1], 8, 3, 5), 3 * 8 + 2, 'column 5 of an unflipped view is column 2 of a flipped one');
  t.is(correspondingPatch([0, 0, 1, 1, 1], [0, 0, 1, 1, 1], 8, 3, 5), 3 * 8 + 5, 'two flipped views agree');
  // The right half of the image as the second crop: column 6 of the whole (centre x = 0.8125) is its column 5 (0.625).
  t.is(correspondingPatch(whole, [0.5, 0, 0.5, 1, 0], 8, 0, 6), 5);
  t.is(correspondingPatch(whole, [0.5, 0, 0.5, 1, 0], 8, 0, 1), -1, 'the left half is not in the right half');
});

test('matched patches of the two global crops show the same place of the image (crops, aspect and flips)', (t) => {
  const { v, b, grid, mean } = rampViews();
  t.true([...Array(2 * b).keys()].some((r) => v.boxes[r * BOX_FIELDS + 4] === 1), 'some crop is flipped');
  const pairs = densePairs(0, 0, 0, b, grid, v.boxes, 64);
  t.true(pairs.student.length > 2 * b * 8, `${pairs.student.length} pairs`);
  let worst = 0, unrelated = 0;
  for (const [m, s] of pairs.student.entries()) {
    const d = Math.max(Math.abs(mean(s, 0) - mean(pairs.teacher[m], 0)), Math.abs(mean(s, 1) - mean(pairs.teacher[m], 1)));
    worst = Math.max(worst, d);
    // The same patch index in the other crop, which is not where this place is in general.
    const other = (s + b * grid * grid) % (2 * b * grid * grid);
    unrelated += Math.max(Math.abs(mean(s, 0) - mean(other, 0)), Math.abs(mean(s, 1) - mean(other, 1))) / pairs.student.length;
  }
  // A patch of the larger crop covers up to 0.9 / 8 of the image: its match's centre lies within half a patch of it.
  t.true(worst < 0.08, `worst mean-colour gap of a matched pair ${worst.toFixed(3)}`);
  t.true(unrelated > 2 * worst, `matched ${worst.toFixed(3)} vs same index ${unrelated.toFixed(3)}`);
  // Each crop's pairs weigh 1 in all, and teacher rows lie in the other crop of the same image.
  const perCrop = new Map<number, number>();
  for (const [m, s] of pairs.student.entries()) {
    const crop = Math.floor(s / (grid * grid));
    perCrop.set(crop, (perCrop.get(crop) ?? 0) + pairs.weight[m]);
    t.is(Math.floor(pairs.teacher[m] / (grid * grid)), (crop + b) % (2 * b));
  }
  for (const w of perCrop.values()) t.true(Math.abs(w - 1) < 1e-5);
});

test('with denseLocals, a local crop\'s patches match the place they show in either global crop; the global pairs stay as drawn', (t) => {
  const { v, b, grid, mean, locals, localMean } = rampViews();
  const without = densePairs(0, 0, 0, b, grid, v.boxes, 16);
  const pairs = densePairs(0, 0, 0, b, grid, v.boxes, 16, 'patch', locals);
  t.false('local' in without);
  const n = without.student.length;
  t.deepEqual(pairs.student, without.student, 'the global crops draw the same pairs');
  t.deepEqual(pairs.teacher.subarray(0, n), without.teacher);
  const local = pairs.local!;
  t.is(pairs.teacher.length, n + local.length);
  t.true(local.length > locals.count * b * 8, `${local.length} local pairs`);
  const lp = locals.grid * locals.grid;
  let worst = 0, unrelated = 0;
  const perCrop = new Map<number, number>();
  const targets = new Set<number>();
  for (const [m, s] of local.entries()) {
    const teacher = pairs.teacher[n + m]!;
    worst = Math.max(worst, Math.abs(localMean(s, 0) - mean(teacher, 0)), Math.abs(localMean(s, 1) - mean(teacher, 1)));
    const other = (teacher + 17) % (2 * b * grid * grid);
    unrelated += Math.max(Math.abs(localMean(s, 0) - mean(other, 0)), Math.abs(localMean(s, 1) - mean(other, 1))) / local.length;
    // The teacher row is a global crop of the same image as the local crop.
    const image = Math.floor(s / lp) % b, tcrop = Math.floor(teacher / (grid * grid));
    t.is(tcrop % b, image);
    targets.add(Math.floor(tcrop / b));
    perCrop.set(Math.floor(s / lp), (perCrop.get(Math.floor(s / lp)) ?? 0) + pairs.weight[n + m]!);
  }
  t.true(worst < 0.08, `worst mean-colour gap of a local pair ${worst.toFixed(3)}`);
  t.true(unrelated > 2 * worst, `matched ${worst.toFixed(3)} vs unrelated ${unrelated.toFixed(3)}`);
  t.deepEqual([...targets].sort(), [0, 1], 'both global crops serve as targets');
  // Views that carry only the global crops' boxes cannot place the local crops: a clear error, not pairs read off the end.
  t.throws(() => densePairs(0, 0, 0, b, grid, v.boxes.subarray(0, 2 * b * BOX_FIELDS), 16, 'patch', locals), { message: /a box for each of 6 crops of 6 images; the views carry 12/ });
  t.is(perCrop.size, locals.count * b);
  for (const w of perCrop.values()) t.true(Math.abs(w - 1) < 1e-5);
});

test('bilinearCorners: weights sum to 1 and put the point where it lies between the four patch centres; clamped at the border', (t) => {
  const grid = 8;
  const centre = (k: number) => [((k % grid) + 0.5) / grid, (Math.floor(k / grid) + 0.5) / grid];
  for (const [u, v] of [[0.3, 0.55], [0.0625, 0.9375], [0.5, 0.5], [0.71, 0.13]]) {
    const { patches, weights } = bilinearCorners(u, v, grid);
    t.true(Math.abs(weights.reduce((a, w) => a + w, 0) - 1) < 1e-12);
    t.true(weights.every((w) => w >= 0));
    const at = [0, 1].map((d) => patches.reduce((a, k, i) => a + weights[i]! * centre(k)[d]!, 0));
    t.true(Math.abs(at[0]! - u) < 1e-12 && Math.abs(at[1]! - v) < 1e-12, `${at} vs ${[u, v]}`);
  }
  // Nearer the edge than the outer patch centre: the border patches alone, weights still summing to 1.
  const edge = bilinearCorners(0.01, 0.99, grid);
  t.deepEqual(edge.patches.filter((_, i) => edge.weights[i]! > 0), [7 * grid]);
  t.deepEqual(correspondingPoint([0, 0, 1, 1, 0], [0.5, 0, 0.5, 1, 0], grid, 0, 6), [0.625, 0.0625]);
  t.is(correspondingPoint([0, 0, 1, 1, 0], [0.5, 0, 0.5, 1, 0], grid, 0, 1), null);
});

test('bilinear targets read the other crop where the point lies: on a ramp image the gap of nearest-patch pairs shrinks', (t) => {
  const { v, b, grid, mean } = rampViews();
  const nearest = densePairs(0, 0, 0, b, grid, v.boxes, 64);
  const bilinear = densePairs(0, 0, 0, b, grid, v.boxes, 64, 'bilinear');
  t.deepEqual(bilinear.student, nearest.student, 'the same pairs are drawn');
  t.deepEqual(bilinear.teacher, nearest.teacher);
  t.false('corners' in nearest);
  const gap = (colour: (m: number, ch: number) => number) =>
    [...nearest.student].reduce((a, s, m) => a + Math.hypot(mean(s, 0) - colour(m, 0), mean(s, 1) - colour(m, 1)), 0) / nearest.student.length;
  const c = bilinear.corners!;
  const read = (m: number, ch: number) => [0, 1, 2, 3].reduce((a, i) => a + c.weights[4 * m + i]! * mean(c.rows[4 * m + i]!, ch), 0);
  const [gapNearest, gapBilinear] = [gap((m, ch) => mean(nearest.teacher[m]!, ch)), gap(read)];
  t.log(`mean colour gap: nearest patch ${gapNearest.toFixed(4)}, bilinear ${gapBilinear.toFixed(4)}`);
  t.true(gapBilinear < gapNearest / 2, `bilinear ${gapBilinear} vs nearest ${gapNearest}`);
});

test('dense pairs: two workers draw exactly the pairs of one full-batch draw, at most perCrop per crop', async (t) => {
  const cfg = { ...presets.tiny.views, globalScale: [0.4, 1] as [number, number] };
  const img = ramp();
  const v = makeViews(Array(4).fill(img), cfg, derive(2, 'views', 5));
  const locals = { count: cfg.locals, grid: 4 };
  const full = densePairs(9, 5, 0, 4, 8, v.boxes, 10, 'patch', locals);
  const rows = (s: number, b: number, rank: number, n: number, p = 64) => {
    // A worker row (crop c, local image i, patch j) as the full batch's row.
    const c = Math.floor(s / (b * p)), i = Math.floor((s % (b * p)) / p), j = s % p;
    return (c * n * b + rank * b + i) * p + j;
  };
  const got: [number, number][] = [], gotLocal: [number, number][] = [];
  for (const rank of [0, 1]) {
    const shard = shardViews(v, rank, 2, 64, 32, cfg.locals);
    const p = densePairs(9, 5, rank, 2, 8, shard.boxes, 10, 'patch', locals);
    for (const [m, s] of p.student.entries()) got.push([rows(s, 2, rank, 2), rows(p.teacher[m], 2, rank, 2)]);
    for (const [m, s] of p.local!.entries()) gotLocal.push([rows(s, 2, rank, 2, 16), rows(p.teacher[p.student.length + m], 2, rank, 2)]);
  }
  const want = [...full.student].map((s, m) => [s, full.teacher[m]] as [number, number]);
  const wantLocal = [...full.local!].map((s, m) => [s, full.teacher[full.student.length + m]] as [number, number]);
  const order = (a: [number, number], b: [number, number]) => a[0] - b[0] || a[1] - b[1];
  t.deepEqual(got.sort(order), want.sort(order));
  t.deepEqual(gotLocal.sort(order), wantLocal.sort(order), 'the local crops\' pairs too');
  t.true(wantLocal.length > 0);
  const counts = new Map<number, number>();
  for (const s of full.student) counts.set(Math.floor(s / 64), (counts.get(Math.floor(s / 64)) ?? 0) + 1);
  t.true([...counts.values()].every((c) => c <= 10) && counts.size === 8);
});

test.serial('the dense term adds its value to the loss and changes the gradients; it is on in the tiny preset, local crops too', async (t) => {
  t.is(presets.tiny.ibot.denseWeight, 1, 'the tiny defaults are run r24 (docs/training-recipe.md)');
  t.is(presets.tiny.ibot.weight, 0, 'r18: the dense term without the masked one');
  t.true(presets.tiny.ibot.denseLocals, 'r24: the local crops in the dense term');
  const { tf } = await loadBackend('wasm', { quiet: true });
  const step = (denseWeight: number, denseTarget: 'patch' | 'bilinear' = 'patch', locals = 0, denseLocals = false) => {
    const cfg = resolveTrainConfig('tiny', { batchSize: 2, backend: 'wasm', views: { locals }, vit: { depth: 1 }, ibot: { weight: 0, denseWeight, denseTarget, denseLocals } });
    const v = makeViews([ramp(), ramp()], cfg.views, derive(0, 'views', 0));
    const model = buildModel(tf, cfg);
    const grads = new Map<string, Float32Array>();
    const live = tf.memory().numTensors;
    const m = trainStep(tf, model, cfg, buildSchedules(cfg, 10), 0, v, undefined, { grads });
    t.is(tf.memory().numTensors, live, 'a step leaves no tensors behind');
    return { m, grads };
  };
  const off = step(0), on = step(2);
  t.is(off.m.dense, 0);
  t.true(on.m.dense > 0, `dense term ${on.m.dense}`);
  t.true(Math.abs(on.m.loss - (off.m.loss + 2 * on.m.dense)) < 1e-3 * Math.abs(on.m.loss), `${on.m.loss} vs ${off.m.loss} + 2 × ${on.m.dense}`);
  const gap = on.grads.get('vit.pos')!.reduce((a, x, i) => Math.max(a, Math.abs(x - off.grads.get('vit.pos')![i])), 0);
  t.true(gap > 0, 'the term reaches the patch tokens');
  // Read between patches, the same pairs give another target (and the step still leaves no tensor behind).
  const bilinear = step(2, 'bilinear');
  t.true(bilinear.m.dense > 0 && bilinear.m.dense !== on.m.dense, `bilinear ${bilinear.m.dense} vs patch ${on.m.dense}`);
  // With local crops, denseLocals adds their pairs to the term (the global pairs and the image-level terms unchanged).
  const [offLocals, onLocals, noDense] = [step(2, 'patch', 2), step(2, 'patch', 2, true), step(0, 'patch', 2, true)];
  t.true(onLocals.m.dense > 0 && onLocals.m.dense !== offLocals.m.dense, `with locals ${onLocals.m.dense} vs without ${offLocals.m.dense}`);
  t.true(Math.abs(onLocals.m.loss - (noDense.m.loss + 2 * onLocals.m.dense)) < 1e-3 * Math.abs(onLocals.m.loss));
  t.is(onLocals.m.distill, offLocals.m.distill);
  t.is(presets.tiny.ibot.denseTarget, 'patch');
});
