// The synthetic face generator: every layout it writes loads with the public-benchmark readers, labels agree across
// files, and landmarks follow the face when it is posed.
import test from 'ava';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { synthesize } from '../../training/downstream/synth/write.ts';
import { drawFace } from '../../training/downstream/synth/faces.ts';
import { landmarks68, placePoints, DEFAULT_VIEW } from '../../training/downstream/synth/render.ts';
import { mulberry32 } from '../../training/downstream/synth/rng.ts';
import { readCelebA } from '../../training/downstream/readers/celeba.ts';
import { readRafDb } from '../../training/downstream/readers/rafdb.ts';
import { read300W } from '../../training/downstream/readers/pts300w.ts';

test('pros synth writes CelebA, RAF-DB, 300W and curated-set layouts that the readers load', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'pros-synth-')), 'set');
  const s = await synthesize({ out, count: 30, size: 48, seed: 5 });
  t.is(s.train + s.test, 30);
  const celeba = readCelebA(out);
  const raf = readRafDb(out);
  const pts = read300W(out);
  t.is(celeba.samples.length, 30);
  t.is(raf.samples.length, 30);
  t.is(pts.samples.length, 30, 'the img_align_celeba link is not walked twice');
  t.is(pts.points, 68);
  // The same image carries all three labels, and the splits agree.
  t.deepEqual(new Set(celeba.samples.map((x) => x.image)), new Set(raf.samples.map((x) => x.image).map((p) => p.replace('Image/aligned', 'img_align_celeba'))));
  t.is(raf.samples.filter((x) => x.split === 'test').length, s.test);
  t.is(celeba.samples.filter((x) => x.split === 'test').length, s.test);
  // Counts in set.json match the label files.
  const smiling = celeba.names.indexOf('Smiling');
  t.is(celeba.samples.filter((x) => x.labels[smiling] === 1).length, s.attributes.Smiling);
  t.is(raf.samples.filter((x) => raf.classes[x.label] === 'Happiness').length, s.expressions.Happiness ?? 0);
  t.is(s.attributes.Smiling, s.expressions.Happiness ?? 0, 'Smiling is the Happiness expression');
  // Images are the asked size; landmarks lie on the image (the chin may touch the lower edge after a shift).
  const meta = await sharp(raf.samples[0]!.image).metadata();
  t.deepEqual([meta.width, meta.height], [48, 48]);
  const all = pts.samples.flatMap((x) => x.points);
  t.true(all.every(([px, py]) => px > -2 && px < 50 && py > -2 && py < 53));
  t.true(all.filter(([px, py]) => px >= 0 && px <= 48 && py >= 0 && py <= 48).length / all.length > 0.98);
  // The curated-set contract, train split only.
  const manifest = readFileSync(join(out, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.is(manifest.length, s.train);
  t.true(manifest.every((m) => existsSync(join(out, m.path)) && m.landmarks.length === 68));
  t.is(JSON.parse(readFileSync(join(out, 'set.json'), 'utf8')).kind, 'synthetic');
});

test('68-point geometry: eyes above the nose above the mouth, left before right, and the eye line turns with the pose', async (t) => {
  const rng = mulberry32(11);
  for (let k = 0; k < 3; k++) {
    const { face } = drawFace(rng);
    const p = await landmarks68(face, 200);
    const meanY = (a: number, b: number) => p.slice(a, b + 1).reduce((s, q) => s + q[1], 0) / (b - a + 1);
    t.true(meanY(17, 26) < meanY(36, 47), 'brows above eyes');
    t.true(meanY(36, 47) < p[30]![1], 'eyes above the nose tip');
    t.true(p[30]![1] < meanY(48, 59), 'nose above the mouth');
    t.true(meanY(48, 59) < p[8]![1], 'mouth above the chin');
    t.true(p[36]![0] < p[39]![0] && p[39]![0] < p[42]![0] && p[42]![0] < p[45]![0], 'eye corners left to right');
    t.true(p[0]![0] < p[8]![0] && p[8]![0] < p[16]![0], 'jaw left to right');
    const angle = (q: typeof p) => (Math.atan2(q[45]![1] - q[36]![1], q[45]![0] - q[36]![0]) * 180) / Math.PI;
    const placed = placePoints(p, 200, DEFAULT_VIEW, { angle: 10, zoom: 1.05, dx: 0.02, dy: -0.01 });
    t.true(Math.abs(angle(placed) - angle(p) - 10) < 1e-6);
  }
});
