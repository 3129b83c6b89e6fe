// Attributes: multi-label, a linear (or MLP) head on the CLS token, binary cross-entropy; mean accuracy over
// attributes, and each attribute's accuracy.
import type { AttributeData } from '../readers/types.ts';
import { classifierHead } from '../heads.ts';
import { attributeAccuracy } from '../metrics.ts';
import { shuffled } from '../synth/rng.ts';
import type { TaskSpec } from './task.ts';

type S = AttributeData['samples'][number];

export function attributesTask(names: string[], opts: { hidden?: number; input?: 'cls' | 'patches' } = {}): TaskSpec<S> {
  const k = names.length;
  const binarise = (rows: Float32Array[]) => rows.map((r) => Array.from(r, (v) => (v > 0 ? 1 : 0)));
  const rowsOf = (pred: number[][], truth: number[][]) => {
    const r = attributeAccuracy(pred, truth);
    return [{ metric: 'mean_accuracy', value: r.mean }, ...names.map((n, i) => ({ metric: `accuracy:${n}`, value: r.perAttribute[i]! }))];
  };
  return {
    name: 'attributes',
    input: opts.input ?? 'cls',
    target: (s) => Float32Array.from(s.labels),
    head: (tf, input, _t, seed) => classifierHead(tf, input, k, { hidden: opts.hidden, seed }),
    loss: (tf) => (pred, target) => tf.losses.sigmoidCrossEntropy(target, pred),
    flipTarget: null,
    // logits > 0 ⇔ p > 0.5
    metrics: (pred, truth) => rowsOf(binarise(pred), truth.map((t) => Array.from(t))),
    main: { metric: 'mean_accuracy', lowerIsBetter: false },
    fewShot(samples, shots, rng) {
      // K positives and K negatives of every attribute (where that many exist), as one union.
      const chosen = new Set<number>();
      const order = shuffled(rng, samples.map((_, i) => i));
      for (let a = 0; a < k; a++) {
        for (const want of [1, 0]) {
          let got = 0;
          for (const i of order) {
            if (got >= shots) break;
            if (samples[i]!.labels[a] === want) {
              chosen.add(i);
              got++;
            }
          }
        }
      }
      return [...chosen].sort((a, b) => a - b);
    },
    baseline(train, test) {
      // Each attribute's majority value in training.
      const major = Array.from({ length: k }, (_, a) => (train.filter((t) => t[a]! > 0.5).length * 2 > train.length ? 1 : 0));
      return { name: 'majority', rows: rowsOf(test.map(() => major), test.map((t) => Array.from(t))) };
    },
  };
}
