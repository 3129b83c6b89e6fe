// Read-side queries over images for the image grid and the detail page: an image with all its faces, where it was
// met, its near-duplicates and the decisions on it; and where its bytes are kept.
import type { Workspace } from '../../src/workspace.ts';
import { decisionsFor } from '../../retrieval/curation.ts';
import { FACE_COLUMNS, facesByIds, toFace, type RawFace } from './faces.ts';
import type { Face, FaceDetail, ImageDetail, ImagePage, ImageTile } from '../../src/contracts/api.ts';
import { ItemMeta, jsonColumnOr, Landmarks } from '../../src/contracts/columns.ts';
import type { FaceRow as FaceTableRow, ImageRow, ItemRow } from '../../src/contracts/rows.ts';

export function imageDetail(ws: Workspace, sha: string, cropScale: number): ImageDetail | undefined {
  const img = ws.db.prepare<[string], ImageRow>('SELECT * FROM images WHERE sha256 = ?').get(sha);
  if (!img) return undefined;
  const raw = ws.db
    .prepare<[string], RawFace & Pick<FaceTableRow, 'landmarks'>>(
      `SELECT ${FACE_COLUMNS}, f.landmarks FROM faces f JOIN images i ON i.sha256 = f.image_sha256
       WHERE f.image_sha256 = ? ORDER BY f.idx`,
    )
    .all(sha);
  const tagsOf = ws.db.prepare<[number], string>('SELECT tag FROM tags WHERE face_id = ? ORDER BY tag').pluck();
  const setsOf = ws.db.prepare<[number], string>('SELECT set_name FROM set_members WHERE face_id = ? ORDER BY set_name').pluck();
  const faces: FaceDetail[] = raw.map((r) => {
    return {
      ...toFace(r, cropScale),
      landmarks: jsonColumnOr(Landmarks, r.landmarks, [], `faces.landmarks of face ${r.id}`),
      tags: tagsOf.all(r.id),
      sets: setsOf.all(r.id),
    };
  });
  const ids = faces.map((f) => f.id);
  const sources = ws.db
    .prepare<[string], Pick<ItemRow, 'id' | 'uri' | 'meta' | 'status'>>('SELECT id, uri, meta, status FROM items WHERE image_sha256 = ? ORDER BY id LIMIT 50')
    .all(sha)
    .map((s) => ({ uri: s.uri, meta: jsonColumnOr(ItemMeta, s.meta, null, `items.meta of item ${s.id}`), status: s.status }));
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
function nearDuplicates(ws: Workspace, faces: FaceDetail[], cropScale: number): Array<Face & { of: number }> {
  if (faces.length === 0) return [];
  const ids = faces.map((f) => f.id);
  const marks = ids.map(() => '?').join(',');
  const pairs = ws.db
    .prepare<unknown[], { other: number; of: number }>(
      `SELECT id AS other, dup_of AS of FROM faces WHERE dup_of IN (${marks}) AND image_sha256 != ?
       UNION SELECT dup_of AS other, id AS of FROM faces WHERE id IN (${marks}) AND dup_of IS NOT NULL
       LIMIT 100`,
    )
    .all(...ids, faces[0].image, ...ids);
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
  const row = ws.db.prepare<[string], Pick<ImageRow, 'blob_path' | 'format'>>('SELECT blob_path, format FROM images WHERE sha256 = ?').get(sha);
  return row && { blobPath: row.blob_path, format: row.format };
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

/** A page of images (those with no usable face included: no_face, crowds), each with its faces' boxes. */
export function imagePage(ws: Workspace, q: ImageGridQuery): ImagePage {
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
  const total = ws.db.prepare<unknown[], number>(`SELECT COUNT(*) FROM images ${w}`).pluck().get(...args)!;
  const rows = ws.db
    .prepare<unknown[], Omit<ImageTile, 'faces'>>(
      `SELECT sha256, width, height, status, reason, n_faces AS nFaces, face_ratio AS faceRatio, origin FROM images ${w}
       ORDER BY ${order} LIMIT ? OFFSET ?`,
    )
    .all(...args, q.limit, q.offset);
  const faces = ws.db.prepare<[string], Pick<FaceTableRow, 'id' | 'x' | 'y' | 'w' | 'h' | 'status'>>('SELECT id, x, y, w, h, status FROM faces WHERE image_sha256 = ? ORDER BY idx');
  return {
    total,
    offset: q.offset,
    limit: q.limit,
    images: rows.map((r) => ({
      ...r,
      faces: faces.all(r.sha256).map((f) => ({
        id: f.id,
        box: [f.x, f.y, f.w, f.h],
        status: f.status,
      })),
    })),
  };
}
