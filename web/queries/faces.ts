// Read-side queries over faces and images for the grid and the detail page. Paging, filtering and sorting happen in
// SQL so a page of 100k faces costs what a page of 100 does on the client.
import type { Workspace } from '../../src/workspace.ts';
import { decisionsFor, type Decision } from '../../retrieval/curation.ts';
import { dbVersion } from './stats.ts';

export const FACE_STATUSES = ['accepted', 'rejected', 'duplicate'] as const;
export const SORTS = ['id', 'score', 'ratio', 'sharpness', 'yaw'] as const;
export type FaceStatus = (typeof FACE_STATUSES)[number];
export type GridSort = (typeof SORTS)[number];

export interface GridFilter {
  set?: string;
  status?: FaceStatus;
  reason?: string;
  tag?: string;
  image?: string;
  minScore?: number;
  maxScore?: number;
  minRatio?: number;
  maxRatio?: number;
  /** Largest |yaw| and |pitch| in degrees. */
  maxYaw?: number;
  maxPitch?: number;
  minSharpness?: number;
}

export interface GridQuery extends GridFilter {
  sort: GridSort;
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface FaceRow {
  id: number;
  image: string;
  idx: number;
  box: Box;
  score: number;
  faceRatio: number;
  yaw: number | null;
  pitch: number | null;
  roll: number | null;
  sharpness: number | null;
  status: string;
  reason: string | null;
  dupOf: number | null;
  imageWidth: number | null;
  imageHeight: number | null;
  /** Square region of the source image the face thumbnail shows, so the page can draw the box over it. */
  crop: Box;
}

export interface GridPage {
  total: number;
  offset: number;
  limit: number;
  faces: FaceRow[];
}

const SORT_SQL: Record<GridSort, string> = {
  id: 'f.id',
  score: 'f.score',
  ratio: 'f.face_ratio',
  sharpness: 'f.sharpness',
  yaw: 'abs(f.yaw)',
};

const NULLABLE_SORTS = new Set<GridSort>(['sharpness', 'yaw']);

const FACE_COLUMNS = `f.id, f.image_sha256, f.idx, f.x, f.y, f.w, f.h, f.score, f.face_ratio, f.yaw, f.pitch, f.roll,
  f.sharpness, f.status, f.reason, f.dup_of, i.width, i.height`;

interface RawFace {
  id: number;
  image_sha256: string;
  idx: number;
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
  face_ratio: number;
  yaw: number | null;
  pitch: number | null;
  roll: number | null;
  sharpness: number | null;
  status: string;
  reason: string | null;
  dup_of: number | null;
  width: number | null;
  height: number | null;
}

/**
 * The square crop around a face: side `scale` × the box's longer side, centred on the box, moved inside the image
 * where it can be, and clipped where the image is smaller than the square.
 */
export function cropBox(box: Box, width: number | null, height: number | null, scale: number): Box {
  const side = Math.max(1, Math.round(Math.max(box.w, box.h) * scale));
  let x = Math.round(box.x + box.w / 2 - side / 2);
  let y = Math.round(box.y + box.h / 2 - side / 2);
  let w = side;
  let h = side;
  if (width && height) {
    x = Math.max(0, Math.min(x, width - side));
    y = Math.max(0, Math.min(y, height - side));
    w = Math.min(side, width - x);
    h = Math.min(side, height - y);
  }
  return { x, y, w: Math.max(1, w), h: Math.max(1, h) };
}

function toFace(r: RawFace, scale: number): FaceRow {
  const box = { x: r.x, y: r.y, w: r.w, h: r.h };
  return {
    id: r.id,
    image: r.image_sha256,
    idx: r.idx,
    box,
    score: r.score,
    faceRatio: r.face_ratio,
    yaw: r.yaw,
    pitch: r.pitch,
    roll: r.roll,
    sharpness: r.sharpness,
    status: r.status,
    reason: r.reason,
    dupOf: r.dup_of,
    imageWidth: r.width,
    imageHeight: r.height,
    crop: cropBox(box, r.width, r.height, scale),
  };
}

function where(f: GridFilter): { sql: string; args: unknown[] } {
  const parts: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    parts.push(sql);
    args.push(v);
  };
  if (f.status !== undefined) add('f.status = ?', f.status);
  if (f.reason !== undefined) add('f.reason = ?', f.reason);
  if (f.minScore !== undefined) add('f.score >= ?', f.minScore);
  if (f.maxScore !== undefined) add('f.score <= ?', f.maxScore);
  if (f.minRatio !== undefined) add('f.face_ratio >= ?', f.minRatio);
  if (f.maxRatio !== undefined) add('f.face_ratio <= ?', f.maxRatio);
  if (f.maxYaw !== undefined) add('abs(f.yaw) <= ?', f.maxYaw);
  if (f.maxPitch !== undefined) add('abs(f.pitch) <= ?', f.maxPitch);
  if (f.minSharpness !== undefined) add('f.sharpness >= ?', f.minSharpness);
  // Membership tests as IN lists, so the plan stays a scan of the covering index rather than a walk of face rows.
  // A membership probe per face walked (not an IN list, which would build a table of all members of a large set
  // for every page): with a sort-led index the walk stops once the page is full.
  if (f.set !== undefined) add('EXISTS (SELECT 1 FROM set_members m WHERE m.set_name = ? AND m.face_id = f.id)', f.set);
  if (f.tag !== undefined) add('f.id IN (SELECT face_id FROM tags WHERE tag = ?)', f.tag);
  if (f.image !== undefined) add('f.image_sha256 = ?', f.image);
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', args };
}

