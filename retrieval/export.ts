// Export of a named set as the curated-set contract training reads (DESIGN.md): curated/<set>/crops/*.jpg,
// manifest.jsonl (one line per face) and set.json (size, margin, policy, counts, creation time, version).
import { existsSync, mkdirSync, readFileSync, realpathSync, createWriteStream } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { once } from 'node:events';
import { VERSION, type ProsConfig } from '../src/config.ts';
import { commitFile, tmpPath, writeFileAtomic } from '../src/atomic.ts';
import type { Workspace } from '../src/workspace.ts';
import { progress } from '../src/progress.ts';
import { log } from '../src/log.ts';
import { cropFace, cropSpec, toCropPixels } from './crop.ts';
import type { Box } from '../src/contracts/geometry.ts';
import { parseSetInfo, type CuratedSetInfo, type ManifestLine } from '../src/contracts/manifest.ts';
import { mulberry32 } from '../src/random.ts';
import { writeDatasheet } from './privacy/datasheet.ts';
import type { FaceRow, ImageRow } from '../src/contracts/rows.ts';
import { jsonColumnOr, Landmarks } from '../src/contracts/columns.ts';

type ExportRow = Pick<FaceRow, 'id' | 'image_sha256' | 'x' | 'y' | 'w' | 'h' | 'score' | 'face_ratio' | 'landmarks' | 'yaw' | 'pitch' | 'roll' | 'sharpness'>
  & Pick<ImageRow, 'origin' | 'licence' | 'blob_path'>;

export async function exportSet(
  ws: Workspace,
  config: ProsConfig,
  set: string,
  opts: { quiet?: boolean } = {},
): Promise<{ dir: string; crops: number; failed: number }> {
  const dir = join(ws.paths.curated, set);
  const cropsDir = join(dir, 'crops');
  mkdirSync(cropsDir, { recursive: true });
  const { size, scale, jitter, quality } = config.export;

  // Crops already on disk are reused only if they were cut with the same geometry.
  const infoFile = join(dir, 'set.json');
  let previous: CuratedSetInfo | undefined;
  if (existsSync(infoFile)) {
    const parsed = parseSetInfo(readFileSync(infoFile, 'utf8'));
    if (typeof parsed === 'string') log.warn(`${infoFile}: ${parsed}; every crop is cut again`);
    else if (parsed.kind === 'curated') previous = parsed;
  }
  const sameGeometry = previous?.size === size && previous?.scale === scale && previous?.jitter === jitter;

  const rows = ws.db
    .prepare<[string], ExportRow>(
      `SELECT f.id, f.image_sha256, f.x, f.y, f.w, f.h, f.score, f.face_ratio, f.landmarks, f.yaw, f.pitch, f.roll,
              f.sharpness, i.origin, i.licence, i.blob_path
       FROM set_members m JOIN faces f ON f.id = m.face_id JOIN images i ON i.sha256 = f.image_sha256
       WHERE m.set_name = ? AND f.status = 'accepted' ORDER BY f.id`,
    )
    .all(set);

  const bar = progress({ label: `export ${set}`, total: rows.length, unit: 'crops', silent: opts.quiet });
  const tmpManifest = tmpPath(join(dir, 'manifest.jsonl'));
  const out = createWriteStream(tmpManifest);
  const images = new Set<string>();
  let written = 0;
  let failed = 0;
  for (const r of rows) {
    const box: Box = [r.x, r.y, r.w, r.h];
    const spec = cropSpec(box, scale, size, jitter, mulberry32(r.id)); // the same face gets the same jitter on every export
    const rel = `crops/${r.id}.jpg`;
    const file = join(dir, rel);
    try {
      if (!(sameGeometry && existsSync(file))) {
        if (!r.blob_path) throw new Error('source image bytes were not kept');
        writeFileAtomic(file, await cropFace(blobInside(ws, r.blob_path), spec, 'jpeg', quality));
      }
    } catch (err) {
      failed++;
      log.warn(`face ${r.id}: crop failed: ${(err as Error).message}`);
      bar.tick();
      continue;
    }
    // An unreadable value gives none (logged) rather than stopping the export.
    const landmarks = jsonColumnOr(Landmarks, r.landmarks, [], `faces.landmarks of face ${r.id}`);
    const line: ManifestLine = {
      id: r.id,
      path: rel,
      image: r.image_sha256,
      source: r.origin,
      box,
      score: r.score,
      landmarks: toCropPixels(landmarks, spec),
      yaw: r.yaw,
      pitch: r.pitch,
      roll: r.roll,
      faceRatio: r.face_ratio,
      sharpness: r.sharpness,
      ...(r.licence ? { licence: r.licence } : {}),
    };
    if (!out.write(JSON.stringify(line) + '\n')) await once(out, 'drain');
    images.add(r.image_sha256);
    written++;
    bar.tick();
  }
  out.end();
  await once(out, 'finish');
  bar.stop();
  commitFile(tmpManifest, join(dir, 'manifest.jsonl'));
  const now = new Date().toISOString();
  const info: CuratedSetInfo = {
    kind: 'curated',
    name: set,
    size,
    scale,
    jitter,
    policy: { ...config.policy },
    dedup: { ...config.dedup },
    counts: { faces: written, images: images.size },
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
    version: VERSION,
  };
  writeFileAtomic(infoFile, JSON.stringify(info, null, 2) + '\n');
  writeDatasheet(ws, config, set, dir, written);
  return { dir, crops: written, failed };
}

/** A stored blob path, only if it resolves (links followed) inside workspace/images/: a workspace is data. */
function blobInside(ws: Workspace, blobPath: string): string {
  const real = realpathSync(resolve(ws.root, blobPath));
  if (!real.startsWith(realpathSync(ws.paths.images) + sep)) throw new Error(`blob path ${blobPath.slice(0, 80)} leaves workspace/images`);
  return real;
}
