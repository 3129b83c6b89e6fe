// The configuration tree (DESIGN.md): every option of every command, as one zod schema with the TypeScript types
// derived from it. `ProsConfig` holds retrieval's sections, `train` (overrides over a training preset: the presets
// themselves live with the trainer, training/config.ts) and `eval` (the downstream protocol's defaults). A config
// file is checked against the deep-partial form of the tree at load; a run's stored training config against the full
// `TrainConfig` on --resume. Unknown keys and wrong types are ConfigErrors naming the key path.
import { z, type ZodType } from 'zod';
import { ConfigError } from '../errors.ts';

const num = z.number();
const int = z.number().int();
const unit = z.number().min(0).max(1);
const pair = z.tuple([num, num]);
const triple = z.tuple([num, num, num]);

export const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export const Backend = z.enum(BACKENDS);
export type Backend = z.infer<typeof Backend>;
export const IndexEngine = z.enum(['usearch', 'hnswlib']);
export type IndexEngine = z.infer<typeof IndexEngine>;

// ───── retrieval ─────

export const FetchConfig = z.strictObject({
  /** Requests in flight across all hosts. */
  concurrency: int.min(1),
  /** Requests in flight to one host: politeness. */
  perHost: int.min(1),
  connectTimeoutMs: num.min(0),
  /** Whole request, first byte to last. */
  totalTimeoutMs: num.min(0),
  /** Retries on transient errors (timeouts, resets, 429, 5xx), with exponential backoff. */
  retries: int.min(0),
  backoffMs: num.min(0),
  maxBytes: int.min(1),
  maxRedirects: int.min(0),
  userAgent: z.string(),
  respectRobots: z.boolean(),
  /** Honour `X-Robots-Tag: noai` / `noimageai` as an opt-out from AI training. */
  respectNoAI: z.boolean(),
  /**
   * Fetch from any address. Off by default: loopback, private, link-local (cloud metadata), multicast, reserved and
   * unspecified addresses are refused (`private_address`), so crawled pages cannot aim the crawler at internal
   * services. `--allow-private` turns it on, e.g. for the demo's corpus server on 127.0.0.1.
   */
  allowPrivate: z.boolean(),
  /** Non-public ranges (CIDR, e.g. "10.1.2.0/24") fetched even without allowPrivate: one intranet, not all of them. */
  allowAddresses: z.array(z.string()),
});
export type FetchConfig = z.infer<typeof FetchConfig>;

export const CrawlConfig = z.strictObject({
  /** Link depth followed from a start page (0: only the page's own images). */
  depth: int.min(0),
  sameHost: z.boolean(),
  maxPages: int.min(1),
});
export type CrawlConfig = z.infer<typeof CrawlConfig>;

export const DecodeConfig = z.strictObject({
  /** Decompression-bomb guard: images with more pixels are rejected before decoding. */
  maxPixels: int.min(1),
  /** Longest side of the image handed to face detection. */
  analysisSize: int.min(16),
  minSide: int.min(1),
});
export type DecodeConfig = z.infer<typeof DecodeConfig>;

export const FaceConfig = z.strictObject({
  /** Worker threads running face analysis; one wasm instance is single-threaded. */
  workers: int.min(1),
  /** Faces the detector may return per image (beyond maxFaces policy, so crowds are recognised and rejected). */
  maxDetected: int.min(1),
  /** Detector's own floor; the policy threshold below is what decides acceptance. */
  detectorMinScore: unit,
});
export type FaceConfig = z.infer<typeof FaceConfig>;

export const PolicyConfig = z.strictObject({
  /** Largest face box area over image area: "predominantly face". */
  minFaceRatio: unit,
  /** Shorter side of the face box, in source pixels. */
  minFaceSize: num.min(0),
  minScore: unit,
  /** Images with more faces than this (above minScore) are rejected as crowds. */
  maxFaces: int.min(1),
  maxYaw: num,
  maxPitch: num,
  maxRoll: num,
  /** Variance of the Laplacian of the grey face crop at 112 px. */
  minSharpness: num.min(0),
});
export type PolicyConfig = z.infer<typeof PolicyConfig>;

