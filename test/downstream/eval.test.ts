// End to end on synthetic faces: a briefly trained mini ViT, linear probes and a few-shot fine-tune, baselines in
// the same table, results in the evals table and the report.
import test from 'ava';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { loadBackend } from '../../src/backend.ts';
import { openWorkspace } from '../../src/workspace.ts';
import { train } from '../../training/launcher.ts';
import { synthesize } from '../../training/downstream/synth/write.ts';
import { evaluate } from '../../training/downstream/evaluate.ts';
import { report } from '../../training/downstream/report.ts';
import { reportGroups } from '../../src/evals.ts';
import type { EvalRow } from '../../src/contracts/rows.ts';

const root = mkdtempSync(join(tmpdir(), 'pros-eval-'));
const data = join(root, 'synth');
const wsDir = join(root, 'ws');
const SIZE = 48;
// A mini ViT so the whole file stays well under a minute on two cores.
const mini = {
  steps: 12, batchSize: 16, workers: 1,
  vit: { imageSize: SIZE, depth: 2, width: 96, heads: 2 },
  views: { globalSize: SIZE, localSize: 16, locals: 2 },
  head: { hidden: 256, bottleneck: 64, outputs: 256 },
  proto: { count: 64 },
};

const ready = (async () => {
  await synthesize({ out: data, count: 600, size: SIZE, seed: 1 });
  const s = await train({ data, run: 'mini', workspace: wsDir, backend: 'wasm', quiet: true, config: 'tiny', overrides: mini });
  if (s.status !== 'done') throw new Error(`training failed: ${s.error}`);
  const { tf, name } = await loadBackend('wasm', { quiet: true });
  return { tf, backend: name, ws: openWorkspace(wsDir) };
})();

test.serial('expression: a linear probe on the trained backbone beats chance by a clear margin', async (t) => {
  const { tf, backend, ws } = await ready;
  const r = await evaluate({ ws, tf, backend, task: 'expression', data, run: 'mini', features: 'patches' });
  t.is(r.dataset, 'synthetic-rafdb:synth');
  t.is(r.test, 120);
  // 5 drawable expressions: chance is 20%; the majority class of this test split is the baseline row.
  t.true(r.mean > 0.3, `accuracy ${r.mean}`);
  t.true(r.mean > r.baseline.mean + 0.05, `accuracy ${r.mean} vs majority ${r.baseline.mean}`);
  const recalls = r.rows.filter((x) => x.run === 'mini' && x.metric.startsWith('recall:'));
  t.is(recalls.length, 5);
  // The shipped default: the probe's rate decays to 0 (cosine), and the rows say so.
  const extra = ws.db.prepare<[], string>("SELECT extra FROM evals WHERE run = 'mini' AND task = 'expression'").pluck().get()!;
  t.is(JSON.parse(extra).schedule, 'cosine');
});

