// Retrieval over the curated faces: nearest neighbours of a face or an image, and set expansion. The CLI
// (`pros search`, `pros expand`) and the web UI call these same functions.
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { ProsConfig } from '../src/config.ts';
import type { Workspace } from '../src/workspace.ts';
import { InputError } from '../src/errors.ts';
import { decodeImage } from './decode.ts';
import { FacePool } from './faces/pool.ts';
import type { FaceRecord } from './faces/types.ts';
import { FaceIndex } from './face-index.ts';
import type { Box, Neighbour, Point } from '../src/contracts/geometry.ts';
import type { FaceRow, FaceStatus, ImageRow } from '../src/contracts/rows.ts';
import { CurateStore } from './store.ts';
import { log } from '../src/log.ts';

export interface FaceHit extends Neighbour {
  imageSha256: string;
  source: string;
  box: Box;
  status: FaceStatus;
  score: number;
}

export interface QueryFace {
  /** Where the query face came from: a stored face id, or its index in an uploaded image. */
  faceId?: number;
  box?: Box;
  score?: number;
  /** Of a face found in an image: its landmarks in the image's pixels, as stored for curated faces. */
  landmarks?: Point[];
  neighbours: FaceHit[];
}

/** A face found in a query image: where it is, and its neighbours. */
export interface ImageQueryFace extends QueryFace {
  box: Box;
  score: number;
  landmarks: Point[];
}

/**
 * Policy for describing query images: a person searching with a photo wants every face in it described, not only
 * those the curation policy would keep.
 */
export function queryConfig(config: ProsConfig): ProsConfig {
  return {
    ...config,
    faces: { ...config.faces, workers: 1 },
    policy: { ...config.policy, minFaceRatio: 0, minFaceSize: 16, maxFaces: config.faces.maxDetected, maxYaw: 90, maxPitch: 90, maxRoll: 180, minSharpness: 0, minScore: Math.min(config.policy.minScore, 0.5) },
  };
}

export function hitsFor(ws: Workspace, neighbours: Neighbour[]): FaceHit[] {
  const get = ws.db.prepare<[number], Pick<FaceRow, 'image_sha256' | 'x' | 'y' | 'w' | 'h' | 'status' | 'score'> & Pick<ImageRow, 'origin'>>(
    `SELECT f.image_sha256, f.x, f.y, f.w, f.h, f.status, f.score, i.origin FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE f.id = ?`,
  );
  return neighbours.map((n) => {
    const r = get.get(n.faceId)!;
    return { ...n, imageSha256: r.image_sha256, source: r.origin, box: [r.x, r.y, r.w, r.h], status: r.status, score: r.score };
  });
}

/** Faces of an image given as bytes, described with human's models (for search by upload). */
export async function describeImage(config: ProsConfig, bytes: Buffer, pool?: FacePool): Promise<FaceRecord[]> {
  const decoded = await decodeImage(bytes, config.decode);
  if (!decoded.ok) throw new InputError(`not a usable image (${decoded.reason}${decoded.detail ? `: ${decoded.detail}` : ''})`);
  const own = pool ?? (await FacePool.start(queryConfig(config)));
  try {
    const analysis = await own.analyse({ rgb: decoded.rgb, aw: decoded.aw, ah: decoded.ah, scale: decoded.scale, width: decoded.width, height: decoded.height });
    return analysis.faces.filter((f) => f.descriptor);
  } finally {
    if (!pool) await own.close();
  }
}

export async function searchByFace(ws: Workspace, index: FaceIndex, faceId: number, k: number): Promise<QueryFace> {
  const d = index.descriptor(faceId);
  if (!d) throw new InputError(`face ${faceId} is not in the workspace or has no descriptor`);
  return { faceId, neighbours: hitsFor(ws, index.search(d, k, new Set([faceId]))) };
}

export async function searchByImage(ws: Workspace, config: ProsConfig, index: FaceIndex, bytes: Buffer, k: number, pool?: FacePool): Promise<ImageQueryFace[]> {
  const faces = await describeImage(config, bytes, pool);
  return faces.map((f) => ({ box: f.box, score: f.score, landmarks: f.landmarks, neighbours: hitsFor(ws, index.search(f.descriptor!, k)) }));
}

const imageExt = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.avif', '.tif', '.tiff']);

function listImages(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listImages(p));
    else if (imageExt.has(extname(name).toLowerCase())) out.push(p);
  }
  return out;
}

export interface ExpandResult {
  into: string;
  seeds: number;
  /** Seed images that could not be read or decoded, and seed faces without a stored descriptor: logged, not used. */
  droppedSeeds: number;
  added: number;
  size: number;
}

/**
 * Grows a set: the k nearest accepted faces of every seed face join the set `into` together with the seeds (when
 * they are stored faces). Seeds come from a named set or from the images of a folder.
 */
export async function expand(ws: Workspace, config: ProsConfig, seed: string, k: number, into: string, minSimilarity = 0): Promise<ExpandResult> {
  const index = await FaceIndex.open(ws, config);
  const store = new CurateStore(ws.db);
  const queries: Float32Array[] = [];
  const seedIds: number[] = [];
  let droppedSeeds = 0;
  const isSet = ws.db.prepare('SELECT 1 FROM sets WHERE name = ?').get(seed);
  if (isSet) {
    const ids = ws.db
      .prepare<[string], number>("SELECT m.face_id FROM set_members m JOIN faces f ON f.id = m.face_id WHERE m.set_name = ? AND f.status = 'accepted'")
      .pluck()
      .all(seed);
    for (const id of ids) {
      const d = index.descriptor(id);
      if (d) {
        queries.push(d);
        seedIds.push(id);
      } else {
        droppedSeeds++;
        log.warn(`expand: seed face ${id} has no stored descriptor; skipped`);
      }
    }
  } else {
    let isDir = false;
    try {
      isDir = statSync(seed).isDirectory();
    } catch {
      /* neither */
    }
    if (!isDir) throw new InputError(`--seed ${seed}: neither a set in this workspace nor a folder`);
    const pool = await FacePool.start(queryConfig(config));
    try {
      const { readFile } = await import('node:fs/promises');
      for (const file of listImages(seed)) {
        try {
          for (const f of await describeImage(config, await readFile(file), pool)) queries.push(f.descriptor!);
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          droppedSeeds++;
          log.warn(`expand: seed ${file}: ${err.message}; skipped`);
        }
      }
    } finally {
      await pool.close();
    }
  }
  if (queries.length === 0) throw new InputError(`--seed ${seed}: no faces to expand from`);
  const exclude = new Set(seedIds);
  const found = new Map<number, number>();
  for (const q of queries) {
    for (const n of index.search(q, k, exclude)) {
      if (n.similarity >= minSimilarity) found.set(n.faceId, Math.max(found.get(n.faceId) ?? -1, n.similarity));
    }
  }
  store.ensureSet(into, 'expanded', { seed, k, minSimilarity });
  const before = ws.db.prepare<[string], number>('SELECT count(*) FROM set_members WHERE set_name = ?').pluck();
  const n0 = before.get(into)!;
  store.addMembers(into, [...seedIds, ...found.keys()], 'expand');
  const size = before.get(into)!;
  return { into, seeds: queries.length, droppedSeeds, added: size - n0, size };
}
