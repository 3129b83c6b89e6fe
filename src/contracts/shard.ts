// The scale-out boundary (retrieval/queue/): what a coordinator (`pros curate --queue`) hands a worker (`pros worker`)
// as a BullMQ job, and what the worker hands back as the job's return value. Both sides parse with these schemas; the
// `schema` literal names the version, so a worker from another pros version refuses a shard instead of misreading it.
import { z } from 'zod';
import { DecodeConfig, FaceConfig, FetchConfig, PolicyConfig } from './config.ts';

export const SHARD_SCHEMA = 'pros-shard/2';

/** The `schema` field alone, read before the rest so that a version mismatch gets its own clear message. */
export const ShardHeader = z.object({ schema: z.string() });

export const ShardItem = z.object({
  /** The item's row id in the coordinator's workspace: the merge key. */
  id: z.number().int().positive(),
  uri: z.string().min(1),
  local: z.boolean(),
});
export type ShardItem = z.infer<typeof ShardItem>;

export const ShardJob = z.object({
  schema: z.literal(SHARD_SCHEMA),
  /** The coordinator's workspace token: several workspaces may share one queue. */
  run: z.string().min(1),
  shard: z.number().int().positive(),
  /**
   * The coordinator's config sections the per-item pipeline reads, whole and checked with the config tree's own
   * schemas, so every worker applies the same policy (a worker keeps only its own faces.workers).
   */
  config: z.strictObject({ fetch: FetchConfig, decode: DecodeConfig, faces: FaceConfig, policy: PolicyConfig }),
  items: z.array(ShardItem).min(1),
});
export type ShardJob = z.infer<typeof ShardJob>;

/** JSON has no NaN: angles the analyser could not measure travel as null. */
const angle = z.number().nullable();

export const ShardFace = z.object({
  box: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  score: z.number(),
  faceRatio: z.number(),
  landmarks: z.array(z.tuple([z.number(), z.number()])),
  yaw: angle,
  pitch: angle,
  roll: angle,
  sharpness: z.number(),
  dhash: z.string(),
  /** base64 of the little-endian float32 descriptor (1024 values); absent for faces stopped before the descriptor. */
  descriptor: z.string().optional(),
  status: z.enum(['accepted', 'rejected']),
  reason: z.string().optional(),
});
export type ShardFace = z.infer<typeof ShardFace>;

export const ShardOutcome = z.object({
  status: z.enum(['ok', 'failed', 'skipped']),
  reason: z.string().optional(),
  httpStatus: z.number().int().optional(),
  attempts: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative().optional(),
  contentType: z.string().optional(),
  sha256: z.string().optional(),
});
export type ShardOutcome = z.infer<typeof ShardOutcome>;

export const ShardImage = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  format: z.string(),
  /** base64 of the source bytes: the coordinator keeps them under images/ as a local run does. */
  data: z.string(),
  status: z.enum(['accepted', 'rejected', 'no_face']),
  reason: z.string().optional(),
  faceRatio: z.number(),
  faces: z.array(ShardFace),
});
export type ShardImage = z.infer<typeof ShardImage>;

export const ShardItemResult = z.object({
  id: z.number().int().positive(),
  outcome: ShardOutcome,
  /** Present when the item decoded to an image that was analysed (outcome ok). */
  image: ShardImage.optional(),
  /**
   * An exact copy (outcome.sha256) of an image another item of this shard carries: analysed and sent once; the merge
   * gives the copy that image's fate.
   */
  copy: z.literal(true).optional(),
});
export type ShardItemResult = z.infer<typeof ShardItemResult>;

export const ShardResult = z.object({
  schema: z.literal(SHARD_SCHEMA),
  run: z.string(),
  shard: z.number().int().positive(),
  /** host:pid of the worker that produced it, for the log. */
  worker: z.string(),
  items: z.array(ShardItemResult),
});
export type ShardResult = z.infer<typeof ShardResult>;

/** The message a worker and a coordinator on different schemas print. */
export function schemaMismatch(theirs: string, where: string): string {
  return `${where} speaks shard schema ${theirs}, this pros speaks ${SHARD_SCHEMA}: run the same pros version on the coordinator and every worker`;
}
