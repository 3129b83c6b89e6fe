// The faces' descriptor space: the float32 descriptor file (the truth), the ANN index over accepted faces, and the
// rules that keep both consistent with the database: near-duplicate resolution on insert, exact re-ranking on
// search, and reconciliation after a crash.
import { join } from 'node:path';
import type { ProsConfig } from '../src/config.ts';
import type { Workspace } from '../src/workspace.ts';
import { log } from '../src/log.ts';
import { openIndex, reconcileIndex, VectorStore, type AnnIndex } from '../src/index/index.ts';
import { hammingHex } from '../src/dhash.ts';
import type { CurateStore, ItemOutcome, NewFace, NewImage } from './store.ts';
import type { Neighbour } from '../src/contracts/geometry.ts';
import type { FaceRow } from '../src/contracts/rows.ts';

export const DESCRIPTOR_DIM = 1024;

type FaceQuality = Pick<FaceRow, 'id' | 'w' | 'h' | 'sharpness' | 'score' | 'dhash' | 'descriptor_row' | 'image_sha256'>;

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb || 1);
}

/** Which of two copies to keep: the larger face, then the sharper, then the higher score, then the older id. */
function better(a: { w: number; h: number; sharpness: number | null; score: number }, b: FaceQuality): boolean {
  const area = (x: { w: number; h: number }) => Math.round(x.w * x.h);
  if (area(a) !== area(b)) return area(a) > area(b);
  if ((a.sharpness ?? 0) !== (b.sharpness ?? 0)) return (a.sharpness ?? 0) > (b.sharpness ?? 0);
  return a.score > b.score;
}

export class FaceIndex {
  acceptedThisRun = 0;
  private addsSinceSave = 0;
  private readonly qualityOf;
  private readonly rowOf;
  private readonly acceptedOfImage;

  private constructor(
    private readonly ws: Workspace,
    private readonly config: ProsConfig,
    readonly vectors: VectorStore,
    readonly index: AnnIndex,
  ) {
    this.qualityOf = ws.db.prepare<[number], FaceQuality>('SELECT id, w, h, sharpness, score, dhash, descriptor_row, image_sha256 FROM faces WHERE id = ?');
    this.rowOf = ws.db.prepare<[number], number | null>('SELECT descriptor_row FROM faces WHERE id = ?').pluck();
    this.acceptedOfImage = ws.db.prepare<[string], number>("SELECT id FROM faces WHERE image_sha256 = ? AND status = 'accepted'").pluck();
  }

  static async open(ws: Workspace, config: ProsConfig): Promise<FaceIndex> {
    const vectors = VectorStore.open(join(ws.paths.index, 'descriptors.f32'), DESCRIPTOR_DIM);
    const index = await openIndex(ws.paths.index, 'faces', DESCRIPTOR_DIM, config.index);
    const fi = new FaceIndex(ws, config, vectors, index);
    fi.reconcile();
    return fi;
  }

  /**
   * Makes the index hold exactly the accepted faces' descriptors. After a crash the database may have committed
   * faces the saved index lacks, or the index may hold faces since rejected; the float32 file is the truth.
   */
  reconcile(): { added: number; removed: number } {
    const rows = this.ws.db
      .prepare<[], { id: number; row: number }>("SELECT id, descriptor_row AS row FROM faces WHERE status = 'accepted' AND descriptor_row IS NOT NULL ORDER BY id")
      .all();
    const usable = rows.filter((r) => r.row < this.vectors.count());
    if (usable.length < rows.length) log.warn(`${rows.length - usable.length} accepted faces have no stored descriptor`);
    const r = reconcileIndex(this.index, this.vectors, usable);
    if (r.added || r.removed) log.info(`index reconciled with the workspace: ${r.added} added, ${r.removed} removed`);
    return r;
  }

