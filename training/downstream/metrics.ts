// The downstream metrics, as the benchmarks define them.
import type { Normaliser } from './readers/types.ts';
import type { Point } from '../../src/contracts/geometry.ts';
import { OUTER_EYE_CORNERS } from './flip.ts';

/** Per-attribute accuracy and their mean; `pred` and `truth` are rows of 0/1 per sample. */
export function attributeAccuracy(pred: number[][], truth: number[][]): { mean: number; perAttribute: number[] } {
  if (pred.length !== truth.length || !truth.length) throw new Error('attributeAccuracy: empty or mismatched inputs');
  const k = truth[0]!.length;
  const correct = new Array<number>(k).fill(0);
  for (let i = 0; i < truth.length; i++) for (let j = 0; j < k; j++) if (pred[i]![j] === truth[i]![j]) correct[j]!++;
  const perAttribute = correct.map((c) => c / truth.length);
  return { mean: perAttribute.reduce((a, b) => a + b, 0) / k, perAttribute };
}

/** Overall accuracy and recall per class (NaN for a class absent from the truth). */
export function classification(pred: number[], truth: number[], classes: number): { accuracy: number; recall: number[]; meanRecall: number } {
  if (pred.length !== truth.length || !truth.length) throw new Error('classification: empty or mismatched inputs');
  const hit = new Array<number>(classes).fill(0);
  const total = new Array<number>(classes).fill(0);
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    total[truth[i]!]!++;
    if (pred[i] === truth[i]) {
      correct++;
      hit[truth[i]!]!++;
    }
  }
  const recall = total.map((t, c) => (t ? hit[c]! / t : NaN));
  const present = recall.filter((r) => !Number.isNaN(r));
  return { accuracy: correct / truth.length, recall, meanRecall: present.reduce((a, b) => a + b, 0) / present.length };
}

export function normaliserOf(truth: Point[], kind: Normaliser): number {
  if (kind === 'box-diagonal') {
    const xs = truth.map((p) => p[0]), ys = truth.map((p) => p[1]);
    return Math.hypot(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  }
  const corners = OUTER_EYE_CORNERS[truth.length];
  if (!corners) throw new Error(`inter-ocular normaliser: unknown layout of ${truth.length} points`);
  const [a, b] = [truth[corners[0]]!, truth[corners[1]]!];
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

/**
 * Normalised mean error of one face: mean point-to-point distance over the normaliser (inter-ocular: outer eye
 * corners; box-diagonal: the diagonal of the tight box round the true points, or `box` when given).
 */
export function nme(pred: Point[], truth: Point[], kind: Normaliser, box?: [number, number, number, number]): number {
  if (pred.length !== truth.length) throw new Error(`nme: ${pred.length} predicted points, ${truth.length} true`);
  const d = kind === 'box-diagonal' && box ? Math.hypot(box[2], box[3]) : normaliserOf(truth, kind);
  if (!(d > 0)) throw new Error('nme: the normaliser is zero');
  let sum = 0;
  for (let i = 0; i < truth.length; i++) sum += Math.hypot(pred[i]![0] - truth[i]![0], pred[i]![1] - truth[i]![1]);
  return sum / truth.length / d;
}
