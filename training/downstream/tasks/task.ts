// What a downstream task supplies to the evaluator: targets per sample, the head, its loss, how a flip changes a
// target, the metrics, few-shot sampling, and the trivial baseline every result is compared with.
import type { Scalar, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from '../../../src/backend.ts';
import type { Head } from '../heads.ts';
import type { Region } from '../images.ts';
import type { Rng } from '../synth/rng.ts';
import type { TaskData } from '../readers/types.ts';

export interface MetricRow {
  metric: string;
  value: number;
}

export interface TaskSpec<S> {
  name: 'attributes' | 'expression' | 'landmarks';
  /** The backbone output the head reads when the source has both. */
  input: 'cls' | 'patches';
  target(sample: S, region: Region, size: number): Float32Array;
  head(tf: Tf, input: { dim: number; tokens?: number }, trainTargets: Float32Array[], seed: number): Head;
  loss(tf: Tf): (pred: Tensor2D, target: Tensor2D) => Scalar;
  flipTarget: ((t: Float32Array) => Float32Array) | null;
  /** `regions`: each test sample's crop in source pixels (landmarks map a dataset's face box into target units). */
  metrics(pred: Float32Array[], truth: Float32Array[], samples: S[], regions: Region[]): MetricRow[];
  /** The headline metric (stored first, shown in the report) and whether lower is better. */
  main: { metric: string; lowerIsBetter: boolean };
  /** Indices of a K-shot training subset. */
  fewShot(samples: S[], k: number, rng: Rng): number[];
  /** The no-learning baseline (majority class, mean shape), from training targets only. */
  baseline(trainTargets: Float32Array[], testTargets: Float32Array[], samples: S[], regions: Region[]): { name: string; rows: MetricRow[] };
}

export type AnyTask = TaskSpec<TaskData['samples'][number]>;
