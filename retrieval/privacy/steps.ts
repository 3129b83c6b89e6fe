// The places a face lives, and how each forgets it. Every step reads the request's plan from the database (the
// journal) and is idempotent: run twice, or run again after a kill -9 anywhere inside it, it ends in the same state.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProsConfig } from '../../src/config.ts';
import type { Workspace } from '../../src/workspace.ts';
import { openIndex, VectorStore } from '../../src/index/index.ts';
import { readRunHeader, runSpaceFiles } from '../../src/index/runs.ts';
import { FaceIndex } from '../face-index.ts';
import { writeDatasheet } from './datasheet.ts';
import { ForgetStep, type ForgetFaceRow, type ForgetImageRow } from '../../src/contracts/rows.ts';
import { ForgetRuns, jsonColumn } from '../../src/contracts/columns.ts';

/** The journal's steps in order (the forget_requests.step column's values). */
export const STEPS = ForgetStep.options;
export type Step = ForgetStep;

export interface StepContext {
  ws: Workspace;
  config: ProsConfig;
  requestId: number;
}

type PlanFace = Omit<ForgetFaceRow, 'request_id'>;
type PlanImage = Omit<ForgetImageRow, 'request_id'>;

function planFaces(ctx: StepContext): PlanFace[] {
  return ctx.ws.db
    .prepare<[number], PlanFace>('SELECT face_id, image_sha256, descriptor_row FROM forget_faces WHERE request_id = ? ORDER BY face_id')
    .all(ctx.requestId);
}

function planImages(ctx: StepContext): PlanImage[] {
  return ctx.ws.db.prepare<[number], PlanImage>('SELECT sha256, blob_path, whole FROM forget_images WHERE request_id = ? ORDER BY sha256').all(ctx.requestId);
}

function planEmbeddings(ctx: StepContext): Map<string, Array<{ faceId: number; row: number }>> {
  const rows = ctx.ws.db
    .prepare<[number], { run: string; faceId: number; row: number }>('SELECT run, face_id AS faceId, row FROM forget_embeddings WHERE request_id = ? ORDER BY run, row')
    .all(ctx.requestId);
  const byRun = new Map<string, Array<{ faceId: number; row: number }>>();
  for (const r of rows) byRun.set(r.run, [...(byRun.get(r.run) ?? []), { faceId: r.faceId, row: r.row }]);
  return byRun;
}

const removeFile = (file: string) => rmSync(file, { force: true });

/** Descriptor rows and run embedding rows are overwritten in place (zeros, synced), not only unlinked. */
function descriptors(ctx: StepContext): void {
  const { ws } = ctx;
  const rows = planFaces(ctx).map((f) => f.descriptor_row).filter((r): r is number => r !== null);
  const store = VectorStore.open(join(ws.paths.index, 'descriptors.f32'), 1024);
  try {
    store.zero(rows);
  } finally {
    store.close();
  }
  for (const [run, list] of planEmbeddings(ctx)) {
    const dim = readRunHeader(ws, run)?.dim;
    const file = runSpaceFiles(ws, run).vectors;
    if (!dim || !existsSync(file)) continue;
    const runStore = VectorStore.open(file, dim);
    try {
      runStore.zero(list.map((e) => e.row));
    } finally {
      runStore.close();
    }
  }
}

/** The faces' ANN index (reconciled: the planned faces are no longer accepted) and every run's index. */
async function indexes(ctx: StepContext): Promise<void> {
  const { ws, config } = ctx;
  const ids = planFaces(ctx).map((f) => f.face_id);
  const fi = await FaceIndex.open(ws, config);
  fi.index.remove(ids.filter((id) => fi.index.has(id)));
  fi.save();
  fi.vectors.close();
  for (const [run, list] of planEmbeddings(ctx)) {
    const dim = readRunHeader(ws, run)?.dim;
    if (!dim) continue;
    const index = await openIndex(join(ws.paths.index, 'runs'), run, dim, config.index);
    index.remove(list.map((e) => e.faceId).filter((id) => index.has(id)));
    index.save();
  }
}