test.serial('landmarks: the patch-token head beats the mean-shape baseline', async (t) => {
  const { tf, backend, ws } = await ready;
  const r = await evaluate({ ws, tf, backend, task: 'landmarks', data, run: 'mini' });
  t.is(r.baseline.name, 'mean-shape');
  t.true(r.mean < r.baseline.mean, `NME ${r.mean} vs mean shape ${r.baseline.mean}`);
  t.true(r.mean > 0 && r.mean < 0.2);
  // The run's pre-training set (synth's train split) is checked against the test split and stored with the rows.
  t.true(r.leakage.checked);
  t.is(r.leakage.trainImages, 480);
  t.is(r.leakage.testImages, 120);
  t.deepEqual(r.leakage.overlaps, [], "different drawn faces are not taken for copies");
  const extra = JSON.parse(ws.db.prepare<[], Pick<EvalRow, 'extra'>>("SELECT extra FROM evals WHERE run = 'mini' AND task = 'landmarks'").get()!.extra!);
  t.deepEqual(extra.leakage, r.leakage);
  t.regex(report(ws), /Test split vs mini's pre-training set: no overlap with the pre-training set found \(dHash ≤ 6, thumbnail correlation ≥ 0.88; 120 test images against 480 pre-training crops\)/);
  const rnd = await evaluate({ ws, tf, backend, task: 'landmarks', data, run: 'mini', backbone: 'random', epochs: 1, maxTrain: 20 });
  t.false(rnd.leakage.checked);
});

test.serial('few-shot fine-tune over seeds, attributes with the random-init baseline, and the report', async (t) => {
  const { tf, backend, ws } = await ready;
  const ft = await evaluate({ ws, tf, backend, task: 'expression', data, run: 'mini', protocol: 'finetune', shots: 3, seeds: 2, epochs: 2 });
  t.is(ft.seeds, 2);
  t.is(ft.train, 480);
  const seeds = new Set(ft.rows.filter((r) => r.run === 'mini').map((r) => r.seed));
  t.deepEqual([...seeds], [0, 1]);
  t.true(Number.isFinite(ft.std));
  const ftExtra = ws.db.prepare<[], string>("SELECT extra FROM evals WHERE run = 'mini' AND protocol = 'finetune'").pluck().get()!;
  t.false('schedule' in JSON.parse(ftExtra), 'a fine-tune trains no linear probe');
  const attr = await evaluate({ ws, tf, backend, task: 'attributes', data, run: 'mini', backbone: 'random', maxTrain: 200, epochs: 20 });
  t.is(attr.run, 'random');
  t.true(attr.rows.some((r) => r.metric === 'accuracy:Eyeglasses'));
  const stored = ws.db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM evals WHERE run = 'mini' AND protocol = 'finetune' AND shots = 3").get()!;
  t.is(stored.n, ft.rows.filter((r) => r.run === 'mini').length);
  const md = report(ws);
  t.regex(md, /### expression · synthetic-rafdb:synth · finetune · 3-shot/);
  t.regex(md, /\| mini \| distill \+ proto \+ dense with locals \+ position, tiny ViT, 12 steps on synth/);
  t.regex(md, /\| random \| same ViT, random init/);
  t.regex(md, /\| majority \|/);
  t.regex(md, /\| mean-shape \|/);
  const g = reportGroups(ws).find((x) => x.task === 'landmarks')!;
  t.true(g.lowerIsBetter);
});

test.serial('pros eval on a malformed annotation file exits 2 naming the file and line', (t) => {
  const bad = join(root, 'bad');
  mkdirSync(join(bad, 'EmoLabel'), { recursive: true });
  mkdirSync(join(bad, 'Image/aligned'), { recursive: true });
  writeFileSync(join(bad, 'EmoLabel/list_patition_label.txt'), 'train_00001.jpg 4\ntrain_00002.jpg happy\n');
  const r = spawnSync('node', ['bin/pros.js', 'eval', 'expression', '--data', bad, '--backbone', 'random', '-w', wsDir, '--backend', 'cpu', '-q'], { encoding: 'utf8' });
  t.is(r.status, 2);
  t.regex(r.stderr, /list_patition_label\.txt:2: expected "<file> <label 1-7>"/);
  const help = execFileSync('node', ['bin/pros.js', 'eval', '--help'], { encoding: 'utf8' });
  t.regex(help, /--protocol <p>/);
});

test.serial('two runs that differ only by seed: their random inits both stay, and the report pools each over seeds', async (t) => {
  const { tf, backend, ws } = await ready;
  const s = await train({ data, run: 'mini-s1', workspace: wsDir, backend: 'wasm', quiet: true, config: 'tiny', overrides: { ...mini, seed: 1 } });
  t.is(s.status, 'done');
  // A setting of its own (5-shot), so the other tests' rows do not mix in.
  const quick = { ws, tf, backend, task: 'landmarks', data, shots: 5, seeds: 2, epochs: 2, maxTest: 20 } as const;
  for (const run of ['mini', 'mini-s1']) {
    await evaluate({ ...quick, run });
    await evaluate({ ...quick, run, backbone: 'random' });
  }
  const initSeeds = ws.db.prepare<[], string>("SELECT extra FROM evals WHERE run = 'random' AND shots = 5 AND metric = 'nme'").pluck().all()
    .map((e) => (JSON.parse(e) as { initSeed?: number }).initSeed);
  t.deepEqual(initSeeds, [0, 0, 1, 1]);
  const g = reportGroups(ws).find((x) => x.task === 'landmarks' && x.shots === 5)!;
  const random = g.entries.find((e) => e.run === 'random')!;
  t.deepEqual([random.seeds, random.initSeeds], [4, [0, 1]], 'both random inits survive, two probe seeds each');
  // The random rows name the ViT they initialised: the run's own shape.
  t.is(random.architecture, `ViT ${SIZE}/8, width 96, depth 2, 2 heads, mlp ×4`);
  const pooled = g.entries.find((e) => e.run === 'mini')!;
  t.deepEqual([pooled.seeds, pooled.runs], [4, ['mini', 'mini-s1']]);
  const md = report(ws);
  t.regex(md, /\| mini \(2 seeds: mini, mini-s1\) \| distill \+ proto \+ dense with locals \+ position, tiny ViT, 12 steps on synth .*\| 4 \|/);
  t.regex(md, /\| random \| same ViT, random init \(init seeds 0, 1\) \| [\d.]+% ± [\d.]+% \| 4 \|/);
  t.is(md.split('\n').filter((l) => l.startsWith("Test split vs mini (2 seeds: mini, mini-s1)'s pre-training set")).length, 1);
});
