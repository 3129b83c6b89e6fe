// Lineage: which version of a curated set each training run read (the manifest's sha256 and the face ids in it),
// and which runs trained on a face later forgotten. The trainer records, `pros forget` reads and marks, `pros runs
// --affected` and the web's run page show. A checkpoint cannot forget: naming the runs is what lets a user retrain.
import { createHash } from 'node:crypto';
import type { DB } from './workspace.ts';

export interface SetVersion {
  manifestSha256: string;
  setDir: string;
  faces: number;
  /** The run's step when it read this version (0 for a fresh run, the checkpoint's step on resume). */
  step: number;
  at: string;
}

export interface Affected {
  run: string;
  requestId: number;
  /** Forgotten faces the run had trained on. */
  faces: number;
  at: string;
}

export interface Lineage {
  run: string;
  versions: SetVersion[];
  /** Face ids still in the workspace that the run trained on. */
  faces: number;
  affected: Affected[];
}

export function manifestSha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Records the set version a run reads. Ids that are not faces of this workspace (a synthetic set) are not kept;
 * a version read twice (a resume of the same set) is recorded once.
 */
export function recordLineage(db: DB, run: string, setDir: string, manifest: Buffer | string, ids: Iterable<string | number>, step: number): SetVersion {
  const sha = manifestSha256(manifest);
  const isFace = db.prepare('SELECT 1 FROM faces WHERE id = ?').pluck();
  const addFace = db.prepare('INSERT OR IGNORE INTO run_faces(run, face_id) VALUES (?, ?)');
  let faces = 0;
  db.transaction(() => {
    for (const raw of ids) {
      const id = Number(raw);
      if (!Number.isSafeInteger(id) || !isFace.get(id)) continue;
      addFace.run(run, id);
      faces++;
    }
    db.prepare('INSERT OR IGNORE INTO run_sets(run, manifest_sha256, set_dir, faces, step) VALUES (?, ?, ?, ?, ?)').run(run, sha, setDir, faces, step);
  })();
  return { manifestSha256: sha, setDir, faces, step, at: new Date().toISOString() };
}

/** Runs that trained on any of these faces, with how many of them each saw. */
export function runsThatSaw(db: DB, faceIds: number[]): Array<{ run: string; faces: number }> {
  if (faceIds.length === 0) return [];
  db.exec('CREATE TEMP TABLE IF NOT EXISTS lineage_query(id INTEGER PRIMARY KEY)');
  return db.transaction(() => {
    db.exec('DELETE FROM temp.lineage_query');
    const add = db.prepare('INSERT OR IGNORE INTO temp.lineage_query(id) VALUES (?)');
    for (const id of faceIds) add.run(id);
    return db
      .prepare<[], { run: string; faces: number }>('SELECT r.run, count(*) AS faces FROM run_faces r JOIN temp.lineage_query q ON q.id = r.face_id GROUP BY r.run ORDER BY r.run')
      .all();
  })();
}

export function affectedRuns(db: DB, run?: string): Affected[] {
  const rows = db
    .prepare<string[], Affected>(
      `SELECT a.run, a.request_id AS requestId, a.faces, r.created_at AS at FROM run_affected a
       JOIN forget_requests r ON r.id = a.request_id ${run ? 'WHERE a.run = ?' : ''} ORDER BY a.request_id, a.run`,
    )
    .all(...(run ? [run] : []));
  return rows;
}

export function lineageOf(db: DB, run: string): Lineage {
  const versions = db
    .prepare<[string], SetVersion>('SELECT manifest_sha256 AS manifestSha256, set_dir AS setDir, faces, step, at FROM run_sets WHERE run = ? ORDER BY at, step')
    .all(run);
  const faces = db.prepare<[string], number>('SELECT count(*) FROM run_faces WHERE run = ?').pluck().get(run)!;
  return { run, versions, faces, affected: affectedRuns(db, run) };
}
