// Every JSON reply of the web API (web/api/*), typed once. The handlers state that what they send `satisfies` these
// types, the queries and the retrieval functions behind them return them, and the web tests read replies as them
// (test/web/*), so a renamed key fails the typecheck on both sides. Replies are not validated at run time: the
// server writes them from typed code; the browser pages (web/public/*.js) read the same keys.
import type { Box, Neighbour, Point } from './geometry.ts';
import type { DecisionRow, FaceStatus, ForgetStep, ImageStatus, ItemStatus, OptOutKind, OptOutRow } from './rows.ts';
import type { EvalCell, ReportGroup, SkippedRow } from '../evals.ts';
import type { Affected, Lineage } from '../lineage.ts';
import type { AskedRecord, ForgetCounts, ItemMeta, MetricValues, RunConfig } from './columns.ts';

/** Any error: 4xx for the client's input, 5xx otherwise. */
export interface ErrorReply {
  error: string;
}

// ---- faces and images ---------------------------------------------------------------------------------------

/** A face row as the pages show it (GET /api/faces/:id, and in every list of faces). */
export interface Face {
  id: number;
  /** sha256 of its image. */
  image: string;
  idx: number;
  box: Box;
  score: number;
  faceRatio: number;
  yaw: number | null;
  pitch: number | null;
  roll: number | null;
  sharpness: number | null;
  status: FaceStatus;
  reason: string | null;
  dupOf: number | null;
  imageWidth: number | null;
  imageHeight: number | null;
  /**
   * The square of the source image the face thumbnail shows, in source pixels: the export's crop geometry, so it
   * may reach past the image's edges (the thumbnail pads those parts black, as the exported crop does).
   */
  crop: Box;
}

/** GET /api/faces: a page of the face grid. */
export interface FacePage {
  total: number;
  offset: number;
  limit: number;
  faces: Face[];
}

/** GET /api/filters: the values the grid's filter menus offer. */
export interface FilterChoices {
  sets: string[];
  reasons: string[];
  tags: string[];
  imageReasons: string[];
}

/** A decisions row as the CLI and the pages show it. */
export type Decision = Omit<DecisionRow, 'face_id'> & { faceId: number };

export interface FaceDetail extends Face {
  landmarks: Point[];
  tags: string[];
  sets: string[];
}

/** GET /api/images/:sha */
export interface ImageDetail {
  sha256: string;
  width: number | null;
  height: number | null;
  format: string | null;
  bytes: number | null;
  origin: string;
  licence: string | null;
  caption: string | null;
  status: ImageStatus;
  reason: string | null;
  nFaces: number;
  faceRatio: number | null;
  analysedAt: string;
  /** Every URL or file this image was met at, with what its source row said about it. */
  sources: Array<{ uri: string; meta: ItemMeta | null; status: ItemStatus }>;
  faces: FaceDetail[];
  nearDuplicates: Array<Face & { of: number }>;
  decisions: Decision[];
}

export interface ImageTile {
  sha256: string;
  width: number | null;
  height: number | null;
  status: ImageStatus;
  reason: string | null;
  nFaces: number;
  faceRatio: number | null;
  origin: string;
  faces: Array<{ id: number; box: Box; status: FaceStatus }>;
}

/** GET /api/images */
export interface ImagePage {
  total: number;
  offset: number;
  limit: number;
  images: ImageTile[];
}

// ---- overview, runs, evaluations ------------------------------------------------------------------------------

export interface Count {
  status: string;
  reason: string | null;
  n: number;
}

export interface Histogram {
  /** Bins are equal width from `min` to `max`. */
  min: number;
  max: number;
  bins: number;
  accepted: number[];
  other: number[];
}

/** GET /api/overview */
export interface Overview {
  totals: { sources: number; items: number; images: number; faces: number; runs: number; evals: number };
  sets: Array<{ name: string; kind: string; createdAt: string; faces: number; accepted: number }>;
  items: Count[];
  images: Count[];
  faces: Count[];
  faceRatio: Histogram;
  score: Histogram;
}

export interface RunSummary {
  name: string;
  data: string | null;
  backend: string | null;
  status: string;
  step: number;
  createdAt: string;
  updatedAt: string | null;
  /** The newest metrics row, as the trainer wrote it (null: none, or unreadable). */
  last: MetricValues | null;
  embeddings: number;
}