/**
 * Grid pages. Two steps: the page's ids from the covering indexes (migration 4), then the rows of those ids only;
 * a face row carries ~6 KB of landmarks, so never sorting or skipping over rows is what keeps 100k faces fast. The
 * total per filter is cached until the database changes (our writes or another process's), so paging through
 * one filter counts once.
 */
export class GridQueries {
  private readonly counts = new Map<string, number>();
  private countsVersion = '';

  constructor(
    private readonly ws: Workspace,
    private readonly cropScale: number,
  ) {}

  private total(w: { sql: string; args: unknown[] }, onlySet: string | undefined): number {
    const v = dbVersion(this.ws);
    if (v !== this.countsVersion) {
      this.counts.clear();
      this.countsVersion = v;
    }
    const key = JSON.stringify([w.sql, w.args]);
    let n = this.counts.get(key);
    if (n === undefined) {
      n = (onlySet !== undefined
        ? this.ws.db.prepare('SELECT COUNT(*) FROM set_members WHERE set_name = ?').pluck().get(onlySet)
        : this.ws.db.prepare(`SELECT COUNT(*) FROM faces f ${w.sql}`).pluck().get(...w.args)) as number;
      if (this.counts.size > 500) this.counts.clear();
      this.counts.set(key, n);
    }
    return n;
  }

  page(q: GridQuery): GridPage {
    const w = where(q);
    const onlySet = Object.entries(q).every(([k, v]) => v === undefined || ['set', 'sort', 'order', 'offset', 'limit'].includes(k))
      ? q.set
      : undefined;
    const total = this.total(w, onlySet);
    // NULLs last whatever the direction: SQLite sorts NULL lowest, so only an ascending sort of a nullable key needs
    // the extra term (which would stop the sort-led index being walked in order); id breaks ties.
    const key = SORT_SQL[q.sort];
    const dir = q.order === 'asc' ? 'ASC' : 'DESC';
    const nulls = NULLABLE_SORTS.has(q.sort) && dir === 'ASC' ? `${key} IS NULL, ` : '';
    const ids = this.ws.db
      .prepare(
        `SELECT f.id FROM faces f ${w.sql}
         ORDER BY ${nulls}${key} ${dir}${q.sort === 'id' ? '' : `, f.id ${dir}`} LIMIT ? OFFSET ?`,
      )
      .pluck()
      .all(...w.args, q.limit, q.offset) as number[];
    const rows = facesByIds(this.ws, ids, this.cropScale);
    return { total, offset: q.offset, limit: q.limit, faces: ids.flatMap((id) => rows.get(id) ?? []) };
  }
}

export function facesByIds(ws: Workspace, ids: readonly number[], cropScale: number): Map<number, FaceRow> {
  const out = new Map<number, FaceRow>();
  if (ids.length === 0) return out;
  const marks = ids.map(() => '?').join(',');
  const rows = ws.db
    .prepare(`SELECT ${FACE_COLUMNS} FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE f.id IN (${marks})`)
    .all(...ids) as RawFace[];
  for (const r of rows) out.set(r.id, toFace(r, cropScale));
  return out;
}

