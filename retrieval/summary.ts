// The end-of-run summary of `pros curate`, read back from the workspace so that a resumed run reports the whole
// job, not just the part done since the restart.
import type { DB } from '../src/workspace.ts';
import type { FaceRow, ImageRow, ItemRow } from '../src/contracts/rows.ts';

export interface CurateSummary {
  set: string;
  sources: string[];
  items: { total: number; ok: number; failed: number; skipped: number; pending: number };
  /** Pages fetched while crawling (not counted in items). */
  pages: { total: number; ok: number; failed: number; skipped: number };
  failedByReason: Record<string, number>;
  skippedByReason: Record<string, number>;
  images: { analysed: number; withFaces: number; accepted: number; rejected: number; noFace: number; exactDuplicates: number };
  rejectedByReason: Record<string, number>;
  faces: { detected: number; accepted: number; nearDuplicates: number; rejected: number };
  setSize: number;
  elapsedSec: number;
  /** Of elapsedSec, the seconds before the first item could start (face models loaded, index opened, queue reached). */
  startupSec?: number;
  interrupted?: boolean;
  exported?: { dir: string; crops: number };
}

export function summarize(db: DB, set: string, sourceUris: string[], elapsedMs: number): CurateSummary {
  const marks = sourceUris.map(() => '?').join(',');
  const scope = `source_id IN (SELECT id FROM sources WHERE uri IN (${marks}))`;
  const byStatus = db
    .prepare<string[], Pick<ItemRow, 'status' | 'reason'> & { n: number }>(`SELECT status, reason, count(*) AS n FROM items WHERE ${scope} AND kind = 'image' GROUP BY status, reason`)
    .all(...sourceUris);
  const items = { total: 0, ok: 0, failed: 0, skipped: 0, pending: 0 };
  // Reasons are read from the workspace (data): null-prototype tallies, so no reason can name a prototype slot.
  const failedByReason: Record<string, number> = Object.create(null);
  const skippedByReason: Record<string, number> = Object.create(null);
  for (const r of byStatus) {
    items.total += r.n;
    items[r.status] += r.n;
    if (r.status === 'failed') failedByReason[r.reason ?? 'unknown'] = (failedByReason[r.reason ?? 'unknown'] ?? 0) + r.n;
    if (r.status === 'skipped') skippedByReason[r.reason ?? 'unknown'] = (skippedByReason[r.reason ?? 'unknown'] ?? 0) + r.n;
  }
  // Images reached through these sources; an image met twice counts once, the extra items are exact duplicates.
  const imageScope = `sha256 IN (SELECT image_sha256 FROM items WHERE ${scope} AND kind = 'image' AND status = 'ok')`;
  const pageRows = db
    .prepare<string[], Pick<ItemRow, 'status'> & { n: number }>(`SELECT status, count(*) AS n FROM items WHERE ${scope} AND kind = 'page' GROUP BY status`)
    .all(...sourceUris);
  const pages = { total: 0, ok: 0, failed: 0, skipped: 0 };
  for (const p of pageRows) {
    pages.total += p.n;
    if (p.status !== 'pending') pages[p.status] += p.n;
  }
  const imgs = db
    .prepare<string[], Pick<ImageRow, 'status' | 'reason' | 'n_faces'>>(`SELECT status, reason, n_faces FROM images WHERE ${imageScope}`)
    .all(...sourceUris);
  const images = { analysed: imgs.length, withFaces: 0, accepted: 0, rejected: 0, noFace: 0, exactDuplicates: items.ok - imgs.length };
  const rejectedByReason: Record<string, number> = Object.create(null);
  for (const i of imgs) {
    if (i.n_faces > 0) images.withFaces++;
    if (i.status === 'accepted') images.accepted++;
    else if (i.status === 'no_face') images.noFace++;
    else {
      images.rejected++;
      rejectedByReason[i.reason ?? 'unknown'] = (rejectedByReason[i.reason ?? 'unknown'] ?? 0) + 1;
    }
  }
  const faceRows = db
    .prepare<string[], Pick<FaceRow, 'status'> & { n: number }>(`SELECT status, count(*) AS n FROM faces WHERE image_sha256 IN (SELECT sha256 FROM images WHERE ${imageScope}) GROUP BY status`)
    .all(...sourceUris);
  const faces = { detected: 0, accepted: 0, nearDuplicates: 0, rejected: 0 };
  for (const f of faceRows) {
    faces.detected += f.n;
    if (f.status === 'accepted') faces.accepted += f.n;
    else if (f.status === 'duplicate') faces.nearDuplicates += f.n;
    else faces.rejected += f.n;
  }
  const setSize = db
    .prepare<[string], number>("SELECT count(*) FROM set_members m JOIN faces f ON f.id = m.face_id WHERE m.set_name = ? AND f.status = 'accepted'")
    .pluck()
    .get(set)!;
  return {
    set,
    sources: sourceUris,
    items,
    pages,
    failedByReason,
    skippedByReason,
    images,
    rejectedByReason,
    faces,
    setSize,
    elapsedSec: Math.round(elapsedMs / 100) / 10,
  };
}

export function formatSummary(s: CurateSummary): string {
  const reasons = (r: Record<string, number>) =>
    Object.entries(r).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || '-';
  return [
    `${s.interrupted ? 'Interrupted (rerun the same command to continue)' : 'Done'} in ${s.elapsedSec}s${s.startupSec !== undefined ? ` (${s.startupSec}s start-up)` : ''}`,
    `  items        ${s.items.total}: ok ${s.items.ok}, failed ${s.items.failed}, skipped ${s.items.skipped}, pending ${s.items.pending}`,
    ...(s.pages.total ? [`  pages        ${s.pages.total} crawled: ok ${s.pages.ok}, failed ${s.pages.failed}, skipped ${s.pages.skipped}`] : []),
    `  failed       ${reasons(s.failedByReason)}`,
    `  skipped      ${reasons(s.skippedByReason)}`,
    `  images       ${s.images.analysed} analysed, ${s.images.withFaces} with faces, ${s.images.accepted} accepted, ${s.images.exactDuplicates} exact duplicates`,
    `  rejected     ${reasons(s.rejectedByReason)}`,
    `  faces        ${s.faces.detected} detected, ${s.faces.accepted} accepted, ${s.faces.nearDuplicates} near-duplicates`,
    `  set          ${s.set}: ${s.setSize} faces${s.exported ? ` → ${s.exported.dir} (${s.exported.crops} crops)` : ''}`,
  ].join('\n');
}
