// End-to-end `pros curate` on real parts: package photos, generated non-faces, copies, the real face models,
// SQLite, the ANN index and the CLI process itself (including a kill -9 in the middle of a run).
import test from 'ava';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import Database from 'better-sqlite3';
import { nonFaceImage } from '../../app/demo/corpus.ts';
import { packagePhotos } from '../../app/package-media.ts';
import { pros, startPros } from '../helpers/cli.ts';
import { openWorkspace } from '../../src/workspace.ts';
import { defaults } from '../../src/config.ts';
import { FaceIndex } from '../../retrieval/face-index.ts';

const photo = (name: string) => packagePhotos().find((p) => p.endsWith(`/${name}`))!;

/** A small corpus: 6 single-face photos, a 3-face photo, 4 non-face images, an exact and a resized copy. */
async function makeCorpus(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pros-corpus-'));
  for (const n of ['audrey.jpg', 'franck_01829.jpg', 'franck_03909.jpg', 'cage.jpg', 'SeanConnery.jpg', 'kim1_crop.jpg']) {
    copyFileSync(photo(n), join(dir, n));
  }
  copyFileSync(photo('faces.jpg'), join(dir, 'three-faces.jpg'));
  for (let i = 0; i < 4; i++) writeFileSync(join(dir, `nonface-${i}.jpg`), await nonFaceImage(i));
  mkdirSync(join(dir, 'copies'));
  copyFileSync(photo('audrey.jpg'), join(dir, 'copies', 'audrey-again.jpg'));
  const meta = await sharp(photo('cage.jpg')).metadata();
  await sharp(photo('cage.jpg')).resize(Math.round(meta.width! * 0.75)).jpeg({ quality: 75 }).toFile(join(dir, 'copies', 'cage-smaller.jpg'));
  writeFileSync(join(dir, 'notes.jpg'), 'not an image at all, whatever its name says');
  return dir;
}

let corpus: string;
test.before(async () => {
  corpus = await makeCorpus();
});

interface Snapshot {
  items: string[];
  images: string[];
  faces: string[];
  acceptedIds: number[];
}

/** The files finished work leaves (image blobs, exported crops, the descriptor file), with their sizes and mtimes. */
function workFiles(wsDir: string): string[] {
  const dirs = [join(wsDir, 'images'), join(wsDir, 'curated', 'people', 'crops')];
  const files = [join(wsDir, 'index', 'descriptors.f32')];
  for (const d of dirs) for (const e of readdirSync(d, { recursive: true, withFileTypes: true })) if (e.isFile()) files.push(join(e.parentPath, e.name));
  return files.sort().map((f) => {
    const st = statSync(f);
    return `${f.slice(wsDir.length)} ${st.size} ${st.mtimeMs}`;
  });
}

/** The workspace's content without ids or timestamps, which differ between runs by completion order. */
function snapshot(wsDir: string): Snapshot {
  const db = new Database(join(wsDir, 'pros.db'), { readonly: true });
  const items = db.prepare<[string], Record<string, string>>("SELECT replace(uri, ?, '') AS u, status, coalesce(reason, '') AS r, coalesce(image_sha256, '') AS s FROM items ORDER BY u").all(corpus);
  const images = db.prepare<[], Record<string, string>>('SELECT sha256, status, coalesce(reason, \'\') AS r, n_faces FROM images ORDER BY sha256').all();
  const faces = db.prepare<[], Record<string, string>>(
    `SELECT f.image_sha256, f.idx, f.status, coalesce(f.reason, '') AS r, coalesce(d.image_sha256, '') AS dup
     FROM faces f LEFT JOIN faces d ON d.id = f.dup_of ORDER BY f.image_sha256, f.idx`,
  ).all();
  const acceptedIds = db.prepare<[], number>("SELECT id FROM faces WHERE status = 'accepted' ORDER BY id").pluck().all();
  db.close();
  return {
    items: items.map((r) => `${r.u} ${r.status} ${r.r} ${r.s}`),
    images: images.map((r) => `${r.sha256} ${r.status} ${r.r} ${r.n_faces}`),
    faces: faces.map((r) => `${r.image_sha256}#${r.idx} ${r.status} ${r.r} ${r.dup}`),
    acceptedIds,
  };
}

async function indexIds(wsDir: string): Promise<number[]> {
  const ws = openWorkspace(wsDir);
  try {
    const fi = await FaceIndex.open(ws, { ...defaults, workspace: wsDir });
    return fi.index.ids().sort((a, b) => a - b);
  } finally {
    ws.close();
  }
}

let reference: { ws: string; json: any };

