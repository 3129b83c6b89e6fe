// 300W's published test subsets scored apart (the private set never averaged into "full"), and the box-diagonal
// NME taking the dataset's face box where it gives one.
import test from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadBackend } from '../../src/backend.ts';
import { openWorkspace } from '../../src/workspace.ts';
import { formatPts, read300W } from '../../training/downstream/readers/pts300w.ts';
import { evaluate } from '../../training/downstream/evaluate.ts';
import { report } from '../../training/downstream/report.ts';
import { testGroups } from '../../training/downstream/subsets.ts';
import { landmarksTask } from '../../training/downstream/tasks/landmarks.ts';
import { mulberry32 } from '../../training/downstream/synth/rng.ts';
import type { Point } from '../../src/contracts/geometry.ts';
import type { EvalRow } from '../../src/contracts/rows.ts';

/** A face-like 68-point shape (jaw arc, brows, nose, eyes, mouth) at 64 px, jittered. */
function shape(r: () => number): Point[] {
  const pts: Point[] = [];
  for (let i = 0; i < 17; i++) pts.push([12 + 2.5 * i, 30 + 20 * Math.sin((Math.PI * i) / 16)]);
  for (let i = 0; i < 10; i++) pts.push([14 + 4 * i, 20]);
  for (let i = 0; i < 9; i++) pts.push([32 + (i > 3 ? i - 6 : 0), 24 + (i < 4 ? 3 * i : 12)]);
  for (let i = 0; i < 12; i++) pts.push([i < 6 ? 18 + 2 * i : 36 + 2 * (i - 6), 25 + (i % 2)]);
  for (let i = 0; i < 20; i++) pts.push([24 + 0.8 * i, 44 + (i % 3)]);
  return pts.map(([x, y]) => [x + (r() - 0.5) * 3, y + (r() - 0.5) * 3] as Point);
}

async function fixture300W(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'pros-300w-'));
  const r = mulberry32(5);
  const layout: Record<string, number> = { afw: 8, 'helen/trainset': 6, 'helen/testset': 3, 'lfpw/testset': 2, ibug: 2, '300W/01_Indoor': 2, '300W/02_Outdoor': 1 };
  for (const [dir, n] of Object.entries(layout)) {
    mkdirSync(join(root, dir), { recursive: true });
    for (let i = 0; i < n; i++) {
      const px = Buffer.from(Array.from({ length: 64 * 64 * 3 }, () => Math.floor(r() * 256)));
      await sharp(px, { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(join(root, dir, `img_${i}.png`));
      writeFileSync(join(root, dir, `img_${i}.pts`), formatPts(shape(r)));
    }
  }
  return root;
}

test('300W: test images are tagged common, challenge or private; full is common + challenge, private apart', async (t) => {
  const root = await fixture300W();
  const d = read300W(root);
  const test = d.samples.filter((s) => s.split === 'test');
  t.is(test.length, 10);
  const count = (k: string) => test.filter((s) => s.subset === k).length;
  t.deepEqual([count('common'), count('challenge'), count('private')], [5, 2, 3]);
  t.true(d.samples.filter((s) => s.split === 'train').every((s) => s.subset === undefined));
  const groups = testGroups('300w', test);
  t.deepEqual(groups.map((g) => [g.dataset, g.idx.length]), [['300w/common', 5], ['300w/challenge', 2], ['300w/full', 7], ['300w/private', 3]]);
  // A dataset with no subsets keeps one group under its own name.
  t.deepEqual(testGroups('wflw', [{}, {}]).map((g) => g.dataset), ['wflw']);

  const { tf, name } = await loadBackend('wasm', { quiet: true });
  const ws = openWorkspace(join(root, '..', `${root.split('/').pop()}-ws`));
  const r = await evaluate({ ws, tf, backend: name, task: 'landmarks', data: root, backbone: 'random', preset: 'tiny', vit: { imageSize: 32, depth: 1 }, epochs: 5 });
  t.is(r.dataset, '300w/common');
  t.deepEqual(r.subsets!.map((s) => [s.dataset, s.test]), [['300w/challenge', 2], ['300w/full', 7], ['300w/private', 3]]);
  const stored = ws.db.prepare<[], Pick<EvalRow, 'dataset'>>("SELECT DISTINCT dataset FROM evals WHERE metric = 'nme' ORDER BY dataset").all();
  t.deepEqual(stored.map((x) => x.dataset), ['300w/challenge', '300w/common', '300w/full', '300w/private']);
  // NME is a mean over faces: full is the face-weighted mean of common and challenge, with nothing of private in it.
  const nmeOf = (ds: string, run: string) => ws.db.prepare<[string, string], Pick<EvalRow, 'value'>>("SELECT value FROM evals WHERE dataset = ? AND run = ? AND metric = 'nme'").get(ds, run)!.value;
  for (const run of ['random', 'mean-shape']) {
    const full = (5 * nmeOf('300w/common', run) + 2 * nmeOf('300w/challenge', run)) / 7;
    t.true(Math.abs(nmeOf('300w/full', run) - full) < 1e-6, `${run}: full ${nmeOf('300w/full', run)} vs ${full}`);
  }
  const md = report(ws);
  for (const k of ['common', 'challenge', 'full', 'private']) t.regex(md, new RegExp(`### landmarks · 300w/${k} · linear · full`));
  ws.close();
});

test('box-diagonal NME: the dataset\'s face box where one is given, else the tight box of the true points', (t) => {
  const task = landmarksTask(68, 'box-diagonal');
  const r = mulberry32(9);
  const truth = Float32Array.from(shape(r).flat().map((v) => v / 64));
  const pred = truth.map((v, i) => (i % 2 === 0 ? v + 0.01 : v)); // every point 0.01 crop side to the right
  const region = { x: 100, y: 50, side: 200 };
  // a 120 × 160 px box in the source image: its diagonal is 200 px = 1 crop side
  const withBox = { image: 'a.png', split: 'test' as const, points: [], box: [120, 60, 120, 160] as [number, number, number, number] };
  const m = task.metrics([pred], [truth], [withBox], [region]).find((x) => x.metric === 'nme')!.value;
  t.true(Math.abs(m - 0.01) < 1e-6, `NME ${m} with the dataset's box`);
  const noBox = { image: 'a.png', split: 'test' as const, points: [] };
  const xs = Array.from(truth.filter((_, i) => i % 2 === 0)), ys = Array.from(truth.filter((_, i) => i % 2 === 1));
  const tight = Math.hypot(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
  const m2 = task.metrics([pred], [truth], [noBox], [region]).find((x) => x.metric === 'nme')!.value;
  t.true(Math.abs(m2 - 0.01 / tight) < 1e-6, `NME ${m2} with the points' tight box (diagonal ${tight})`);
  // the mean-shape baseline uses the same normaliser
  const b = task.baseline([pred], [truth], [withBox], [region]).rows.find((x) => x.metric === 'nme')!.value;
  t.true(Math.abs(b - 0.01) < 1e-6);
});