  /**
   * Stores an analysed image: descriptors appended to the float32 file, near-duplicates resolved against the index
   * (keeping the better copy), rows written in one transaction, and the index updated after the commit.
   */
  storeImage(
    store: CurateStore,
    itemId: number,
    outcome: ItemOutcome,
    image: NewImage,
    faces: NewFace[],
    descriptors: Array<Float32Array | undefined>,
    set?: string,
  ): number[] {
    const supersedes: Array<{ faceIdx: number; oldId: number }> = [];
    faces.forEach((face, i) => {
      const d = descriptors[i];
      if (!d) return;
      face.descriptorRow = this.vectors.append(d);
      if (face.status !== 'accepted') return;
      const match = this.nearDuplicate(d, face.dhash);
      if (!match) return;
      if (better({ w: face.box[2], h: face.box[3], sharpness: face.sharpness, score: face.score }, match)) {
        supersedes.push({ faceIdx: i, oldId: match.id });
      } else {
        face.status = 'duplicate';
        face.reason = 'near_duplicate';
        face.dupOf = match.id;
      }
    });
    const ids = store.addImage(itemId, outcome, image, faces, set);
    for (const { faceIdx, oldId } of supersedes) {
      store.supersede(oldId, ids[faceIdx]);
      this.index.remove([oldId]);
    }
    const add = faces.map((f, i) => ({ f, i })).filter(({ f, i }) => f.status === 'accepted' && descriptors[i]);
    if (add.length) {
      const flat = new Float32Array(add.length * DESCRIPTOR_DIM);
      add.forEach(({ i }, j) => flat.set(descriptors[i]!, j * DESCRIPTOR_DIM));
      this.index.add(add.map(({ i }) => ids[i]), flat);
      this.acceptedThisRun += add.length;
      this.addsSinceSave += add.length;
    }
    // The index is saved now and then, not per image: reconcile() repairs what a crash loses in between.
    if (this.addsSinceSave >= 500) this.save();
    return ids;
  }

  /** The closest accepted face that is a copy of this one: descriptor similarity confirmed by the crop's dHash. */
  private nearDuplicate(d: Float32Array, dhash: string): FaceQuality | undefined {
    if (this.index.count() === 0) return undefined;
    for (const n of this.search(d, 5)) {
      if (n.similarity < this.config.dedup.nearThreshold) break;
      const q = this.qualityOf.get(n.faceId);
      if (q?.dhash && dhash && hammingHex(q.dhash, dhash) <= this.config.dedup.maxHashDistance) return q;
    }
    return undefined;
  }

  /** k nearest accepted faces, re-ranked by exact cosine on the float32 descriptors. */
  search(query: Float32Array, k: number, exclude: Set<number> = new Set()): Neighbour[] {
    if (this.index.count() === 0) return [];
    const want = Math.min(this.index.count(), k + exclude.size + Math.max(10, k));
    const res = this.index.search(query, want);
    const out: Neighbour[] = [];
    for (const id of res.ids[0]) {
      if (exclude.has(id)) continue;
      const row = this.rowOf.get(id);
      if (row == null) continue;
      out.push({ faceId: id, similarity: cosine(query, this.vectors.read(row)) });
    }
    return out.sort((a, b) => b.similarity - a.similarity).slice(0, k);
  }

  descriptor(faceId: number): Float32Array | undefined {
    const row = this.rowOf.get(faceId);
    return row == null ? undefined : this.vectors.read(row);
  }

  /** The accepted faces of an already known image join a set (an exact duplicate met again under another set). */
  joinSet(set: string, sha256: string): void {
    const ids = this.acceptedOfImage.all(sha256);
    if (ids.length) {
      this.ws.db.transaction(() => {
        const add = this.ws.db.prepare('INSERT OR IGNORE INTO set_members(set_name, face_id, added_by) VALUES (?, ?, ?)');
        for (const id of ids) add.run(set, id, 'curate');
      })();
    }
  }

  save(): void {
    this.vectors.sync();
    this.index.save();
    this.addsSinceSave = 0;
  }
}
