// Metrics against values worked out by hand, and the flip permutation's properties.
import test from 'ava';
import { attributeAccuracy, classification, nme } from '../../training/downstream/metrics.ts';
import { meanStd } from '../../src/evals.ts';
import { flipLandmarks, flipPermutation, FLIP_68, FLIP_98 } from '../../training/downstream/flip.ts';
import { flipPixels } from '../../training/downstream/images.ts';
import type { Point } from '../../src/contracts/geometry.ts';

test('mean accuracy over attributes', (t) => {
  // attribute 0: 3 of 4 right; attribute 1: 2 of 4; attribute 2: 4 of 4 → mean (0.75 + 0.5 + 1) / 3 = 0.75
  const truth = [[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]];
  const pred = [[1, 1, 1], [0, 0, 1], [0, 1, 0], [0, 0, 0]];
  const r = attributeAccuracy(pred, truth);
  t.deepEqual(r.perAttribute, [0.75, 0.5, 1]);
  t.is(r.mean, 0.75);
});

test('accuracy and per-class recall', (t) => {
  // class 0: 2 of 3 found; class 1: 1 of 1; class 2: 0 of 2; class 3 absent → NaN, left out of the mean
  const truth = [0, 0, 0, 1, 2, 2];
  const pred = [0, 0, 1, 1, 0, 1];
  const r = classification(pred, truth, 4);
  t.is(r.accuracy, 3 / 6);
  t.deepEqual(r.recall.slice(0, 3), [2 / 3, 1, 0]);
  t.true(Number.isNaN(r.recall[3]!));
  t.is(r.meanRecall, (2 / 3 + 1 + 0) / 3);
});

function face68(): Point[] {
  const p: Point[] = Array.from({ length: 68 }, (_, i) => [10 + (i % 9) * 3, 20 + Math.floor(i / 9) * 4]);
  p[36] = [10, 30];
  p[45] = [50, 30]; // inter-ocular distance 40
  return p;
}

test('NME: inter-ocular normaliser from the outer eye corners, box diagonal when asked', (t) => {
  const truth = face68();
  t.is(nme(truth, truth, 'inter-ocular'), 0);
  // every point off by (3, 4): distance 5 → NME 5 / 40
  const shifted = truth.map(([x, y]) => [x + 3, y + 4] as Point);
  t.is(nme(shifted, truth, 'inter-ocular'), 5 / 40);
  // a 30 × 40 box has diagonal 50 → 5 / 50
  t.is(nme(shifted, truth, 'box-diagonal', [0, 0, 30, 40]), 0.1);
  // one point off by 68 → mean error 1 → 1 / 40
  const one = truth.map((p) => [...p] as Point);
  one[0] = [one[0]![0] + 68, one[0]![1]];
  t.is(nme(one, truth, 'inter-ocular'), 1 / 40);
});

test('mean ± std (sample std)', (t) => {
  const r = meanStd([1, 2, 3, 4]);
  t.is(r.mean, 2.5);
  t.is(Math.round(r.std * 1e6) / 1e6, Math.round(Math.sqrt(5 / 3) * 1e6) / 1e6);
});

test('flip permutations are involutions that swap left and right eye corners', (t) => {
  for (const perm of [FLIP_68, FLIP_98]) {
    t.deepEqual(perm.map((j) => perm[j]), perm.map((_, i) => i));
    t.is(new Set(perm).size, perm.length);
  }
  t.is(FLIP_68[36], 45);
  t.is(FLIP_68[8], 8);
  t.is(FLIP_98[60], 72);
  t.throws(() => flipPermutation(5));
});

test('flipping an image and its landmarks twice is the identity, and once keeps the semantics', (t) => {
  const size = 16;
  const pixels = Float32Array.from({ length: size * size * 3 }, (_, i) => (i * 7919) % 101);
  t.deepEqual(flipPixels(flipPixels(pixels, size), size), pixels);
  const pts = face68();
  t.deepEqual(flipLandmarks(flipLandmarks(pts, size), size), pts);
  const once = flipLandmarks(pts, 64);
  // the image-left outer eye corner (36) is now where the mirrored image-right one (45) went
  t.deepEqual(once[36], [64 - 50, 30]);
  t.true(once[36]![0] < once[45]![0]);
});
