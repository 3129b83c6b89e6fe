// Read-side queries over faces for the face grid: paging, filtering and sorting in SQL (over covering indexes), so a
// page of 100k faces costs what a page of 100 does; and face rows by id with the crop their thumbnail shows.
import type { Workspace } from '../../src/workspace.ts';
import { dbVersion } from './stats.ts';
import type { Box } from '../../src/contracts/geometry.ts';
import type { Face, FacePage, FilterChoices } from '../../src/contracts/api.ts';
import { cropSquare } from '../../retrieval/crop.ts';
import type { FaceRow as FaceTableRow, ImageRow } from '../../src/contracts/rows.ts';

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

const SORT_SQL: Record<GridSort, string> = {
  id: 'f.id',
  score: 'f.score',
  ratio: 'f.face_ratio',
  sharpness: 'f.sharpness',
  yaw: 'abs(f.yaw)',
};

const NULLABLE_SORTS = new Set<GridSort>(['sharpness', 'yaw']);

export const FACE_COLUMNS = `f.id, f.image_sha256, f.idx, f.x, f.y, f.w, f.h, f.score, f.face_ratio, f.yaw, f.pitch, f.roll,
  f.sharpness, f.status, f.reason, f.dup_of, i.width, i.height`;

/** What FACE_COLUMNS selects. */
export type RawFace = Pick<
  FaceTableRow,
  'id' | 'image_sha256' | 'idx' | 'x' | 'y' | 'w' | 'h' | 'score' | 'face_ratio' | 'yaw' | 'pitch' | 'roll' | 'sharpness' | 'status' | 'reason' | 'dup_of'
> & Pick<ImageRow, 'width' | 'height'>;

export function toFace(r: RawFace, scale: number): Face {
  const box: Box = [r.x, r.y, r.w, r.h];
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
    crop: cropSquare(box, scale),
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
        ? this.ws.db.prepare<[string], number>('SELECT COUNT(*) FROM set_members WHERE set_name = ?').pluck().get(onlySet)
        : this.ws.db.prepare<unknown[], number>(`SELECT COUNT(*) FROM faces f ${w.sql}`).pluck().get(...w.args))!;
      if (this.counts.size > 500) this.counts.clear();
      this.counts.set(key, n);
    }
    return n;
  }

  page(q: GridQuery): FacePage {
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
      .prepare<unknown[], number>(
        `SELECT f.id FROM faces f ${w.sql}
         ORDER BY ${nulls}${key} ${dir}${q.sort === 'id' ? '' : `, f.id ${dir}`} LIMIT ? OFFSET ?`,
      )
      .pluck()
      .all(...w.args, q.limit, q.offset);
    const rows = facesByIds(this.ws, ids, this.cropScale);
    return { total, offset: q.offset, limit: q.limit, faces: ids.flatMap((id) => rows.get(id) ?? []) };
  }
}

export function facesByIds(ws: Workspace, ids: readonly number[], cropScale: number): Map<number, Face> {
  const out = new Map<number, Face>();
  if (ids.length === 0) return out;
  const marks = ids.map(() => '?').join(',');
  const rows = ws.db
    .prepare<number[], RawFace>(`SELECT ${FACE_COLUMNS} FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE f.id IN (${marks})`)
    .all(...ids);
  for (const r of rows) out.set(r.id, toFace(r, cropScale));
  return out;
}

/** Distinct values for the grid's filter menus. */
export function filterChoices(ws: Workspace): FilterChoices {
  return {
    imageReasons: ws.db
      .prepare<[], string>('SELECT DISTINCT reason FROM images WHERE reason IS NOT NULL ORDER BY reason')
      .pluck()
      .all(),
    sets: ws.db.prepare<[], string>('SELECT name FROM sets ORDER BY name').pluck().all(),
    reasons: ws.db
      .prepare<[], string>('SELECT DISTINCT reason FROM faces WHERE reason IS NOT NULL ORDER BY reason')
      .pluck()
      .all(),
    tags: ws.db.prepare<[], string>('SELECT DISTINCT tag FROM tags ORDER BY tag LIMIT 500').pluck().all(),
  };
}