export const DedupConfig = z.strictObject({
  /** Cosine similarity of human descriptors above which two faces are near-duplicate candidates. */
  nearThreshold: num.min(-1).max(1),
  /** Hamming distance (of 64) of crop dHashes confirming a near-duplicate on image content. */
  maxHashDistance: int.min(0).max(64),
});
export type DedupConfig = z.infer<typeof DedupConfig>;

export const IndexConfig = z.strictObject({
  engine: IndexEngine,
  M: int.min(2),
  efConstruction: int.min(1),
  efSearch: int.min(1),
  /** usearch storage type. */
  quantization: z.enum(['f32', 'f16', 'bf16', 'i8']),
  threads: int.min(1),
});
export type IndexConfig = z.infer<typeof IndexConfig>;

export const ExportConfig = z.strictObject({
  /** Crop side in pixels. */
  size: int.min(8),
  /** Crop side as a multiple of the face box's longer side. */
  scale: num.positive(),
  /** Random shift of the crop centre, as a fraction of the crop side (0: none). */
  jitter: num.min(0),
  quality: int.min(1).max(100),
});
export type ExportConfig = z.infer<typeof ExportConfig>;

export const PrivacyConfig = z.strictObject({
  /**
   * Cosine similarity of human descriptors above which two faces are taken for the same person, by `pros forget`
   * (a person's other photos) and by face opt-outs at curation time. Distinct from dedup.nearThreshold (copies).
   */
  samePerson: num.min(-1).max(1),
});
export type PrivacyConfig = z.infer<typeof PrivacyConfig>;

// ───── training (values and their provenance: training/config.ts) ─────

export const ViTConfig = z.strictObject({
  /** Global crop side the position embeddings are learned at; other sizes interpolate them. */
  imageSize: int.min(1),
  patch: int.min(1),
  width: int.min(1),
  depth: int.min(1),
  heads: int.min(1),
  mlpRatio: num.positive(),
  /** Stochastic depth rate, linearly increasing to this at the last block. [recon: DINO 0.1] */
  dropPath: unit,
  layerNormEps: num.positive(),
});
export type ViTConfig = z.infer<typeof ViTConfig>;

export const ViewsConfig = z.strictObject({
  /** Global crop side (teacher and student). [recon: 224 px at full size] */
  globalSize: int.min(1),
  /** Local crop side (student only). [recon: 96 px at full size] */
  localSize: int.min(1),
  /** Number of local crops. [recon: 8] */
  locals: int.min(0),
  /** Area fraction ranges of random resized crops. [recon: 0.4–1 and 0.05–0.4] */
  globalScale: pair,
  localScale: pair,
  flipP: unit,
  /** Colour jitter, applied with probability `p`. [recon: 0.4, 0.4, 0.2, 0.1 with p 0.8] */
  jitter: z.strictObject({ p: unit, brightness: num.min(0), contrast: num.min(0), saturation: num.min(0), hue: num.min(0) }),
  grayscaleP: unit,
  /** Gaussian blur: sigma range in pixels of a 224-px global view, × globalSize / 224 for every view; probabilities per view. */
  blur: z.strictObject({ sigma: pair, pGlobal1: unit, pGlobal2: unit, pLocal: unit }),
  /** Solarization on the second global view only. [recon: 0.2] */
  solarizeP: unit,
  mean: triple,
  std: triple,
  /** Decoded crops kept in memory (above this, crops are decoded again on each use). */
  cacheImages: int.min(0),
  /** Batches prepared ahead by the views worker. */
  prefetch: int.min(0),
});
export type ViewsConfig = z.infer<typeof ViewsConfig>;

export const HeadConfig = z.strictObject({
  /** MLP hidden width, layers (incl. the bottleneck layer), bottleneck, and K outputs. [recon: 2048, 3, 256, 65536] */
  hidden: int.min(1),
  layers: int.min(1),
  bottleneck: int.min(1),
  outputs: int.min(1),
});
export type HeadConfig = z.infer<typeof HeadConfig>;

export const DistillConfig = z.strictObject({
  enabled: z.boolean(),
  studentTemp: num.positive(),
  /** Teacher temperature warmed up linearly from warmupTeacherTemp over warmupFraction of the run. [recon: 0.04 → 0.07 over 30 of 100 epochs] */
  warmupTeacherTemp: num.positive(),
  teacherTemp: num.positive(),
  warmupFraction: unit,
  centerMomentum: unit,
});
export type DistillConfig = z.infer<typeof DistillConfig>;