/** Every exported set: manifest lines and crops of the faces go; set.json counts and the datasheet follow. */
function exports(ctx: StepContext): void {
  const { ws, config } = ctx;
  const ids = new Set(planFaces(ctx).map((f) => f.face_id));
  if (!existsSync(ws.paths.curated)) return;
  for (const set of readdirSync(ws.paths.curated)) {
    const dir = join(ws.paths.curated, set);
    const manifest = join(dir, 'manifest.jsonl');
    if (existsSync(manifest)) {
      const lines = readFileSync(manifest, 'utf8').split('\n').filter((l) => l.trim());
      const kept = lines.filter((l) => !ids.has(Number((JSON.parse(l) as { id: unknown }).id)));
      if (kept.length !== lines.length) {
        const tmp = `${manifest}.${process.pid}.tmp`;
        writeFileSync(tmp, kept.map((l) => l + '\n').join(''));
        renameSync(tmp, manifest);
        const infoFile = join(dir, 'set.json');
        if (existsSync(infoFile)) {
          const info = JSON.parse(readFileSync(infoFile, 'utf8')) as { counts?: { faces: number; images: number } };
          info.counts = { faces: kept.length, images: new Set(kept.map((l) => (JSON.parse(l) as { image?: string }).image)).size };
          writeFileSync(`${infoFile}.tmp`, JSON.stringify(info, null, 2) + '\n');
          renameSync(`${infoFile}.tmp`, infoFile);
        }
      }
      if (existsSync(join(dir, 'DATASHEET.md')) && ws.db.prepare('SELECT 1 FROM sets WHERE name = ?').get(set)) {
        writeDatasheet(ws, config, set, dir, kept.length);
      }
    }
    const crops = join(dir, 'crops');
    if (existsSync(crops)) {
      for (const f of readdirSync(crops)) {
        const m = /^(\d+)\./.exec(f);
        if (m && ids.has(Number(m[1]))) removeFile(join(crops, f));
      }
    }
  }
}

/** The web UI's thumbnail cache (web/thumbs.ts names files thumbs/face/<id>-<size>.jpg, thumbs/image/<sha>-<size>.jpg). */
function caches(ctx: StepContext): void {
  const { ws } = ctx;
  const ids = new Set(planFaces(ctx).map((f) => String(f.face_id)));
  const shas = new Set(planImages(ctx).map((i) => i.sha256));
  const sweep = (dir: string, keyOf: (name: string) => string | undefined, keys: Set<string>) => {
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir)) {
      const k = keyOf(f);
      if (k !== undefined && keys.has(k)) removeFile(join(dir, f));
    }
  };
  sweep(join(ws.paths.thumbs, 'face'), (f) => /^(\d+)-/.exec(f)?.[1], ids);
  sweep(join(ws.paths.thumbs, 'image'), (f) => /^([0-9a-f]{64})-/.exec(f)?.[1], shas);
}

/**
 * The database, in one transaction: the faces and everything that names them (decisions, tags, set members,
 * embeddings, lineage face ids), the images no kept face needs, and their items, which stay as `opted_out` so the
 * same URLs are skipped by later crawls. The runs that saw the faces are marked affected by this request.
 */
function rows(ctx: StepContext): void {
  const { db } = ctx.ws;
  const id = ctx.requestId;
  db.transaction(() => {
    const inPlan = 'SELECT face_id FROM forget_faces WHERE request_id = @id';
    const stored = db.prepare<[number], string | null>('SELECT runs FROM forget_requests WHERE id = ?').pluck().get(id) ?? null;
    // The journal names the runs to mark: a damaged one stops the step (an InputError) rather than marking none.
    const runs = jsonColumn(ForgetRuns, stored, `forget_requests.runs of request ${id}`) ?? [];
    const affected = db.prepare('INSERT OR IGNORE INTO run_affected(run, request_id, faces) VALUES (?, ?, ?)');
    for (const r of runs) affected.run(r.run, id, r.faces);
    for (const table of ['decisions', 'tags', 'set_members', 'embeddings', 'run_faces']) {
      db.prepare(`DELETE FROM ${table} WHERE face_id IN (${inPlan})`).run({ id });
    }
    db.prepare(`UPDATE faces SET dup_of = NULL WHERE dup_of IN (${inPlan})`).run({ id });
    db.prepare(`DELETE FROM faces WHERE id IN (${inPlan})`).run({ id });
    const whole = 'SELECT sha256 FROM forget_images WHERE request_id = @id AND whole = 1';
    db.prepare(
      `UPDATE items SET status = 'skipped', reason = 'opted_out', image_sha256 = NULL, meta = NULL, bytes = NULL,
         content_type = NULL, updated_at = datetime('now') WHERE image_sha256 IN (${whole})`,
    ).run({ id });
    db.prepare(`DELETE FROM images WHERE sha256 IN (${whole})`).run({ id });
  })();
}

/** Source image bytes that no kept face needs. */
function blobs(ctx: StepContext): void {
  for (const im of planImages(ctx)) {
    if (!im.whole || !im.blob_path) continue;
    const file = join(ctx.ws.root, im.blob_path);
    if (existsSync(file)) unlinkSync(file);
  }
}

export const STEP_FNS: Record<Exclude<Step, 'planned' | 'done'>, (ctx: StepContext) => void | Promise<void>> = {
  descriptors,
  indexes,
  exports,
  caches,
  rows,
  blobs,
};
