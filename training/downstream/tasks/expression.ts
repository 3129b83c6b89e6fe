// Expression: softmax head on the CLS token, cross-entropy; accuracy, per-class recall and their mean.
import type { ExpressionData } from '../readers/types.ts';
import { classifierHead } from '../heads.ts';
import { classification } from '../metrics.ts';
import { shuffled } from '../synth/rng.ts';
import type { TaskSpec } from './task.ts';

type S = ExpressionData['samples'][number];

const argmax = (v: Float32Array) => v.reduce((best, x, i) => (x > v[best]! ? i : best), 0);

export function expressionTask(classes: string[], opts: { hidden?: number; input?: 'cls' | 'patches' } = {}): TaskSpec<S> {
  const c = classes.length;
  const rowsOf = (pred: number[], truth: number[]) => {
    const r = classification(pred, truth, c);
    return [
      { metric: 'accuracy', value: r.accuracy },
      { metric: 'mean_recall', value: r.meanRecall },
      ...classes.flatMap((name, i) => (Number.isNaN(r.recall[i]!) ? [] : [{ metric: `recall:${name}`, value: r.recall[i]! }])),
    ];
  };
  return {
    name: 'expression',
    input: opts.input ?? 'cls',
    target: (s) => {
      const t = new Float32Array(c);
      t[s.label] = 1;
      return t;
    },
    head: (tf, input, _t, seed) => classifierHead(tf, input, c, { hidden: opts.hidden, seed }),
    loss: (tf) => (pred, target) => tf.losses.softmaxCrossEntropy(target, pred),
    flipTarget: null,
    metrics: (pred, truth) => rowsOf(pred.map(argmax), truth.map(argmax)),
    main: { metric: 'accuracy', lowerIsBetter: false },
    fewShot(samples, shots, rng) {
      const per = new Map<number, number>();
      const out: number[] = [];
      for (const i of shuffled(rng, samples.map((_, j) => j))) {
        const l = samples[i]!.label;
        if ((per.get(l) ?? 0) < shots) {
          per.set(l, (per.get(l) ?? 0) + 1);
          out.push(i);
        }
      }
      return out.sort((a, b) => a - b);
    },
    baseline(train, test) {
      const counts = new Array<number>(c).fill(0);
      for (const t of train) counts[argmax(t)]!++;
      const major = counts.indexOf(Math.max(...counts));
      return { name: 'majority', rows: rowsOf(test.map(() => major), test.map(argmax)) };
    },
  };
}
