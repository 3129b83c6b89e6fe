// The curated-set contract (DESIGN.md): curated/<set>/manifest.jsonl, one line per crop, and set.json beside it.
// Written by retrieval/export.ts (kind curated), the synthetic writer (kind synthetic) and the pseudo-labeller
// (kind pseudo); read by training/manifest.ts, pros embed, the pseudo-labeller and the downstream readers. Each shape
// is a zod schema and its TypeScript type is derived from it, so writer and reader cannot drift apart.
import { z } from 'zod';

// zod 4's number() already refuses NaN and ±Infinity.
const finite = z.number();
const point = z.tuple([finite, finite]);

/**
 * One line of manifest.jsonl. `id` is the face's id: an integer, the workspace's faces.id for a curated set (what
 * `pros embed` files embeddings under), a running number for synthetic sets. Training needs only `id` and `path`; the
 * rest describes the crop and is carried along (optional for hand-made sets, always written by the writers here).
 */
export const ManifestLine = z.object({
  id: z.number().int().nonnegative(),
  /** The crop, relative to the manifest. */
  path: z.string().min(1),
  /** sha256 of the source image (a stem for synthetic faces). */
  image: z.string().optional(),
  /** URL or file path of the source image. */
  source: z.string().optional(),
  /** [x, y, w, h] in source pixels. */
  box: z.tuple([finite, finite, finite, finite]).optional(),
  score: finite.optional(),
  /** [[x, y], ...] in crop pixels. */
  landmarks: z.array(point).optional(),
  yaw: finite.nullable().optional(),
  pitch: finite.nullable().optional(),
  roll: finite.nullable().optional(),
  faceRatio: finite.optional(),
  sharpness: finite.nullable().optional(),
  licence: z.string().optional(),
});
export type ManifestLine = z.infer<typeof ManifestLine>;

const common = {
  name: z.string().optional(),
  createdAt: z.string(),
  version: z.string(),
};

/** set.json of an exported curated set (`pros curate`, `pros export`). */
export const CuratedSetInfo = z.object({
  ...common,
  kind: z.literal('curated'),
  name: z.string(),
  /** Crop side in pixels. */
  size: z.number().int().positive(),
  /** Crop side as a multiple of the face box, and the random shift of the crop centre (fraction of the box). */
  scale: finite,
  jitter: finite,
  policy: z.record(z.string(), z.unknown()),
  dedup: z.record(z.string(), z.unknown()),
  counts: z.object({ faces: z.number().int(), images: z.number().int() }),
  updatedAt: z.string(),
});

/** set.json of `pros synth`: labelled synthetic faces. */
export const SyntheticSetInfo = z.object({
  ...common,
  kind: z.literal('synthetic'),
  /** Image side in pixels. */
  size: z.number().int().positive(),
  counts: z.object({ faces: z.number().int(), train: z.number().int(), test: z.number().int() }),
  generator: z.string(),
  seed: z.number().int(),
  placement: z.object({ rotate: finite, zoom: finite, shift: finite }),
  labels: z.object({ expressions: z.record(z.string(), z.number()), attributes: z.record(z.string(), z.number()) }),
});

/** set.json of `pros pseudolabel`: labels made by a model on a curated set's crops, NOT ground truth. */
export const PseudoSetInfo = z.object({
  ...common,
  kind: z.literal('pseudo'),
  note: z.string(),
  /** The curated set the crops came from. */
  from: z.string(),
  counts: z.object({
    crops: z.number().int(), labelled: z.number().int(), noFace: z.number().int(), train: z.number().int(), test: z.number().int(),
  }),
  emotions: z.record(z.string(), z.number()),
});

/** set.json of `pros corpus`'s mixed set: real crops and synthetic faces read by relative path, without a copy. */
export const MixedSetInfo = z.object({
  ...common,
  kind: z.literal('mixed'),
  name: z.string(),
  note: z.string(),
  parts: z.array(z.object({ dir: z.string(), faces: z.number().int() })),
  counts: z.object({ faces: z.number().int(), real: z.number().int(), synthetic: z.number().int() }),
});

/** set.json, by kind. A file written before `kind` existed is a curated set's. */
export const SetInfo = z.preprocess(
  (v) => (v && typeof v === 'object' && !('kind' in v) ? { ...v, kind: 'curated' } : v),
  z.discriminatedUnion('kind', [CuratedSetInfo, SyntheticSetInfo, PseudoSetInfo, MixedSetInfo]),
);
export type CuratedSetInfo = z.infer<typeof CuratedSetInfo>;
export type SyntheticSetInfo = z.infer<typeof SyntheticSetInfo>;
export type PseudoSetInfo = z.infer<typeof PseudoSetInfo>;
export type MixedSetInfo = z.infer<typeof MixedSetInfo>;
export type SetInfo = z.infer<typeof SetInfo>;
export type SetKind = SetInfo['kind'];

/** Where a line or file broke the contract, in one short phrase (`id: expected an integer`). */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`)
    .join('; ');
}

/** Parses one manifest line's JSON text; a reason string when it is not a line of the contract. */
export function parseManifestLine(text: string): ManifestLine | string {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  const r = ManifestLine.safeParse(obj);
  return r.success ? r.data : describeIssues(r.error);
}

/** Parses set.json's text; a reason string when it does not match the contract. */
export function parseSetInfo(text: string): SetInfo | string {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  const r = SetInfo.safeParse(obj);
  return r.success ? r.data : describeIssues(r.error);
}
