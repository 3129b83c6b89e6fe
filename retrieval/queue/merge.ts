// The coordinator's writer: a worker's shard result merged into the workspace the way a local run's finalize step
// writes an item (retrieval/pipeline.ts): exact duplicates join the known image, opted-out people leave nothing,
// near-duplicates across shards and workers resolve against the index with the same "better copy wins" rule.
// Idempotent: an item already finished (a shard merged before a crash, or taken twice) is left as it is.
import { blobPathOf, itemProvenance } from '../item.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Workspace } from '../../src/workspace.ts';
import { writeFileAtomic } from '../../src/atomic.ts';
import type { ShardItemResult, ShardResult } from '../../src/contracts/shard.ts';
import type { CurateStore, ItemOutcome, NewFace } from '../store.ts';
import type { FaceIndex } from '../face-index.ts';
import type { OptOutMatcher } from '../privacy/optout.ts';
import { decodeDescriptor } from './analyse.ts';
import type { ItemRow } from '../../src/contracts/rows.ts';


export interface MergeContext {
  ws: Workspace;
  store: CurateStore;
  faceIndex: FaceIndex;
  optouts: OptOutMatcher;
  set: string;
}

type ItemState = Pick<ItemRow, 'status' | 'uri' | 'meta' | 'shard'>;


function outcomeOf(r: ShardItemResult): ItemOutcome {
  const o = r.outcome;
  if (o.status === 'ok') return { status: 'ok', httpStatus: o.httpStatus, bytes: o.bytes ?? 0, contentType: o.contentType, sha256: o.sha256, attempts: o.attempts };
  return { status: o.status, reason: o.reason ?? 'unknown', httpStatus: o.httpStatus, attempts: o.attempts, bytes: o.bytes, sha256: o.sha256 };
}

/** Merges one item; returns false when it was already finished (nothing written). */
function mergeItem(ctx: MergeContext, shard: number, r: ShardItemResult, carriers: Map<string, number>): boolean {
  const { ws, store, faceIndex, optouts, set } = ctx;
  const row = ws.db.prepare<[number], ItemState>('SELECT status, uri, meta, shard FROM items WHERE id = ?').get(r.id);
  // Not this shard's item (a result from another workspace's run that reused the id) or already done: skip.
  if (!row || row.shard !== shard || row.status !== 'pending') return false;
  const outcome = outcomeOf(r);
  const image = r.image;
  if (r.copy && outcome.status === 'ok' && outcome.sha256) {
    // An exact copy of an image another item of the shard carried (merged first): it shares that image's fate.
    if (store.imageStatus(outcome.sha256)) {
      store.finishItem(r.id, outcome);
      faceIndex.joinSet(set, outcome.sha256);
      return true;
    }
    const carrier = carriers.get(outcome.sha256);
    const fate = carrier === undefined ? undefined : (ws.db.prepare('SELECT status, reason FROM items WHERE id = ?').get(carrier) as { status: string; reason: string | null } | undefined);
    // Kept nothing of the image: an opted-out person (skipped), or a carrier that never merged (failed).
    if (fate?.status === 'skipped') store.finishItem(r.id, { status: 'skipped', reason: fate.reason ?? 'opted_out', attempts: outcome.attempts, bytes: outcome.bytes });
    else store.finishItem(r.id, { status: 'failed', reason: 'no_result', attempts: outcome.attempts, bytes: outcome.bytes, sha256: outcome.sha256 });
    return true;
  }
  if (outcome.status !== 'ok' || !image) {
    store.finishItem(r.id, outcome);
    return true;
  }
  if (store.imageStatus(image.sha256)) {
    // An exact copy of an image already merged (from this shard or another): the item is done, the image is known.
    store.finishItem(r.id, outcome);
    faceIndex.joinSet(set, image.sha256);
    return true;
  }
  const descriptors = image.faces.map((f) => (f.descriptor ? decodeDescriptor(f.descriptor) : undefined));
  if (optouts.matchesFaces(descriptors)) {
    store.finishItem(r.id, { status: 'skipped', reason: 'opted_out', attempts: outcome.attempts, bytes: outcome.bytes });
    return true;
  }
  const bytes = Buffer.from(image.data, 'base64');
  const blobPath = blobPathOf(image.sha256, image.format);
  const file = join(ws.root, blobPath);
  if (!existsSync(file)) writeFileAtomic(file, bytes);
  const faces: NewFace[] = image.faces.map((f) => ({
    box: f.box,
    score: f.score,
    faceRatio: f.faceRatio,
    landmarks: f.landmarks,
    yaw: f.yaw ?? NaN,
    pitch: f.pitch ?? NaN,
    roll: f.roll ?? NaN,
    sharpness: f.sharpness,
    dhash: f.dhash,
    status: f.status,
    reason: f.reason,
    descriptorRow: null,
  }));
  faceIndex.storeImage(store, r.id, outcome, {
    sha256: image.sha256,
    width: image.width,
    height: image.height,
    format: image.format,
    bytes: bytes.length,
    origin: row.uri,
    ...itemProvenance({ id: r.id, meta: row.meta }),
    status: image.status,
    reason: image.reason,
    faceRatio: image.faceRatio,
    blobPath,
  }, faces, descriptors, set);
  return true;
}

/**
 * Merges a shard's results, then marks the shard merged. Items of the shard without a result (a worker that lost
 * some) become failed with reason `no_result`, so every item ends with a status. Returns the items newly written.
 */
export function mergeShard(ctx: MergeContext, result: ShardResult): number {
  let written = 0;
  // Items carrying an image first, then the exact copies of it that travelled without it.
  const carriers = new Map(result.items.filter((r) => r.image).map((r) => [r.image!.sha256, r.id] as const));
  const ordered = [...result.items.filter((r) => !r.copy), ...result.items.filter((r) => r.copy)];
  for (const r of ordered) if (mergeItem(ctx, result.shard, r, carriers)) written++;
  ctx.ws.db.transaction(() => {
    const lost = ctx.ws.db.prepare("UPDATE items SET status = 'failed', reason = 'no_result', updated_at = datetime('now') WHERE shard = ? AND status = 'pending'").run(result.shard);
    written += lost.changes;
    ctx.ws.db.prepare("UPDATE shards SET state = 'merged', worker = ?, finished_at = datetime('now') WHERE id = ?").run(result.worker, result.shard);
  })();
  return written;
}

/** A shard the queue gave up on: its unfinished items fail with reason `shard_failed`, the shard keeps the error. */
export function failShard(ws: Workspace, shard: number, error: string): number {
  return ws.db.transaction(() => {
    const n = ws.db.prepare("UPDATE items SET status = 'failed', reason = 'shard_failed', updated_at = datetime('now') WHERE shard = ? AND status = 'pending'").run(shard).changes;
    ws.db.prepare("UPDATE shards SET state = 'failed', error = ?, finished_at = datetime('now') WHERE id = ?").run(error.slice(0, 2000), shard);
    return n;
  })();
}
