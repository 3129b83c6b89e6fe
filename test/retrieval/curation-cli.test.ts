// `pros curation`: a person's decision from the command line is recorded with who/when and changes what export and
// search see at once.
import test from 'ava';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { packagePhotos } from '../../app/package-media.ts';
import { pros } from '../helpers/cli.ts';

test('reject, tag and add to a set from the CLI; export and search follow', async (t) => {
  const corpus = mkdtempSync(join(tmpdir(), 'pros-cur-'));
  for (const n of ['audrey.jpg', 'cage.jpg', 'SeanConnery.jpg']) copyFileSync(packagePhotos().find((p) => p.endsWith(`/${n}`))!, join(corpus, n));
  const ws = mkdtempSync(join(tmpdir(), 'pros-cur-ws-'));
  t.is((await pros(['curate', corpus, '-w', ws, '--set', 'people', '-q'])).code, 0);
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  const ids = db.prepare<[], number>("SELECT f.id FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE f.status = 'accepted' ORDER BY i.origin").pluck().all();
  t.is(ids.length, 3);
  const [audrey, cage] = ids;

  const r = await pros(['curation', 'reject', String(audrey), '-w', ws, '--who', 'alice']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /reject: 1 face/);
  const decision = db.prepare('SELECT action, who FROM decisions WHERE face_id = ?').get(audrey);
  t.deepEqual(decision, { action: 'reject', who: 'alice' });

  // Export and search no longer see the rejected face.
  t.is((await pros(['export', 'people', '-w', ws, '-q'])).code, 0);
  const manifest = readFileSync(join(ws, 'curated', 'people', 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).id);
  t.false(manifest.includes(audrey));
  t.is(manifest.length, 2);
  const search = JSON.parse((await pros(['search', String(cage), '-w', ws, '--k', '5', '--json'])).stdout);
  t.false(search[0].neighbours.some((n: { faceId: number }) => n.faceId === audrey));

  t.is((await pros(['curation', 'tag', 'smiling', String(cage), '-w', ws])).code, 0);
  t.is(db.prepare('SELECT tag FROM tags WHERE face_id = ?').pluck().get(cage), 'smiling');
  t.is((await pros(['curation', 'add-to-set', 'picked', String(cage), '-w', ws])).code, 0);
  t.is((await pros(['export', 'picked', '-w', ws, '-q'])).code, 0);
  t.is(readFileSync(join(ws, 'curated', 'picked', 'manifest.jsonl'), 'utf8').trim().split('\n').length, 1);

  // Unknown ids write nothing and exit 2; a history shows what was done.
  const bad = await pros(['curation', 'reject', String(cage), '999999', '-w', ws]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /999999/);
  t.is(db.prepare("SELECT status FROM faces WHERE id = ?").pluck().get(cage), 'accepted');
  const history = await pros(['curation', 'history', String(audrey), String(cage), '-w', ws]);
  t.regex(history.stdout, /reject {2}by alice/);
  t.regex(history.stdout, /tag smiling/);
  db.close();
});
