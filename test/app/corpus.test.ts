// `pros corpus` end to end on a tiny build (3 frames per video, a few drawn faces): the sets exist and parse as the
// curated-set contract, the held-out faces share no source with pre-training, real-eval loads as 300W and
// `pros eval landmarks` runs on it, and a rerun does no finished work twice.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pros } from '../helpers/cli.ts';
import { readManifest } from '../../training/manifest.ts';
import { read300W } from '../../training/downstream/readers/pts300w.ts';
import { identityOf } from '../../app/corpus/split.ts';
import type { CorpusSummary } from '../../app/corpus/build.ts';

const root = mkdtempSync(join(tmpdir(), 'pros-corpus-'));
const out = join(root, 'out');
const ws = join(root, 'ws');
const args = ['corpus', '--out', out, '--workspace', ws, '--frames', '3', '--synth', '8', '--synth-eval', '10', '--json'];
test.after.always(() => rmSync(root, { recursive: true, force: true }));

const first = pros(args).then((r) => ({ ...r, summary: r.code === 0 ? (JSON.parse(r.stdout) as CorpusSummary) : undefined }));

test.serial('builds every set, and the manifests parse as the curated-set contract', async (t) => {
  const r = await first;
  t.is(r.code, 0, r.stderr);
  const s = r.summary!;
  const real = readManifest(s.sets.real);
  const synth = readManifest(s.sets.synth);
  const mixed = readManifest(s.sets.mixed);
  t.true(real.items.length > 0);
  t.is(synth.items.length, 8);
  t.is(mixed.items.length, real.items.length + synth.items.length);
  // The mixed set names both parts' crops by relative paths; readManifest checked that each file exists.
  t.true(mixed.items.some((l) => l.path.startsWith('../real/')) && mixed.items.some((l) => l.path.startsWith('../synth/')));
  t.is(new Set(mixed.items.map((l) => String(l.id))).size, mixed.items.length);
  const synthEval = JSON.parse(readFileSync(join(s.sets['synth-eval'], 'set.json'), 'utf8')) as { seed: number; counts: { train: number; test: number } };
  t.is(synthEval.seed, 1);
  t.deepEqual(synthEval.counts, { faces: 10, train: 8, test: 2 } as never);
  const frames = s.parts.filter((p) => p.part.startsWith('frames of '));
  t.deepEqual(frames.map((p) => p.count), [3, 3, 3]);
});

test.serial('held-out faces share no source, identity or picture with pre-training', async (t) => {
  const s = (await first).summary!;
  const split = JSON.parse(readFileSync(join(out, 'split.json'), 'utf8')) as {
    groups: { pretrain: string[]; heldout: string[] };
    faces: Array<{ id: number; side: string; source: string }>;
  };
  t.deepEqual(split.groups.pretrain.filter((g) => split.groups.heldout.includes(g)), []);
  t.true(split.groups.pretrain.includes('franck'));
  t.true(split.groups.heldout.includes('cap'));
  const groupOf = (source: string) => {
    const name = source.split('/').at(-1)!;
    return source.startsWith('sources/frames/') ? identityOf(`${source.split('/')[2]}.mp4`) : identityOf(name.replace(/^[^_]+__/, ''));
  };
  for (const f of split.faces) t.true((split.groups as Record<string, string[]>)[f.side]!.includes(groupOf(f.source)), `${f.source} on ${f.side}`);
  const real = readManifest(s.sets.real).items;
  const held = readManifest(s.sets.heldout).items;
  t.true(held.length > 0);
  const realImages = new Set(real.map((l) => l.image));
  t.deepEqual(held.filter((l) => realImages.has(l.image)).map((l) => l.path), []);
  // Every item that led to a held-out picture is a held-out source file.
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  try {
    const uris = db.prepare<[string | undefined], string>("SELECT uri FROM items WHERE image_sha256 = ? AND status = 'ok'").pluck();
    for (const l of held) {
      for (const u of uris.all(l.image)) t.true(split.groups.heldout.includes(groupOf(u.slice(out.length + 1))), u);
    }
  } finally {
    db.close();
  }
  t.deepEqual(s.overlap!.duplicates, []);
  t.is(s.leakage!.real!.overlaps, 0);
  t.is(s.leakage!.real!.test, held.length);
  t.is(s.overlap!.heldoutFaces, held.length);
});

test.serial('real-eval is pseudo-labelled in the 300W layout: test = the held-out crops, train = pre-training crops', async (t) => {
  const s = (await first).summary!;
  const data = read300W(s.sets['real-eval']);
  t.is(data.points, 68);
  const test = data.samples.filter((x) => x.split === 'test');
  const train = data.samples.filter((x) => x.split === 'train');
  t.true(test.length > 0 && train.length > 0);
  const origins = readFileSync(join(s.sets['real-eval'], 'origins.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
  t.is(origins.length, data.samples.length);
  for (const [file, split, crop] of origins) t.regex(crop!, split === 'test' ? /^\.\.\/\.\.\/heldout\/crops\// : /^\.\.\/\.\.\/real\/crops\//, file);
  const r = await pros(['eval', 'landmarks', '--data', s.sets['real-eval'], '--backbone', 'random', '--workspace', ws, '--epochs', '2', '--max-train', '6', '--max-test', '6', '--json']);
  t.is(r.code, 0, r.stderr);
  const e = JSON.parse(r.stdout) as { task: string; test: number; mean: number };
  t.is(e.task, 'landmarks');
  t.is(e.test, Math.min(6, test.length));
  t.true(Number.isFinite(e.mean));
});

test.serial('a rerun does no finished work twice; a stage whose record is gone runs again alone', async (t) => {
  await first;
  const db = () => new Database(join(ws, 'pros.db'), { readonly: true });
  const count = () => {
    const d = db();
    try {
      return d.prepare<[], number>('SELECT count(*) FROM items').pluck().get()!;
    } finally {
      d.close();
    }
  };
  const items = count();
  const again = await pros(args);
  t.is(again.code, 0, again.stderr);
  const s = JSON.parse(again.stdout) as CorpusSummary;
  t.deepEqual(s.stages.filter((x) => x.ranNow).map((x) => x.stage), []);
  t.is(count(), items);

  // As if the build had stopped before its last two stages: only they run on the rerun.
  const file = join(out, 'corpus.json');
  const state = JSON.parse(readFileSync(file, 'utf8'));
  delete state.stages['synth-eval'];
  delete state.stages.mixed;
  writeFileSync(file, JSON.stringify(state));
  const resumed = await pros(args);
  t.is(resumed.code, 0, resumed.stderr);
  t.deepEqual((JSON.parse(resumed.stdout) as CorpusSummary).stages.filter((x) => x.ranNow).map((x) => x.stage), ['synth-eval', 'mixed']);

  const other = await pros([...args.slice(0, -1), '--stride', '4']);
  t.is(other.code, 2);
  t.regex(other.stderr, /built with stride 8/);
});

test.serial('without ffmpeg: exit 2 and a message naming the package to install', async (t) => {
  await first;
  const r = await pros(['corpus', '--out', join(root, 'no-ffmpeg'), '--workspace', ws, '--frames', '1'], { PROS_FFMPEG: join(root, 'no-such-ffmpeg') });
  t.is(r.code, 2);
  t.regex(r.stderr, /apt-get install ffmpeg/);
});
