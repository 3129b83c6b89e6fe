// The one shape every dataset reader returns, per task. Image paths are absolute; splits follow the dataset's own.
import { InputError } from '../../../src/errors.ts';
import type { Point } from '../../../src/contracts/geometry.ts';

export type Split = 'train' | 'val' | 'test';

export interface Sample {
  image: string;
  split: Split;
  /** Face box [x, y, w, h] in image pixels, where the dataset gives one (the loader crops to it). */
  box?: [number, number, number, number];
  /** The published test subset the sample belongs to, scored apart (300W: common, challenge, private). */
  subset?: string;
}

export interface AttributeData {
  task: 'attributes';
  dataset: string;
  names: string[];
  samples: Array<Sample & { labels: number[] }>;
  /** Set when the labels were made by a model, not people. */
  pseudo?: boolean;
}

export interface ExpressionData {
  task: 'expression';
  dataset: string;
  classes: string[];
  samples: Array<Sample & { label: number }>;
  /** Set when the labels were made by a model, not people. */
  pseudo?: boolean;
}

export type Normaliser = 'inter-ocular' | 'box-diagonal';

export interface LandmarkData {
  task: 'landmarks';
  dataset: string;
  points: number;
  normaliser: Normaliser;
  samples: Array<Sample & { points: Point[] }>;
  /** Set when the labels were made by a model, not people. */
  pseudo?: boolean;
}

export type TaskData = AttributeData | ExpressionData | LandmarkData;

/** A malformed annotation: the message names the file and the 1-based line. */
export class AnnotationError extends InputError {
  constructor(readonly file: string, readonly line: number, detail: string) {
    super(`${file}:${line}: ${detail}`);
  }
}

/** The file's lines, numbered from 1, keeping empty lines' numbers right and skipping them. */
export function numberedLines(text: string): Array<{ n: number; text: string }> {
  return text
    .split(/\r?\n/)
    .map((t, i) => ({ n: i + 1, text: t.trim() }))
    .filter((l) => l.text.length > 0);
}

export function numberOrThrow(file: string, line: number, token: string | undefined, what: string): number {
  const v = Number(token);
  if (token === undefined || token === '' || !Number.isFinite(v)) {
    throw new AnnotationError(file, line, `expected a number for ${what}, got ${token === undefined ? 'nothing' : JSON.stringify(token)}`);
  }
  return v;
}
