// The worker's half of the per-item pipeline: the local run's own function (retrieval/item.ts), with no workspace;
// its result goes to the coordinator as a ShardItemResult (src/contracts/shard.ts). The writer's half (exact and
// near-duplicate dedup against the workspace, opt-outs, rows, index) stays with the coordinator, the single writer.
import type { ShardFace, ShardItem, ShardItemResult } from '../../src/contracts/shard.ts';
import type { FaceRecord } from '../faces/types.ts';
import { ImageClaims, runItem, type ItemDeps, type ItemResult } from '../item.ts';

const finite = (n: number): number | null => (Number.isFinite(n) ? n : null);

export function encodeDescriptor(d: Float32Array): string {
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64');
}

export function decodeDescriptor(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  // Copy into an aligned buffer: a Buffer's offset into its pool need not be a multiple of 4.
  const out = new Float32Array(buf.length / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

function face(f: FaceRecord): ShardFace {
  return {
    box: f.box,
    score: f.score,
    faceRatio: f.faceRatio,
    landmarks: f.landmarks,
    yaw: finite(f.yaw),
    pitch: finite(f.pitch),
    roll: finite(f.roll),
    sharpness: f.sharpness,
    dhash: f.dhash,
    descriptor: f.descriptor ? encodeDescriptor(f.descriptor) : undefined,
    status: f.status,
    reason: f.reason,
  };
}

/** Exact copies inside one shard: the first item with a hash analyses it, the others wait and travel as copies. */
export class ShardCopies {
  readonly analysed = new Set<string>();
  readonly claims = new ImageClaims((sha) => this.analysed.has(sha));
}

/**
 * A shard item through the one per-item pipeline (retrieval/item.ts), its result in the shard's wire form. No abort
 * signal: a shard in hand is finished before the worker stops, so every item has a result.
 */
export async function analyseItem(item: ShardItem, deps: ItemDeps, copies: ShardCopies): Promise<ShardItemResult> {
  let out: ShardItemResult | undefined;
  await runItem(item, deps, copies.claims, (r) => {
    // Recorded before the hash is released, so a copy waiting on it sees it analysed.
    if (r.kind === 'analysed') copies.analysed.add(r.image.sha256);
    out = toWire(item.id, r);
  });
  if (!out) throw new Error('the pipeline wrote no result');
  return out;
}

export function toWire(id: number, r: ItemResult): ShardItemResult {
  if (r.kind === 'failed') return { id, outcome: r.outcome };
  if (r.kind === 'copy') return { id, outcome: r.outcome, copy: true };
  return {
    id,
    outcome: r.outcome,
    image: {
      ...r.image,
      data: r.bytes.toString('base64'),
      status: r.analysis.status,
      reason: r.analysis.reason,
      faceRatio: r.analysis.faceRatio,
      faces: r.analysis.faces.map(face),
    },
  };
}
