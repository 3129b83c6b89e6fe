// The curate pipeline's writer: every database write of `pros curate` goes through here, one transaction per
// finished item, so a kill -9 loses at most the items still in flight.
import type { DB } from '../src/workspace.ts';
import type { FaceRecord } from './faces/types.ts';
import type { ImageRow, ItemRow as ItemTableRow, SourceRow } from '../src/contracts/rows.ts';

/** The columns of an items row the pipeline reads. */
export type ItemRow = Pick<ItemTableRow, 'id' | 'uri' | 'source_id' | 'meta' | 'status' | 'depth'>;

export type ItemOutcome =
  | { status: 'ok'; httpStatus?: number; bytes: number; contentType?: string; sha256?: string; attempts: number }
  | { status: 'failed' | 'skipped'; reason: string; httpStatus?: number; attempts: number; bytes?: number; sha256?: string };

export interface NewImage {
  sha256: string;
  width: number;
  height: number;
  format: string;
  bytes: number;
  origin: string;
  licence?: string;
  caption?: string;
  status: 'accepted' | 'rejected' | 'no_face';
  reason?: string;
  faceRatio: number;
  blobPath: string;
}

/** A face as stored: the analyser's record plus where its descriptor went and what dedup decided. */
export interface NewFace extends Omit<FaceRecord, 'descriptor' | 'status'> {
  status: FaceRecord['status'] | 'duplicate';
  descriptorRow: number | null;
  dupOf?: number | null;
}

export class CurateStore {
  private readonly stmts;

  constructor(private readonly db: DB) {
    this.stmts = {
      source: db.prepare<[string], Pick<SourceRow, 'id' | 'done'>>('SELECT id, done FROM sources WHERE uri = ?'),
      addSource: db.prepare('INSERT INTO sources(kind, uri) VALUES (?, ?)'),
      sourceDone: db.prepare('UPDATE sources SET done = 1 WHERE id = ?'),
      addItem: db.prepare('INSERT OR IGNORE INTO items(source_id, uri, meta, depth) VALUES (?, ?, ?, ?)'),
      addPage: db.prepare("INSERT OR IGNORE INTO items(source_id, uri, depth, kind) VALUES (?, ?, ?, 'page')"),
      itemByUri: db.prepare<[string], ItemRow>('SELECT id, uri, source_id, meta, status, depth FROM items WHERE uri = ?'),
      pending: db.prepare<[number, number, number], ItemRow>("SELECT id, uri, source_id, meta, status, depth FROM items WHERE source_id = ? AND status = 'pending' AND kind = 'image' AND id > ? ORDER BY id LIMIT ?"),
      finishItem: db.prepare(
        `UPDATE items SET status = @status, reason = @reason, http_status = @httpStatus, attempts = @attempts,
           bytes = @bytes, content_type = @contentType, image_sha256 = @sha256, updated_at = datetime('now') WHERE id = @id`,
      ),
      image: db.prepare<[string], Pick<ImageRow, 'sha256' | 'status'>>('SELECT sha256, status FROM images WHERE sha256 = ?'),
      addImage: db.prepare(
        `INSERT INTO images(sha256, width, height, format, bytes, origin, licence, caption, status, reason, n_faces, face_ratio, blob_path)
         VALUES (@sha256, @width, @height, @format, @bytes, @origin, @licence, @caption, @status, @reason, @nFaces, @faceRatio, @blobPath)`,
      ),
      addFace: db.prepare(
        `INSERT INTO faces(image_sha256, idx, x, y, w, h, score, face_ratio, landmarks, yaw, pitch, roll, sharpness, dhash,
           descriptor_row, status, reason, dup_of)
         VALUES (@image, @idx, @x, @y, @w, @h, @score, @faceRatio, @landmarks, @yaw, @pitch, @roll, @sharpness, @dhash,
           @descriptorRow, @status, @reason, @dupOf)`,
      ),
      markDuplicate: db.prepare("UPDATE faces SET status = 'duplicate', reason = 'near_duplicate', dup_of = ? WHERE id = ?"),
      repointDuplicates: db.prepare('UPDATE faces SET dup_of = ? WHERE dup_of = ?'),
      addSet: db.prepare('INSERT OR IGNORE INTO sets(name, kind, meta) VALUES (?, ?, ?)'),
      addMember: db.prepare('INSERT OR IGNORE INTO set_members(set_name, face_id, added_by) VALUES (?, ?, ?)'),
    };
  }

