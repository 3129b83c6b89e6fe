// The worker's half of the per-item pipeline: fetch, decode and face analysis of one shard item, with no workspace.
// What the coordinator's merge needs comes back as a ShardItemResult (src/contracts/shard.ts); the writer's half
// (exact and near-duplicate dedup, opt-outs, rows, index) stays with the coordinator, the single SQLite writer.
import type { DecodeConfig, FetchConfig } from '../../src/config.ts';
import type { ShardFace, ShardItem, ShardItemResult } from '../../src/contracts/shard.ts';
import { Fetcher, readLocalFile, type FetchOutcome } from '../fetch/index.ts';
import { decodeImage } from '../decode.ts';
import type { FacePool } from '../faces/pool.ts';
import type { FaceRecord } from '../faces/types.ts';

export interface AnalyseDeps {
  fetcher: Fetcher;
  pool: FacePool;
  fetch: FetchConfig;
  decode: DecodeConfig;
}

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

export async function analyseItem(item: ShardItem, deps: AnalyseDeps, signal?: AbortSignal): Promise<ShardItemResult> {
  const fetched: FetchOutcome = item.local
    ? await readLocalFile(item.uri, deps.fetch.maxBytes)
    : await deps.fetcher.fetch(item.uri, { signal });
  if (!fetched.ok) {
    return { id: item.id, outcome: { status: fetched.status, reason: fetched.reason, httpStatus: fetched.httpStatus, attempts: fetched.attempts } };
  }
  const base = { httpStatus: fetched.httpStatus, attempts: fetched.attempts, bytes: fetched.bytes.length, contentType: fetched.contentType };
  const decoded = await decodeImage(fetched.bytes, deps.decode);
  if (!decoded.ok) {
    return { id: item.id, outcome: { status: 'failed', reason: decoded.reason, ...base, sha256: decoded.sha256 } };
  }
  const analysis = await deps.pool.analyse({
    rgb: decoded.rgb, aw: decoded.aw, ah: decoded.ah, scale: decoded.scale, width: decoded.width, height: decoded.height,
  });
  return {
    id: item.id,
    outcome: { status: 'ok', ...base, sha256: decoded.sha256 },
    image: {
      sha256: decoded.sha256,
      width: decoded.width,
      height: decoded.height,
      format: decoded.format,
      data: fetched.bytes.toString('base64'),
      status: analysis.status,
      reason: analysis.reason,
      faceRatio: analysis.faceRatio,
      faces: analysis.faces.map(face),
    },
  };
}
