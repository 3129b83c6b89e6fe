// `pros search` and `pros expand` on a workspace curated from real photos: frames of one person find each other
// before they find other people.
import test from 'ava';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { packagePhotos } from '../../app/package-media.ts';
import { pros } from '../helpers/cli.ts';

const photo = (name: string) => packagePhotos().find((p) => p.endsWith(`/${name}`))!;
const franck = ['franck_01829.jpg', 'franck_02159.jpg', 'franck_02683.jpg', 'franck_03909.jpg', 'franck_04117.jpg'];
const others = ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg', 'kim1_crop.jpg', 'obama4_crop.jpg', 'queen20_crop.jpg'];

let ws: string;
let seedDir: string;
test.before(async () => {
  const corpus = mkdtempSync(join(tmpdir(), 'pros-search-corpus-'));
  for (const n of [...franck.slice(1), ...others]) copyFileSync(photo(n), join(corpus, n));
  seedDir = mkdtempSync(join(tmpdir(), 'pros-seed-'));
  copyFileSync(photo(franck[0]), join(seedDir, franck[0]));
  ws = mkdtempSync(join(tmpdir(), 'pros-search-ws-'));
  const r = await pros(['curate', corpus, '-w', ws, '--set', 'all', '--near-duplicate', '0.99', '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
});

function originOf(faceId: number): string {
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  const o = db.prepare<[number], string>('SELECT i.origin FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE f.id = ?').pluck().get(faceId)!;
  db.close();
  return o;
}

test('search by image: the nearest faces of an unseen frame are the other frames of the same person', async (t) => {
  const r = await pros(['search', join(seedDir, franck[0]), '-w', ws, '--k', '4', '--json']);
  t.is(r.code, 0, r.stderr);
  const [query] = JSON.parse(r.stdout);
  t.is(query.neighbours.length, 4);
  for (const n of query.neighbours) t.regex(n.source, /franck_/, `neighbour ${n.source} (${n.similarity})`);
  const sims = query.neighbours.map((n: { similarity: number }) => n.similarity);
  t.deepEqual([...sims].sort((a, b) => b - a), sims, 'sorted by similarity');
});

test('search by face id excludes the face itself and prints a readable table', async (t) => {
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  const id = db.prepare<[], number>("SELECT f.id FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE i.origin LIKE '%franck_02159%'").pluck().get()!;
  db.close();
  const json = JSON.parse((await pros(['search', String(id), '-w', ws, '--k', '3', '--json'])).stdout);
  t.false(json[0].neighbours.some((n: { faceId: number }) => n.faceId === id));
  t.regex(originOf(json[0].neighbours[0].faceId), /franck_/);
  const text = await pros(['search', String(id), '-w', ws, '--k', '3']);
  t.is(text.code, 0);
  t.regex(text.stdout, new RegExp(`face ${id}:`));
  t.is(text.stdout.trim().split('\n').length, 4);
});

test('expand a folder seed into a new set, exported under the set contract', async (t) => {
  const r = await pros(['expand', '--seed', seedDir, '--into', 'franck', '--k', '3', '-w', ws, '--json']);
  t.is(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  t.is(res.seeds, 1);
  t.is(res.size, 3);
  const lines = readFileSync(join(ws, 'curated', 'franck', 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines.length, 3);
  for (const l of lines) t.regex(l.source, /franck_/);
  // Expanding a set from itself adds its members' neighbours.
  const again = JSON.parse((await pros(['expand', '--seed', 'franck', '--into', 'franck', '--k', '2', '-w', ws, '--json'])).stdout);
  t.true(again.size >= 3);
  const missing = await pros(['expand', '--seed', 'nobody', '--into', 'x', '-w', ws]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /nobody/);
});

test('expand counts and names the seed images it cannot decode, and expands from the rest', async (t) => {
  const seeds = mkdtempSync(join(tmpdir(), 'pros-seed-bad-'));
  copyFileSync(photo(franck[0]), join(seeds, franck[0]));
  writeFileSync(join(seeds, 'broken.jpg'), 'not an image at all');
  writeFileSync(join(seeds, 'truncated.jpg'), readFileSync(photo('cage.jpg')).subarray(0, 200));
  const r = await pros(['expand', '--seed', seeds, '--into', 'franck-bad', '--k', '3', '-w', ws, '--json']);
  t.is(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  t.is(res.seeds, 1, 'the one good seed face is used');
  t.is(res.droppedSeeds, 2, 'both undecodable seeds are counted');
  for (const name of ['broken', 'truncated']) t.regex(r.stderr, new RegExp(`expand: seed \\S*${name}\\.jpg: not a usable image`));
});