export const ProtoConfig = z.strictObject({
  enabled: z.boolean(),
  /** λ_proto. [recon: 1] */
  weight: num.min(0),
  /** K_p prototypes of the bottleneck dimension. [recon: 1024] */
  count: int.min(1),
  /** τ_p. [recon: 0.1] */
  temp: num.positive(),
  /** Teacher target: sharpened probabilities (T) or Sinkhorn-Knopp balanced assignments. [recon: sharpen, 0.25] */
  target: z.enum(['sharpen', 'sinkhorn']),
  sharpenTemp: num.positive(),
  sinkhornIters: int.min(1),
  sinkhornEps: num.positive(),
  /** λ_me, weight of the mean-entropy regulariser. [recon: 1] */
  meanEntropyWeight: num.min(0),
});
export type ProtoConfig = z.infer<typeof ProtoConfig>;

export const OptimConfig = z.strictObject({
  /** Base learning rate per 256 images: lr = baseLr × scale(batch / 256). [recon: 5e-4] */
  baseLr: num.min(0),
  /**
   * How the rate scales with the batch: linear (DINO, batch / 256), sqrt (√(batch / 256)) or none (baseLr as is).
   * Runs stored before the option existed scaled linearly. [recon: linear]
   */
  lrScaling: z.enum(['linear', 'sqrt', 'none']).default('linear'),
  minLr: num.min(0),
  /** Linear warm-up as a fraction of the run. [recon: 10 of 100 epochs] */
  warmupFraction: unit,
  weightDecay: num.min(0),
  weightDecayEnd: num.min(0),
  /** Gradient clipping threshold; DINO clips each parameter's gradient norm. [recon: 3.0, per-parameter] */
  clipGrad: num.min(0),
  clipMode: z.enum(['per-parameter', 'global']),
  /**
   * The head's last layer is frozen during this many of the nominal `epochs`, scaled with the run when `steps` sets
   * its length (like the warm-ups: 1 of 20 epochs is the first 5 % of any run). [recon: 1 epoch]
   */
  freezeLastLayerEpochs: num.min(0),
  beta1: unit,
  beta2: unit,
  eps: num.positive(),
});
export type OptimConfig = z.infer<typeof OptimConfig>;

/** KoLeo regulariser on the student's CLS of each global crop (DINOv2). 0: off. [recon: DINOv2 0.1] */
export const KoleoConfig = z.strictObject({ weight: num.min(0) });
export type KoleoConfig = z.infer<typeof KoleoConfig>;

/**
 * Masked patch self-distillation (iBOT; DINOv2's patch term): some patch embeddings of the student's global crops are
 * replaced by a learned mask token, and at those positions the student's patch outputs (through the same head) match
 * the teacher's on the unmasked crop, with the teacher temperature schedule and a centre of their own. It trains the
 * patch tokens, which the landmark and token probes read. 0: off. [recon: iBOT, DINOv2 (weight 1, p 0.5, 0.1–0.5)]
 */
export const IbotConfig = z.strictObject({
  weight: num.min(0),
  /** Chance that a global crop is masked at all. */
  maskP: unit,
  /** Fraction of a masked crop's patches replaced, drawn uniformly in this range. */
  maskRatio: z.tuple([unit, unit]),
  /**
   * Weight of a masked-pixel target beside iBOT's (MAE's, per-patch normalised pixels, from a linear decoder on the
   * student's masked patch tokens): it asks the tokens to keep what is where inside a patch. 0: off. [trial]
   */
  pixelWeight: num.min(0).default(0),
  /**
   * Weight of the dense cross-view patch term (training/loss/dense.ts): a patch of one global crop matches, through
   * iBOT's head and centre, the teacher's output for the patch of the other global crop that shows the same place.
   * 0: off. [trial: VICRegL's correspondence in iBOT's form]
   */
  denseWeight: num.min(0).default(0),
  /** Matched patches drawn per global crop for the dense term (fewer rows through the head: cheaper). */
  densePerCrop: int.min(1).default(16),
  /**
   * Where the dense term reads the teacher: `patch`, the token of the patch that holds the matched point; `bilinear`,
   * the four tokens round it weighted by distance (RoIAlign's sampling), before the head. Runs stored before: patch.
   */
  denseTarget: z.enum(['patch', 'bilinear']).default('patch'),
  /**
   * The local crops join the dense term too: a patch of a small crop, which sees only part of the face, matches the
   * teacher's output for the place it shows in a global crop (which sees all of it). Runs stored before: off. [trial]
   */
  denseLocals: z.boolean().default(false),
});
export type IbotConfig = z.infer<typeof IbotConfig>;

