// The JSON text columns of the workspace database (rows.ts names them), one schema each, and the one way to read
// them: parsed and checked at the read edge, so a reader gets a typed value, and a column a shared or hand-edited
// workspace broke gets a clear error or a logged default instead of an object of whatever shape.
import { z, type ZodType } from 'zod';
import { InputError } from '../errors.ts';
import { log } from '../log.ts';
import { TrainConfig } from './config.ts';

const num = z.number();
const int = z.number().int();

/**
 * A JSON object with any string keys and values of `value`. Not z.record: that refuses an object with an own
 * "constructor" key, and keys are data here (a source's columns, a metric's name).
 */
function jsonObject<V extends ZodType>(value: V, what: string) {
  return z.custom<Record<string, z.infer<V>>>(
    (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => value.safeParse(x).success),
    { message: `expected a JSON object of ${what}` },
  );
}

/** items.meta: caption, licence and the other columns of the source row, as the source gave them. */
export const ItemMeta = jsonObject(z.unknown(), 'any values');
export type ItemMeta = z.infer<typeof ItemMeta>;

/** faces.landmarks: [[x, y], ...] in source pixels. */
export const Landmarks = z.array(z.tuple([num, num]));

/** metrics.values_json: one logged training step (non-finite numbers are stored as null; notes as text). */
export const MetricValues = jsonObject(z.union([num, z.string(), z.boolean(), z.null()]), 'numbers, text, booleans or null');
export type MetricValues = z.infer<typeof MetricValues>;

/** runs.config: the resolved training config the run was started with. */
export const RunConfig = TrainConfig;
export type RunConfig = z.infer<typeof RunConfig>;

/**
 * The pre-training overlap check stored with an evaluation (`extra.leakage`): whether any test image is in the
 * evaluated run's training set, by dHash confirmed by thumbnail correlation (training/downstream/leakage.ts).
 */
export const Leakage = z.object({
  checked: z.boolean(),
  /** Why it was not checked (random init, a baseline, a run whose set is gone). */
  reason: z.string().optional(),
  method: z.literal('dhash+thumbnail').optional(),
  maxDistance: num.optional(),
  minCorrelation: num.optional(),
  /** The pre-training set's folder and size, and the number of test images compared. */
  pretraining: z.string().optional(),
  trainImages: int.optional(),
  testImages: int.optional(),
  overlaps: z.array(z.object({ test: z.string(), train: z.string(), distance: num })).optional(),
});
export type Leakage = z.infer<typeof Leakage>;

/** evals.extra: how an evaluation ran (written by training/downstream/evaluate.ts). Later versions may add keys. */
export const EvalExtra = z.looseObject({
  data: z.string().nullable().optional(),
  backend: z.string().nullable().optional(),
  epochs: num.optional(),
  lr: num.optional(),
  /** A linear probe's learning-rate schedule (constant | cosine); rows stored before it was recorded were constant. */
  schedule: z.string().optional(),
  train: int.optional(),
  test: int.optional(),
  pseudo: z.boolean().optional(),
  leakage: Leakage.optional(),
  /**
   * `--backbone random` rows: the seed the ViT was initialised with (with --run R, R's training seed). Random inits
   * of runs with different seeds are different baselines, not re-runs of one; rows stored before this key read as 0.
   */
  initSeed: int.min(0).optional(),
  /**
   * `--backbone random` rows: the ViT that was initialised (training/backbone.ts's architectureOf), since "random" of a
   * depth-2 ViT and of the preset's are different baselines; rows stored before this key carry none.
   */
  architecture: z.string().optional(),
  /** An exported model evaluated with --run DIR: what it is, since it has no row in the runs table. */
  model: z.looseObject({ dir: z.string().optional(), preset: z.string().optional(), run: z.string().optional(), step: num.optional() }).optional(),
});
export type EvalExtra = z.infer<typeof EvalExtra>;

/** forget_requests.asked: what a request asked for (never a descriptor). */
export const AskedRecord = z.object({
  examples: z.object({ images: int, faces: z.array(int) }),
  urls: z.array(z.string()),
  domains: z.array(z.string()),
  set: z.string().nullable(),
  threshold: num.nullable(),
});
export type AskedRecord = z.infer<typeof AskedRecord>;

/** forget_requests.counts: what a finished request removed. */
export const ForgetCounts = z.object({
  faces: int,
  /** Images removed whole (row, blob, items marked opted_out). */
  images: int,
  /** Images that keep other faces: only the forgotten faces' rows go. */
  imagesKept: int,
  /** Descriptor rows overwritten. */
  descriptors: int,
  /** Run embedding rows overwritten. */
  embeddings: int,
  /** Files deleted: crops, thumbnails, blobs. */
  files: int,
  optouts: int,
});
export type ForgetCounts = z.infer<typeof ForgetCounts>;

/** forget_requests.runs: the training runs that saw the forgotten faces, and how many each saw. */
export const ForgetRuns = z.array(z.object({ run: z.string(), faces: int }));

/** A JSON column as read: its value, or why it cannot be used ("not valid JSON", "not what the column holds (…)"). */
export type ColumnRead<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Parses and checks one JSON column. The value returned is the schema's output, so defaults apply (a run config
 * stored before a section existed reads with that section's default). Columns whose keys are data (own keys such as
 * "__proto__") are checked by a custom schema that returns JSON.parse's object itself. SQL NULL reads as null.
 */
export function readJsonColumn<T>(schema: ZodType<T>, text: string | null): ColumnRead<T | null> {
  if (text === null) return { ok: true, value: null };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0]!;
  return { ok: false, reason: `not what the column holds (${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message})` };
}

const warned = new Set<string>();

/**
 * A column whose loss costs nothing but a detail (a caption, a chart, a description): an unreadable value reads as
 * `fallback` (as NULL does), with one warning per column and row naming the reason.
 */
export function jsonColumnOr<T>(schema: ZodType<T>, text: string | null, fallback: NoInfer<T>, where: string): T;
export function jsonColumnOr<T>(schema: ZodType<T>, text: string | null, fallback: null, where: string): T | null;
export function jsonColumnOr<T>(schema: ZodType<T>, text: string | null, fallback: T | null, where: string): T | null {
  const r = readJsonColumn(schema, text);
  if (r.ok) return r.value ?? fallback;
  if (!warned.has(where)) {
    warned.add(where);
    log.warn(`${where} is ${r.reason}; read as ${JSON.stringify(fallback)}`);
  }
  return fallback;
}

/** A column that must be read right (a journal that says what work remains): unreadable is an InputError. */
export function jsonColumn<T>(schema: ZodType<T>, text: string | null, where: string): T | null {
  const r = readJsonColumn(schema, text);
  if (!r.ok) throw new InputError(`${where} is ${r.reason}: the workspace database was damaged or edited`);
  return r.value;
}