  /** The source's row id, creating it; `done` tells whether its enumeration already finished. */
  source(kind: string, uri: string): { id: number; done: boolean } {
    const row = this.stmts.source.get(uri);
    if (row) return { id: row.id, done: row.done === 1 };
    const info = this.stmts.addSource.run(kind, uri);
    return { id: Number(info.lastInsertRowid), done: false };
  }

  markSourceDone(id: number): void {
    this.stmts.sourceDone.run(id);
  }

  /** Records an item met while enumerating; returns its row (existing rows keep their status). */
  addItem(sourceId: number, uri: string, meta: Record<string, unknown> | undefined, depth: number): ItemRow {
    this.stmts.addItem.run(sourceId, uri, meta && Object.keys(meta).length ? JSON.stringify(meta) : null, depth);
    return this.stmts.itemByUri.get(uri)!;
  }

  /** A crawled page and how fetching it ended (pages are items of kind 'page': every URL met has a status). */
  recordPage(sourceId: number, uri: string, depth: number, outcome: ItemOutcome): void {
    this.db.transaction(() => {
      this.stmts.addPage.run(sourceId, uri, depth);
      const row = this.stmts.itemByUri.get(uri)!;
      this.finishItem(row.id, outcome);
    })();
  }

  /** An entry a source could not turn into an item (bad URL, empty cell, page-level opt-out), recorded as such. */
  recordRejected(sourceId: number, uri: string, status: 'failed' | 'skipped', reason: string, where: string): void {
    this.db.transaction(() => {
      this.stmts.addItem.run(sourceId, uri, JSON.stringify({ where }), 0);
      const row = this.stmts.itemByUri.get(uri)!;
      if (row.status === 'pending') this.finishItem(row.id, { status, reason, attempts: 0 });
    })();
  }

  /** Pending items of a source in id order, a page at a time (for sources whose enumeration already finished). */
  pendingItems(sourceId: number, afterId: number, limit: number): ItemRow[] {
    return this.stmts.pending.all(sourceId, afterId, limit);
  }

  imageStatus(sha256: string): string | undefined {
    return this.stmts.image.get(sha256)?.status;
  }

  finishItem(id: number, outcome: ItemOutcome): void {
    this.stmts.finishItem.run({
      id,
      status: outcome.status,
      reason: outcome.status === 'ok' ? null : outcome.reason,
      httpStatus: outcome.httpStatus ?? null,
      attempts: outcome.attempts,
      bytes: outcome.bytes ?? null,
      contentType: outcome.status === 'ok' ? (outcome.contentType ?? null) : null,
      sha256: outcome.sha256 ?? null,
    });
  }

  /** An analysed new image with its faces, and the item that brought it, in one transaction. Returns face ids. */
  addImage(itemId: number, outcome: ItemOutcome, image: NewImage, faces: NewFace[], set?: string): number[] {
    return this.db.transaction(() => {
      this.stmts.addImage.run({
        ...image,
        licence: image.licence ?? null,
        caption: image.caption ?? null,
        reason: image.reason ?? null,
        nFaces: faces.length,
      });
      const ids: number[] = [];
      faces.forEach((f, idx) => {
        const info = this.stmts.addFace.run({
          image: image.sha256,
          idx,
          x: f.box[0],
          y: f.box[1],
          w: f.box[2],
          h: f.box[3],
          score: f.score,
          faceRatio: f.faceRatio,
          landmarks: JSON.stringify(f.landmarks),
          yaw: f.yaw,
          pitch: f.pitch,
          roll: f.roll,
          sharpness: f.sharpness,
          dhash: f.dhash,
          descriptorRow: f.descriptorRow,
          status: f.status,
          reason: f.reason ?? null,
          dupOf: f.dupOf ?? null,
        });
        const id = Number(info.lastInsertRowid);
        ids.push(id);
        if (set && f.status === 'accepted') this.stmts.addMember.run(set, id, 'curate');
      });
      this.finishItem(itemId, outcome);
      return ids;
    })();
  }

  /**
   * A newly stored face supersedes an older near-duplicate (it is the better copy): the old one becomes a
   * duplicate of the new, and duplicates that pointed at the old now point at the new.
   */
  supersede(oldId: number, newId: number): void {
    this.db.transaction(() => {
      this.stmts.markDuplicate.run(newId, oldId);
      this.stmts.repointDuplicates.run(newId, oldId);
    })();
  }

  ensureSet(name: string, kind: string, meta?: object): void {
    this.stmts.addSet.run(name, kind, meta ? JSON.stringify(meta) : null);
  }

  addMembers(set: string, faceIds: number[], by: string): void {
    this.db.transaction(() => {
      for (const id of faceIds) this.stmts.addMember.run(set, id, by);
    })();
  }
}