/**
 * Patch position prediction (MP3, Zhai et al. 2022; DropPos, Wang et al. 2023): a linear classifier on each local
 * crop's patch tokens says which cell of a `grid`×`grid` partition of its (possibly flipped) image the patch shows. A
 * crop that sees a third of the face knows where each patch lies in the crop (its position embedding), not where the
 * crop lies in the face: to answer, the token must say which part of the face it shows, which is what the landmark
 * probe reads. Only the crops' known geometry is used, no label. 0: off; without local crops and without `globals` it
 * asks no crop and is idle. [measured: r31]
 */
export const PositionConfig = z.strictObject({
  weight: num.min(0),
  /** Cells per side of the image partition the classifier chooses among (grid² classes). */
  grid: int.min(1),
  /** The global crops' patches are asked too (they see nearly the whole image, so their answer is mostly the position embedding's). */
  globals: z.boolean(),
});
export type PositionConfig = z.infer<typeof PositionConfig>;

/** Whether a run's position term asks any crop: its weight is set and there are local crops, or it asks the global ones. */
export const positionOn = (c: { position: PositionConfig; views: { locals: number } }) => c.position.weight > 0 && (c.views.locals > 0 || c.position.globals);

export const TeacherConfig = z.strictObject({
  /** EMA momentum, cosine from `momentum` to `momentumEnd`. [recon: 0.996 → 1] */
  momentum: unit,
  momentumEnd: unit,
});
export type TeacherConfig = z.infer<typeof TeacherConfig>;

export const CollapseConfig = z.strictObject({
  /** Warn when the teacher's mean entropy falls below this fraction of log K (one dominant output). */
  minEntropyRatio: unit,
  /** Warn when the entropy is above this fraction of log K while the teacher–student KL is below `minKl` (flat). */
  maxEntropyRatio: unit,
  minKl: num.min(0),
  /** Warn when the feature std across the batch × sqrt(dim) falls below this (all features alike). */
  minFeatureStd: num.min(0),
  /** Steps after which the watch starts (the teacher temperature warm-up makes early steps look odd). */
  afterFraction: unit,
});
export type CollapseConfig = z.infer<typeof CollapseConfig>;

/** A fully resolved training config: what `pros train` runs and stores as runs/<run>/config.json. */
export const TrainConfig = z.strictObject({
  /** The preset the run started from (tiny, small, base). */
  preset: z.string().min(1),
  backend: Backend,
  seed: int.min(0),
  /** Images per step, over all workers. */
  batchSize: int.min(1),
  epochs: num.positive(),
  /** Total steps; 0: epochs × steps per epoch. */
  steps: int.min(0),
  checkpointEvery: int.min(1),
  /** Data-parallel worker threads; 0: auto (2 when 2+ cores, else 1 = train on the calling thread). */
  workers: int.min(0),
  vit: ViTConfig,
  views: ViewsConfig,
  head: HeadConfig,
  distill: DistillConfig,
  proto: ProtoConfig,
  /** Absent in runs stored before the term existed: off. */
  koleo: KoleoConfig.default({ weight: 0 }),
  /** Absent in runs stored before the term existed: off. */
  ibot: IbotConfig.default({ weight: 0, maskP: 0.5, maskRatio: [0.1, 0.5], pixelWeight: 0, denseWeight: 0, densePerCrop: 16, denseTarget: 'patch', denseLocals: false }),
  /** Absent in runs stored before the term existed: off. */
  position: PositionConfig.default({ weight: 0, grid: 8, globals: false }),
  optim: OptimConfig,
  teacher: TeacherConfig,
  collapse: CollapseConfig,
});
export type TrainConfig = z.infer<typeof TrainConfig>;

// ───── evaluation ─────

/** One protocol's head training. */
const EvalProtocolConfig = z.strictObject({ epochs: int.min(1), lr: num.positive() });

