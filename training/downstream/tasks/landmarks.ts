// Landmarks: a head on the patch tokens regressing all points (in units of the crop side, starting from the mean
// shape), smooth-L1 loss, horizontal flips through the index permutation; NME by the dataset's normaliser.
import type { LandmarkData, Normaliser } from '../readers/types.ts';
import type { Point } from '../../../src/contracts/geometry.ts';
import { landmarkHead } from '../heads.ts';
import { nme } from '../metrics.ts';
import { flipLandmarks, flipPermutation } from '../flip.ts';
import { toCrop, type Region } from '../images.ts';
import { shuffled } from '../synth/rng.ts';
import type { TaskSpec } from './task.ts';

type S = LandmarkData['samples'][number];

const toPoints = (v: Float32Array): Point[] => Array.from({ length: v.length / 2 }, (_, i) => [v[2 * i]!, v[2 * i + 1]!]);
const fromPoints = (p: Point[]) => Float32Array.from(p.flat());

export function landmarksTask(points: number, normaliser: Normaliser): TaskSpec<S> {
  const perm = flipPermutation(points);
  const meanOf = (targets: Float32Array[]) => {
    const m = new Float32Array(points * 2);
    for (const t of targets) for (let i = 0; i < m.length; i++) m[i]! += t[i]! / targets.length;
    return m;
  };
  // The dataset's face box (WFLW, AFLW) in target units (crop sides), for the box-diagonal normaliser; without one,
  // nme() takes the tight box of the true points.
  const boxIn = (s: S, r: Region): [number, number, number, number] | undefined =>
    s.box && [(s.box[0] - r.x) / r.side, (s.box[1] - r.y) / r.side, s.box[2] / r.side, s.box[3] / r.side];
  const score = (pred: Float32Array[], truth: Float32Array[], samples: S[], regions: Region[]) => {
    const errs = pred.map((p, i) => nme(toPoints(p), toPoints(truth[i]!), normaliser, boxIn(samples[i]!, regions[i]!)));
    const mean = errs.reduce((a, b) => a + b, 0) / errs.length;
    // Failure rate at 10% NME, as WFLW reports it.
    return [
      { metric: 'nme', value: mean },
      { metric: 'fr@0.1', value: errs.filter((e) => e > 0.1).length / errs.length },
    ];
  };
  return {
    name: 'landmarks',
    input: 'patches',
    target: (s, region, size) => fromPoints(toCrop(s.points, region, size).map(([x, y]) => [x / size, y / size] as Point)),
    head: (tf, input, train, seed) => landmarkHead(tf, input, meanOf(train), { seed }),
    loss: (tf) => (pred, target) => tf.losses.huberLoss(target, pred, undefined, 0.02),
    flipTarget: (t) => fromPoints(flipLandmarks(toPoints(t), 1, perm)),
    metrics: (pred, truth, samples, regions) => score(pred, truth, samples, regions),
    main: { metric: 'nme', lowerIsBetter: true },
    fewShot: (samples, k, rng) => shuffled(rng, samples.map((_, i) => i)).slice(0, k).sort((a, b) => a - b),
    baseline(train, test, samples, regions) {
      const m = meanOf(train);
      return { name: 'mean-shape', rows: score(test.map(() => m), test, samples, regions) };
    },
  };
}
