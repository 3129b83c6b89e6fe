// One row type per table of the workspace database (src/schema.ts holds the migrations that create them). Each is
// a zod object so that the type is derived from one declaration and a test (test/src/rows.test.ts) can check the
// columns and their nullability against the migrated database; queries do NOT parse rows with these schemas (the
// database is ours and the hot paths read thousands of rows): they name the row type on the statement,
// `db.prepare<[Params], FaceRow>(sql)`, or `Pick<…>` of it for a narrower SELECT.
//
// Why here and not in src/schema.ts: schema.ts is an append-only list of SQL migrations; the row types are the
// contract every room reads, and a table's current shape is the sum of several migrations.
import { z } from 'zod';

const int = z.number().int();
const real = z.number();
const text = z.string();

export const SourceRow = z.object({
  id: int,
  kind: text,
  uri: text,
  added_at: text,
  done: int,
});

export const ItemStatus = z.enum(['pending', 'ok', 'failed', 'skipped']);
export const ItemRow = z.object({
  id: int,
  source_id: int,
  uri: text,
  /** JSON: caption, licence and other columns of the source row. */
  meta: text.nullable(),
  status: ItemStatus,
  reason: text.nullable(),
  http_status: int.nullable(),
  attempts: int,
  bytes: int.nullable(),
  content_type: text.nullable(),
  image_sha256: text.nullable(),
  depth: int,
  updated_at: text.nullable(),
  kind: z.enum(['image', 'page']),
  /** The scale-out shard the item was handed out in (pros curate --queue); null when curated on one machine. */
  shard: int.nullable(),
});

export const ImageStatus = z.enum(['accepted', 'rejected', 'no_face', 'failed']);
export const ImageRow = z.object({
  sha256: text,
  width: int.nullable(),
  height: int.nullable(),
  format: text.nullable(),
  bytes: int.nullable(),
  origin: text,
  licence: text.nullable(),
  caption: text.nullable(),
  status: ImageStatus,
  reason: text.nullable(),
  n_faces: int,
  face_ratio: real.nullable(),
  blob_path: text.nullable(),
  analysed_at: text,
});

// forgetting: planned for removal by a `pros forget` that has not finished (its journal resumes it).
export const FaceStatus = z.enum(['accepted', 'rejected', 'duplicate', 'forgetting']);
export const FaceRow = z.object({
  id: int,
  image_sha256: text,
  idx: int,
  x: real,
  y: real,
  w: real,
  h: real,
  score: real,
  face_ratio: real,
  /** JSON [[x, y], ...] in source pixels. */
  landmarks: text.nullable(),
  yaw: real.nullable(),
  pitch: real.nullable(),
  roll: real.nullable(),
  sharpness: real.nullable(),
  /** 64-bit perceptual hash of the grey crop, hex. */
  dhash: text.nullable(),
  /** Row in index/descriptors.f32; null when not described. */
  descriptor_row: int.nullable(),
  status: FaceStatus,
  reason: text.nullable(),
  dup_of: int.nullable(),
});

export const DecisionRow = z.object({
  id: int,
  face_id: int,
  action: text,
  value: text.nullable(),
  who: text,
  at: text,
});

export const TagRow = z.object({ face_id: int, tag: text });

export const SetRow = z.object({
  name: text,
  created_at: text,
  kind: text,
  meta: text.nullable(),
});

export const SetMemberRow = z.object({
  set_name: text,
  face_id: int,
  added_at: text,
  added_by: text.nullable(),
});

export const RunStatus = z.enum(['running', 'stopped', 'done', 'failed']);
export const RunRow = z.object({
  name: text,
  /** The curated set directory trained on. */
  data: text.nullable(),
  /** JSON, the merged training config. */
  config: text,
  backend: text.nullable(),
  status: RunStatus,
  step: int,
  created_at: text,
  updated_at: text.nullable(),
});

export const MetricRow = z.object({
  run: text,
  step: int,
  /** JSON {"loss": .., "distill": .., "proto": .., "lr": .., ...} */
  values_json: text,
  at: text,
});

export const EvalRow = z.object({
  id: int,
  /** A run name, or a baseline: random | human | majority | mean-shape. */
  run: text,
  task: text,
  dataset: text,
  protocol: text,
  /** null: all training examples. */
  shots: int.nullable(),
  seed: int,
  metric: text,
  value: real,
  /** JSON: the evaluation's details (model, leakage check, ...). */
  extra: text.nullable(),
  at: text,
});

export const EmbeddingRow = z.object({ run: text, face_id: int, row: int });