/** Defaults of `pros eval` (each is also a flag; a flag wins). */
export const EvalConfig = z.strictObject({
  /** ViT preset for `--backbone random` without `--run`. */
  preset: z.string().min(1),
  /** Head training batch. */
  batch: int.min(1),
  /** Hidden width of an MLP head for attributes / expression (0: linear head). */
  hidden: int.min(0),
  /** L2 penalty on the head's weights. */
  l2: num.min(0),
  /** Repetitions with different draws and head inits: on the full train split, and few-shot. */
  seeds: z.strictObject({ full: int.min(1), fewShot: int.min(1) }),
  /**
   * The linear probe also sets how its learning rate runs over the epochs: `cosine` decays it to 0, as DINO's linear
   * evaluation does, so the head settles; at a `constant` rate Adam stops wherever its last steps left it, which moved
   * the same frozen features' landmark NME by ±0.3 % and expression accuracy by up to 7 points between probe seeds
   * (docs/training-recipe.md). Rows record it (evals.extra.schedule); rows stored before it was recorded were constant.
   */
  linear: EvalProtocolConfig.extend({ schedule: z.enum(['cosine', 'constant']) }),
  /** Fine-tuning also trains the backbone, at lr × backboneLrRatio unless --backbone-lr says otherwise. */
  finetune: EvalProtocolConfig.extend({ backboneLrRatio: num.positive() }),
});
export type EvalConfig = z.infer<typeof EvalConfig>;

// ───── the tree ─────

/**
 * Makes every key of a (nested) strict object optional, keeping it strict: the shape of a config file or of the
 * command-line overrides, where any key may be left out but none may be unknown.
 */
export function deepPartial<T extends ZodType>(schema: T): ZodType<DeepPartial<z.infer<T>>> {
  // A partial section fills nothing in: a default (such as `ibot`'s, for runs stored before it) belongs to the full
  // tree, and applied here it would override the preset's value in the merge that follows.
  if (schema instanceof z.ZodDefault) return deepPartial(schema.unwrap() as ZodType) as unknown as ZodType<DeepPartial<z.infer<T>>>;
  if (schema instanceof z.ZodObject) {
    const shape = Object.fromEntries(Object.entries(schema.shape as Record<string, ZodType>).map(([k, v]) => [k, deepPartial(v).optional()]));
    return z.strictObject(shape) as unknown as ZodType<DeepPartial<z.infer<T>>>;
  }
  return schema as unknown as ZodType<DeepPartial<z.infer<T>>>;
}

export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** The `train` section of a ProsConfig: a preset name and overrides over it, resolved by training/config.ts. */
export const TrainSection = deepPartial(TrainConfig);
export type TrainSection = DeepPartial<TrainConfig>;

export const ProsConfig = z.strictObject({
  workspace: z.string().min(1),
  backend: Backend,
  fetch: FetchConfig,
  crawl: CrawlConfig,
  decode: DecodeConfig,
  faces: FaceConfig,
  policy: PolicyConfig,
  dedup: DedupConfig,
  index: IndexConfig,
  export: ExportConfig,
  privacy: PrivacyConfig,
  train: TrainSection,
  eval: EvalConfig,
});
export type ProsConfig = z.infer<typeof ProsConfig>;

/** What a config file (or the flags) may hold: any part of the tree. */
export const ProsConfigFile = deepPartial(ProsConfig);

/** The key path of the first problems in a zod error, as one line: `fetch.perhost: unknown key`. */
export function describeIssues(error: z.ZodError): string {
  // Unknown keys first: they say most plainly that a file is not what it should be (a typo, or another kind of file).
  const unknownFirst = [...error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
  return unknownFirst
    .slice(0, 3)
    .map((i) => {
      const path = i.path.map(String).join('.');
      if (i.code === 'unrecognized_keys') return i.keys.map((k) => `unknown key "${path ? `${path}.${k}` : k}"`).join(', ');
      return `${path || '(root)'}: ${i.message}`;
    })
    .join('; ');
}

/** Parses `value` with `schema`, or throws a ConfigError `${what}: <key path>: <problem>`. */
export function parseConfig<T>(schema: ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new ConfigError(`${what}: ${describeIssues(r.error)}`);
  return r.data;
}