test.serial('a folder is curated: faces accepted, crowds and non-faces rejected, copies deduplicated, set exported', async (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'pros-ws-'));
  const r = await pros(['curate', corpus, '-w', ws, '--set', 'people', '--json']);
  t.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  reference = { ws, json: s };
  t.is(s.items.total, 14);
  t.is(s.items.failed, 1, 'notes.jpg is not an image');
  t.deepEqual(s.failedByReason, { not_image: 1 });
  t.is(s.images.exactDuplicates, 1, 'audrey-again.jpg is the same bytes as audrey.jpg');
  t.is(s.faces.nearDuplicates, 1, 'cage-smaller.jpg is a near-duplicate of cage.jpg');
  t.is(s.faces.accepted, 6, 'one face from each single-face photo');
  t.true((s.rejectedByReason.too_many_faces ?? 0) >= 1, 'the three-face photo is rejected as a crowd');

  const snap = snapshot(ws);
  const nonface = snap.items.filter((l) => l.startsWith('/nonface-'));
  t.is(nonface.length, 4);
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  const acceptedFromNonFaces = db.prepare(
    "SELECT count(*) FROM faces f JOIN items i ON i.image_sha256 = f.image_sha256 WHERE i.uri LIKE '%nonface-%' AND f.status = 'accepted'",
  ).pluck().get();
  t.is(acceptedFromNonFaces, 0, 'no face accepted from a non-face image');
  // The larger copy is kept; the smaller is its duplicate.
  const dup = db.prepare<[], string>(
    `SELECT i.uri FROM faces f JOIN items i ON i.image_sha256 = f.image_sha256 WHERE f.status = 'duplicate'`,
  ).pluck().all();
  t.true(dup.every((u) => u.endsWith('cage-smaller.jpg')), dup.join(','));
  db.close();

  t.deepEqual(await indexIds(ws), snap.acceptedIds, 'the index holds exactly the accepted faces');

  // The curated-set contract.
  const dir = join(ws, 'curated', 'people');
  const lines = readFileSync(join(dir, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines.length, 6);
  const info = JSON.parse(readFileSync(join(dir, 'set.json'), 'utf8'));
  t.is(info.counts.faces, 6);
  for (const l of lines) {
    for (const key of ['id', 'path', 'image', 'source', 'box', 'score', 'landmarks', 'yaw', 'pitch', 'roll', 'faceRatio', 'sharpness']) {
      t.true(key in l, `manifest line has ${key}`);
    }
    const m = await sharp(join(dir, l.path)).metadata();
    t.deepEqual([m.width, m.height], [info.size, info.size]);
    // Landmarks are in crop pixels: the face is centred, so most points fall inside the crop.
    const inside = l.landmarks.filter(([x, y]: number[]) => x >= 0 && y >= 0 && x < info.size && y < info.size).length;
    t.true(inside / l.landmarks.length > 0.9);
  }
});

test.serial('rerunning the same command does no finished work twice', async (t) => {
  const before = snapshot(reference.ws);
  const filesBefore = workFiles(reference.ws);
  const r = await pros(['curate', corpus, '-w', reference.ws, '--set', 'people', '--json']);
  t.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.deepEqual(snapshot(reference.ws), before);
  t.deepEqual(s.faces, reference.json.faces);
  // No finished work done again: no descriptor appended, no blob copied, no crop cut again (same sizes and times).
  t.deepEqual(workFiles(reference.ws), filesBefore);
});

test.serial('kill -9 in the middle of a run, then a rerun, ends where an uninterrupted run ends', async (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'pros-ws-kill-'));
  const { child, done } = startPros(['curate', corpus, '-w', ws, '--set', 'people', '--workers', '1']);
  // Wait until some items are finished, then kill without warning.
  const dbFile = join(ws, 'pros.db');
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(dbFile)) continue;
    try {
      const db = new Database(dbFile, { readonly: true });
      const n = db.prepare<[], number>("SELECT count(*) FROM items WHERE status != 'pending'").pluck().get()!;
      db.close();
      if (n >= 4) break;
    } catch {
      /* the schema may not be there yet */
    }
  }
  child.kill('SIGKILL');
  const killed = await done;
  t.is(killed.signal, 'SIGKILL');
  const partial = snapshot(ws);
  t.true(partial.items.some((l) => l.includes(' pending ')) || partial.items.length < 14, 'killed before the end');

  const r = await pros(['curate', corpus, '-w', ws, '--set', 'people', '--json']);
  t.is(r.code, 0, r.stderr);
  const after = snapshot(ws);
  const ref = snapshot(reference.ws);
  t.deepEqual(after.items, ref.items);
  t.deepEqual(after.images, ref.images);
  t.deepEqual(after.faces, ref.faces);
  t.deepEqual(await indexIds(ws), after.acceptedIds, 'the index holds exactly the accepted faces');
  const lines = readFileSync(join(ws, 'curated', 'people', 'manifest.jsonl'), 'utf8').trim().split('\n');
  t.is(new Set(lines.map((l) => JSON.parse(l).image)).size, lines.length, 'no duplicates in the set');
});

test('bad input gives a clear error and exit code 2', async (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'pros-ws-bad-'));
  const missing = await pros(['curate', join(corpus, 'nope.txt'), '-w', ws]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /nope\.txt/);
  const unknown = join(ws, 'list.xyz');
  writeFileSync(unknown, 'x');
  const ext = await pros(['curate', unknown, '-w', ws]);
  t.is(ext.code, 2);
  t.regex(ext.stderr, /list\.xyz/);
  const flag = await pros(['curate', corpus, '-w', ws, '--concurrency', 'lots']);
  t.is(flag.code, 2);
  t.regex(flag.stderr, /concurrency/);
  const unknownFlag = await pros(['curate', corpus, '-w', ws, '--frobnicate']);
  t.is(unknownFlag.code, 2);
  t.regex(unknownFlag.stderr, /frobnicate/);
  const badSearch = await pros(['search', '999999', '-w', ws]);
  t.is(badSearch.code, 2);
  t.regex(badSearch.stderr, /face 999999/);
});