export const ForgetStep = z.enum(['planned', 'descriptors', 'indexes', 'exports', 'caches', 'rows', 'blobs', 'done']);
export const ForgetRequestRow = z.object({
  id: int,
  key: text,
  who: text,
  /** JSON: what was asked. */
  asked: text,
  step: ForgetStep,
  counts: text.nullable(),
  runs: text.nullable(),
  created_at: text,
  finished_at: text.nullable(),
});

export const ForgetFaceRow = z.object({
  request_id: int,
  face_id: int,
  image_sha256: text,
  descriptor_row: int.nullable(),
});

export const ForgetImageRow = z.object({
  request_id: int,
  sha256: text,
  blob_path: text.nullable(),
  /** 1: no kept face needs the image; 0: only faces go. */
  whole: int,
});

export const ForgetEmbeddingRow = z.object({ request_id: int, run: text, face_id: int, row: int });

export const OptOutKind = z.enum(['domain', 'prefix', 'url', 'face']);
export const OptOutRow = z.object({
  id: int,
  kind: OptOutKind,
  value: text.nullable(),
  descriptor_row: int.nullable(),
  request_id: int.nullable(),
  note: text.nullable(),
  added_at: text,
});

export const RunSetRow = z.object({
  run: text,
  manifest_sha256: text,
  set_dir: text,
  faces: int,
  step: int,
  at: text,
});

export const RunFaceRow = z.object({ run: text, face_id: int });

export const RunAffectedRow = z.object({ run: text, request_id: int, faces: int });

export const ShardState = z.enum(['queued', 'merged', 'failed']);
export const ShardRow = z.object({
  id: int,
  /** Items in the shard. */
  items: int,
  state: ShardState,
  error: text.nullable(),
  worker: text.nullable(),
  queued_at: text,
  finished_at: text.nullable(),
});

export const QueueMetaRow = z.object({ key: text, value: text });

/** Every table and its row schema (the test checks this list against the migrated database). */
export const tables = {
  sources: SourceRow,
  items: ItemRow,
  images: ImageRow,
  faces: FaceRow,
  decisions: DecisionRow,
  tags: TagRow,
  sets: SetRow,
  set_members: SetMemberRow,
  runs: RunRow,
  metrics: MetricRow,
  evals: EvalRow,
  embeddings: EmbeddingRow,
  forget_requests: ForgetRequestRow,
  forget_faces: ForgetFaceRow,
  forget_images: ForgetImageRow,
  forget_embeddings: ForgetEmbeddingRow,
  optouts: OptOutRow,
  run_sets: RunSetRow,
  run_faces: RunFaceRow,
  run_affected: RunAffectedRow,
  shards: ShardRow,
  queue_meta: QueueMetaRow,
} as const;

export type SourceRow = z.infer<typeof SourceRow>;
export type ItemStatus = z.infer<typeof ItemStatus>;
export type ItemRow = z.infer<typeof ItemRow>;
export type ImageStatus = z.infer<typeof ImageStatus>;
export type ImageRow = z.infer<typeof ImageRow>;
export type FaceStatus = z.infer<typeof FaceStatus>;
export type FaceRow = z.infer<typeof FaceRow>;
export type DecisionRow = z.infer<typeof DecisionRow>;
export type TagRow = z.infer<typeof TagRow>;
export type SetRow = z.infer<typeof SetRow>;
export type SetMemberRow = z.infer<typeof SetMemberRow>;
export type RunStatus = z.infer<typeof RunStatus>;
export type RunRow = z.infer<typeof RunRow>;
export type MetricRow = z.infer<typeof MetricRow>;
export type EvalRow = z.infer<typeof EvalRow>;
export type EmbeddingRow = z.infer<typeof EmbeddingRow>;
export type ForgetStep = z.infer<typeof ForgetStep>;
export type ForgetRequestRow = z.infer<typeof ForgetRequestRow>;
export type ForgetFaceRow = z.infer<typeof ForgetFaceRow>;
export type ForgetImageRow = z.infer<typeof ForgetImageRow>;
export type ForgetEmbeddingRow = z.infer<typeof ForgetEmbeddingRow>;
export type OptOutKind = z.infer<typeof OptOutKind>;
export type OptOutRow = z.infer<typeof OptOutRow>;
export type RunSetRow = z.infer<typeof RunSetRow>;
export type RunFaceRow = z.infer<typeof RunFaceRow>;
export type RunAffectedRow = z.infer<typeof RunAffectedRow>;
export type ShardState = z.infer<typeof ShardState>;
export type ShardRow = z.infer<typeof ShardRow>;
export type QueueMetaRow = z.infer<typeof QueueMetaRow>;