export interface FaceDetail extends FaceRow {
  landmarks: Array<[number, number]>;
  tags: string[];
  sets: string[];
}

export interface ImageDetail {
  sha256: string;
  width: number | null;
  height: number | null;
  format: string | null;
  bytes: number | null;
  origin: string;
  licence: string | null;
  caption: string | null;
  status: string;
  reason: string | null;
  nFaces: number;
  faceRatio: number | null;
  analysedAt: string;
  /** Every URL or file this image was met at, with what its source row said about it. */
  sources: Array<{ uri: string; meta: unknown; status: string }>;
  faces: FaceDetail[];
  nearDuplicates: Array<FaceRow & { of: number }>;
  decisions: Decision[];
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export function imageDetail(ws: Workspace, sha: string, cropScale: number): ImageDetail | undefined {
  const img = ws.db.prepare('SELECT * FROM images WHERE sha256 = ?').get(sha) as
    | {
        sha256: string;
        width: number | null;
        height: number | null;
        format: string | null;
        bytes: number | null;
        origin: string;
        licence: string | null;
        caption: string | null;
        status: string;
        reason: string | null;
        n_faces: number;
        face_ratio: number | null;
        analysed_at: string;
      }
    | undefined;
  if (!img) return undefined;
  const raw = ws.db
    .prepare(
      `SELECT ${FACE_COLUMNS}, f.landmarks FROM faces f JOIN images i ON i.sha256 = f.image_sha256
       WHERE f.image_sha256 = ? ORDER BY f.idx`,
    )
    .all(sha) as Array<RawFace & { landmarks: string | null }>;
  const tagsOf = ws.db.prepare('SELECT tag FROM tags WHERE face_id = ? ORDER BY tag').pluck();
  const setsOf = ws.db.prepare('SELECT set_name FROM set_members WHERE face_id = ? ORDER BY set_name').pluck();
  const faces: FaceDetail[] = raw.map((r) => {
    const lm = parseJson(r.landmarks);
    return {
      ...toFace(r, cropScale),
      landmarks: Array.isArray(lm) ? (lm as Array<[number, number]>) : [],
      tags: tagsOf.all(r.id) as string[],
      sets: setsOf.all(r.id) as string[],
    };
  });
  const ids = faces.map((f) => f.id);
  const sources = (
    ws.db
      .prepare('SELECT uri, meta, status FROM items WHERE image_sha256 = ? ORDER BY id LIMIT 50')
      .all(sha) as Array<{ uri: string; meta: string | null; status: string }>
  ).map((s) => ({ uri: s.uri, meta: parseJson(s.meta), status: s.status }));
  return {
    sha256: img.sha256,
    width: img.width,
    height: img.height,
    format: img.format,
    bytes: img.bytes,
    origin: img.origin,
    licence: img.licence,
    caption: img.caption,
    status: img.status,
    reason: img.reason,
    nFaces: img.n_faces,
    faceRatio: img.face_ratio,
    analysedAt: img.analysed_at,
    sources,
    faces,
    nearDuplicates: nearDuplicates(ws, faces, cropScale),
    decisions: decisionsFor(ws, ids),
  };
}

/** Faces in other images recorded as duplicates of these faces, or that these faces are duplicates of. */
function nearDuplicates(ws: Workspace, faces: FaceDetail[], cropScale: number): Array<FaceRow & { of: number }> {
  if (faces.length === 0) return [];
  const ids = faces.map((f) => f.id);
  const marks = ids.map(() => '?').join(',');
  const pairs = ws.db
    .prepare(
      `SELECT id AS other, dup_of AS of FROM faces WHERE dup_of IN (${marks}) AND image_sha256 != ?
       UNION SELECT dup_of AS other, id AS of FROM faces WHERE id IN (${marks}) AND dup_of IS NOT NULL
       LIMIT 100`,
    )
    .all(...ids, faces[0].image, ...ids) as Array<{ other: number; of: number }>;
  const rows = facesByIds(
    ws,
    pairs.map((p) => p.other),
    cropScale,
  );
  return pairs.flatMap((p) => {
    const r = rows.get(p.other);
    return r && r.image !== faces[0].image ? [{ ...r, of: p.of }] : [];
  });
}

/** Where an image's bytes are kept, as the database records it (the caller confines it to the workspace). */
export function imageBlob(ws: Workspace, sha: string): { blobPath: string | null; format: string | null } | undefined {
  const row = ws.db.prepare('SELECT blob_path, format FROM images WHERE sha256 = ?').get(sha) as
    | { blob_path: string | null; format: string | null }
    | undefined;
  return row && { blobPath: row.blob_path, format: row.format };
}

export function faceImage(ws: Workspace, id: number): string | undefined {
  return ws.db.prepare('SELECT image_sha256 FROM faces WHERE id = ?').pluck().get(id) as string | undefined;
}

/** Distinct values for the grid's filter menus. */
export function filterChoices(ws: Workspace): { sets: string[]; reasons: string[]; tags: string[]; imageReasons: string[] } {
  return {
    imageReasons: ws.db
      .prepare('SELECT DISTINCT reason FROM images WHERE reason IS NOT NULL ORDER BY reason')
      .pluck()
      .all() as string[],
    sets: ws.db.prepare('SELECT name FROM sets ORDER BY name').pluck().all() as string[],
    reasons: ws.db
      .prepare('SELECT DISTINCT reason FROM faces WHERE reason IS NOT NULL ORDER BY reason')
      .pluck()
      .all() as string[],
    tags: ws.db.prepare('SELECT DISTINCT tag FROM tags ORDER BY tag LIMIT 500').pluck().all() as string[],
  };
}

// ---- the image grid -----------------------------------------------------------------------------------------

export const IMAGE_STATUSES = ['accepted', 'rejected', 'no_face', 'failed'] as const;
export const IMAGE_SORTS = ['newest', 'ratio', 'faces'] as const;

export interface ImageGridQuery {
  status?: (typeof IMAGE_STATUSES)[number];
  reason?: string;
  sort: (typeof IMAGE_SORTS)[number];
  order: 'asc' | 'desc';
  offset: number;
  limit: number;
}

export interface ImageTile {
  sha256: string;
  width: number | null;
  height: number | null;
  status: string;
  reason: string | null;
  nFaces: number;
  faceRatio: number | null;
  origin: string;
  faces: Array<{ id: number; box: Box; status: string }>;
}

/** A page of images (those with no usable face included: no_face, crowds), each with its faces' boxes. */
export function imagePage(ws: Workspace, q: ImageGridQuery): { total: number; offset: number; limit: number; images: ImageTile[] } {
  const parts: string[] = [];
  const args: unknown[] = [];
  if (q.status !== undefined) {
    parts.push('status = ?');
    args.push(q.status);
  }
  if (q.reason !== undefined) {
    parts.push('reason = ?');
    args.push(q.reason);
  }
  const w = parts.length ? `WHERE ${parts.join(' AND ')}` : '';
  const dir = q.order === 'asc' ? 'ASC' : 'DESC';
  const order = { newest: `rowid ${dir}`, ratio: `face_ratio IS NULL, face_ratio ${dir}, rowid ${dir}`, faces: `n_faces ${dir}, rowid ${dir}` }[q.sort];
  const total = ws.db.prepare(`SELECT COUNT(*) FROM images ${w}`).pluck().get(...args) as number;
  const rows = ws.db
    .prepare(
      `SELECT sha256, width, height, status, reason, n_faces AS nFaces, face_ratio AS faceRatio, origin FROM images ${w}
       ORDER BY ${order} LIMIT ? OFFSET ?`,
    )
    .all(...args, q.limit, q.offset) as Array<Omit<ImageTile, 'faces'>>;
  const faces = ws.db.prepare('SELECT id, x, y, w, h, status FROM faces WHERE image_sha256 = ? ORDER BY idx');
  return {
    total,
    offset: q.offset,
    limit: q.limit,
    images: rows.map((r) => ({
      ...r,
      faces: (faces.all(r.sha256) as Array<Box & { id: number; status: string }>).map((f) => ({
        id: f.id,
        box: { x: f.x, y: f.y, w: f.w, h: f.h },
        status: f.status,
      })),
    })),
  };
}