/** GET /api/runs */
export interface RunsReply {
  runs: RunSummary[];
}

/** GET /api/runs/:name/metrics */
export interface RunCurves {
  run: string;
  /** The training config the run started with (null: unreadable, e.g. stored by an older pros). */
  config: RunConfig | null;
  steps: number[];
  /** One array per numeric key the trainer logged (loss terms, lr, entropy, prototypes in use, img/s, ...). */
  series: Record<string, Array<number | null>>;
  /** How many metric rows the run has; above the asked number of points the series are an even subsample. */
  rows: number;
  /** Text the trainer logged at a step (e.g. `collapse` signs), newest last, at most 100, from every row. */
  notes: Array<{ step: number; key: string; text: string }>;
}

/** GET /api/runs/:name/lineage */
export type LineageReply = Lineage;

/** GET /api/evals: `pros report`'s tables, every metric over seeds, and stored rows that could not be read. */
export interface EvalsReply {
  groups: ReportGroup[];
  results: EvalCell[];
  skipped: SkippedRow[];
}

// ---- curation -------------------------------------------------------------------------------------------------

export type CurationAction = 'accept' | 'reject' | 'tag' | 'untag' | 'add_to_set' | 'remove_from_set';

/** POST /api/curation (and what retrieval/curation.ts's actions return to the CLI). */
export interface CurationResult {
  action: CurationAction;
  /** Faces the action was recorded for (all of them, or none when some id was unknown). */
  applied: number;
  /** Ids that name no face; when non-empty nothing was written. */
  missing: number[];
  value?: string;
}

// ---- search ---------------------------------------------------------------------------------------------------

/** A neighbour joined to its face row. */
export type Hit = Face & { similarity: number };

/** GET /api/search/spaces */
export interface SearchSpacesReply {
  /** 'human' first, then every run with embeddings of this workspace's faces. */
  spaces: string[];
  /** Null when search works; otherwise why not. */
  unavailable: string | null;
}

/** GET /api/search?face=ID */
export interface SearchReply {
  space: string;
  k: number;
  query: Face;
  neighbours: Hit[];
}

/** A face found in an uploaded image, with its neighbours by id (what the search provider returns). */
export interface UploadFace {
  box: Box;
  score: number;
  landmarks: Point[];
  neighbours: Neighbour[];
}

export interface UploadResult {
  width: number | null;
  height: number | null;
  faces: UploadFace[];
}

/** POST /api/search/upload */
export interface UploadReply {
  space: string;
  k: number;
  /** The upload's format, by its first bytes. */
  type: string;
  width: number | null;
  height: number | null;
  faces: Array<Omit<UploadFace, 'neighbours'> & { neighbours: Hit[] }>;
}

// ---- privacy --------------------------------------------------------------------------------------------------

/** What a finished forget request removed, and what it asked for: the forget_requests columns' schemas. */
export type { AskedRecord, ForgetCounts } from './columns.ts';

export interface ForgetRequest {
  id: number;
  who: string;
  asked: AskedRecord;
  step: ForgetStep;
  counts: ForgetCounts | null;
  runs: Array<{ run: string; faces: number }>;
  createdAt: string;
  finishedAt: string | null;
}

export interface PlannedFace {
  faceId: number;
  image: string;
  descriptorRow: number | null;
  /** Best similarity to an example (null when found by source or set). */
  similarity: number | null;
  status: FaceStatus;
  origin: string;
  /** Where the web UI serves its thumbnail. */
  thumb: string;
}

/** An optouts row as the CLI and the audit page list it (value: the domain, URL prefix or URL; null for a face). */
export type OptOut = Pick<OptOutRow, 'id' | 'value' | 'note'> & { kind: OptOutKind; requestId: number | null; addedAt: string };

/** GET /api/privacy/forget/preview?face=ID: what forgetting this face would remove (nothing is written). */
export interface ForgetPreviewReply {
  face: number;
  threshold: number;
  faces: PlannedFace[];
  counts: ForgetCounts;
  runs: Array<{ run: string; faces: number }>;
}

/** POST /api/privacy/forget */
export interface ForgetReply {
  request: ForgetRequest | null;
  counts: ForgetCounts;
  runs: Array<{ run: string; faces: number }>;
}

/** GET /api/privacy/audit */
export interface AuditReply {
  requests: ForgetRequest[];
  optouts: OptOut[];
  affected: Affected[];
}
