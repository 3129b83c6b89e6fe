import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWorkspace } from '../../src/workspace.ts';
import { evalTable, meanStd, reportGroups } from '../../src/evals.ts';
import { report } from '../../training/downstream/report.ts';
import { presets } from '../../training/config.ts';

test('the report tables and the web table read the evals the same way: a re-run replaces a seed, one mean ± std', (t) => {
  const ws = openWorkspace(mkdtempSync(join(tmpdir(), 'pros-evals-')));
  const insert = ws.db.prepare(
    'INSERT INTO evals (run, task, dataset, protocol, shots, seed, metric, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  for (const [run, seed, value] of [['r1', 0, 0.5], ['r1', 1, 0.7], ['r1', 0, 0.6], ['human', 0, 0.4]] as const) {
    insert.run(run, 'expression', 'raf', 'linear', null, seed, 'accuracy', value);
  }
  insert.run('r1', 'expression', 'raf', 'linear', null, 0, 'macro_f1', 0.3);
  const cells = evalTable(ws);
  const acc = cells.find((c) => c.run === 'r1' && c.metric === 'accuracy')!;
  // Seed 0 was evaluated twice: only its latest value (0.6) counts, beside seed 1 (0.7).
  t.is(acc.seeds, 2);
  t.deepEqual({ mean: acc.mean, std: acc.std }, meanStd([0.6, 0.7]));
  const [g] = reportGroups(ws);
  t.is(g!.metric, 'accuracy');
  t.deepEqual(g!.entries.map((e) => e.run), ['r1', 'human']);
  t.is(g!.entries[0]!.mean, acc.mean);
  t.is(g!.entries[0]!.std, acc.std);
  t.deepEqual(cells.map((c) => `${c.metric}:${c.run}`), ['accuracy:human', 'accuracy:r1', 'macro_f1:r1']);
  ws.close();
});

const tmpWorkspace = () => openWorkspace(mkdtempSync(join(tmpdir(), 'pros-evals-')));
const addEval = (ws: ReturnType<typeof tmpWorkspace>) =>
  ws.db.prepare("INSERT INTO evals (run, task, dataset, protocol, shots, seed, metric, value, extra) VALUES (?, 'expression', ?, 'linear', NULL, ?, 'accuracy', ?, ?)");

test('random inits of runs with different seeds are pooled over init seeds, not replaced; old rows read as init seed 0', (t) => {
  const ws = tmpWorkspace();
  const add = addEval(ws);
  const at = (initSeed?: number) => JSON.stringify({ pseudo: false, ...(initSeed === undefined ? {} : { initSeed }) });
  // Stored before init seeds were recorded: probe seed 0 (replaced below by init seed 0's re-run) and probe seed 2.
  add.run('random', 'raf', 0, 0.1, at());
  for (const [initSeed, values] of [[0, [0.4, 0.42]], [1, [0.5, 0.52]], [2, [0.6, 0.62]]] as const) {
    values.forEach((v, seed) => add.run('random', 'raf', seed, v, at(initSeed)));
    // The no-learning floor stored with each of them is the same split and seed: one value per seed.
    values.forEach((_, seed) => add.run('majority', 'raf', seed, 0.2, at()));
  }
  add.run('random', 'raf', 2, 0.44, null);
  const pooled = [0.4, 0.42, 0.5, 0.52, 0.6, 0.62, 0.44];
  const [g] = reportGroups(ws);
  const random = g!.entries.find((e) => e.run === 'random')!;
  // The old read model kept one row per probe seed (3: init seed 2's and the old seed-2 row): the init seeds collapsed.
  t.is(random.seeds, 7);
  t.deepEqual(random.initSeeds, [0, 1, 2]);
  t.deepEqual({ mean: random.mean, std: random.std }, meanStd(pooled));
  t.is(random.about, 'same ViT, random init (init seeds 0, 1, 2)');
  t.is(g!.entries.find((e) => e.run === 'majority')!.seeds, 2);
  t.is(evalTable(ws).find((c) => c.run === 'random')!.seeds, 7, 'the web table keeps every init seed too');
  t.regex(report(ws), /\| random \| same ViT, random init \(init seeds 0, 1, 2\) \| 50\.0% ± 8\.\d% \| 7 \|/);
  ws.close();
});

test('random inits of different architectures are separate rows: neither replaces nor pools with the other', (t) => {
  const ws = tmpWorkspace();
  const add = addEval(ws);
  const tiny = 'ViT 64/8, width 192, depth 4, 3 heads, mlp ×4';
  const shallow = 'ViT 64/8, width 192, depth 2, 3 heads, mlp ×4';
  const at = (architecture: string) => JSON.stringify({ pseudo: false, initSeed: 0, architecture });
  // The same dataset, probe seed and init seed: before the architecture was part of the key the second replaced the first.
  add.run('random', 'raf', 0, 0.4, at(tiny));
  add.run('random', 'raf', 0, 0.6, at(shallow));
  add.run('random', 'raf', 1, 0.42, at(tiny));
  const [g] = reportGroups(ws);
  const rows = g!.entries.filter((e) => e.run === 'random').map((e) => [e.architecture, e.seeds, e.mean]);
  t.deepEqual(rows, [[shallow, 1, 0.6], [tiny, 2, meanStd([0.4, 0.42]).mean]]);
  t.is(g!.entries.find((e) => e.architecture === tiny)!.about, `same ViT, random init, ${tiny}`);
  t.deepEqual(evalTable(ws).filter((c) => c.run === 'random').map((c) => [c.architecture, c.seeds]), [[tiny, 2], [shallow, 1]]);
  ws.close();
});

test('linear probes at different rate schedules are never pooled; a re-run replaces; the no-learning floor is not split', (t) => {
  const ws = tmpWorkspace();
  const add = addEval(ws);
  const at = (schedule?: string) => JSON.stringify({ pseudo: false, ...(schedule ? { schedule } : {}) });
  // Stored before schedules were recorded (constant), then seed 0 re-run with the cosine decay, seed 1 not.
  add.run('r1', 'raf', 0, 0.6, at());
  add.run('r1', 'raf', 1, 0.7, at());
  add.run('majority', 'raf', 0, 0.2, at());
  add.run('r1', 'raf', 0, 0.8, at('cosine'));
  add.run('majority', 'raf', 0, 0.2, at('cosine'));
  // A run probed only before schedules were recorded, beside them: it says it used the older probe.
  add.run('r2', 'raf', 0, 0.65, at());
  const [g] = reportGroups(ws);
  const r1 = g!.entries.filter((e) => e.run === 'r1').map((e) => [e.schedule, e.seeds, e.mean, e.about.split(', ').at(-1)]);
  t.deepEqual(r1, [['cosine', 1, 0.8, 'cosine-rate probe'], ['constant', 1, 0.7, 'constant-rate probe']]);
  t.is(g!.entries.find((e) => e.run === 'r2')!.about, 'run not in this workspace, constant-rate probe');
  const floor = g!.entries.filter((e) => e.run === 'majority');
  t.deepEqual(floor.map((e) => [e.schedule, e.seeds, e.about]), [[undefined, 1, 'no learning: majority class']]);
  t.deepEqual(evalTable(ws).filter((c) => c.run === 'r1').map((c) => [c.schedule, c.seeds]), [['cosine', 1], ['constant', 1]]);
  ws.close();
});

test('runs that differ only by training seed are one report row over every training × probe seed; leakage noted once', (t) => {
  const ws = tmpWorkspace();
  const addRun = ws.db.prepare("INSERT INTO runs (name, data, config, backend, status, step) VALUES (?, ?, ?, 'wasm', 'done', ?)");
  // A recipe with the iBOT, dense and position terms off, so that a config stored before they existed (no ibot or
  // position key: all off) is the same.
  const base = { ...presets.tiny!, ibot: { ...presets.tiny!.ibot, weight: 0, denseWeight: 0, denseLocals: false }, position: { ...presets.tiny!.position, weight: 0 } };
  const config = (over: object) => JSON.stringify({ ...base, ...over });
  addRun.run('r6', 'curated/people', config({ seed: 0 }), 12);
  addRun.run('r6s1b', 'curated/people', config({ seed: 1 }), 12);
  // Stored before the iBOT and position terms existed: their defaults make it the same recipe.
  const { ibot: _, position: __, ...old } = { ...base, seed: 2 };
  addRun.run('r6s2', 'curated/people', JSON.stringify(old), 12);
  addRun.run('r6long', 'curated/people', config({ seed: 3 }), 24); // longer
  addRun.run('r6other', 'curated/others', config({ seed: 4 }), 12); // other data
  addRun.run('r6proto', 'curated/people', config({ seed: 5, distill: { ...base.distill, enabled: false } }), 12); // other recipe
  const leak = (overlaps: number) => ({
    checked: true, method: 'dhash+thumbnail', maxDistance: 6, minCorrelation: 0.88, pretraining: 'curated/people', trainImages: 50, testImages: 20,
    overlaps: Array.from({ length: overlaps }, (_, i) => ({ test: `t${i}.png`, train: `p${i}.png`, distance: 3 })),
  });
  const add = addEval(ws);
  const values: Record<string, [number, number]> = { r6: [0.5, 0.52], r6s1b: [0.54, 0.56], r6s2: [0.6, 0.58], r6long: [0.7, 0.7], r6other: [0.3, 0.3], r6proto: [0.4, 0.4] };
  for (const [run, vs] of Object.entries(values)) {
    vs.forEach((v, seed) => add.run(run, 'raf', seed, v, JSON.stringify({ leakage: leak(run === 'r6s2' ? 1 : 0) })));
  }
  // Another setting where the seed-0 run was not evaluated, and one where only one run of the recipe was.
  add.run('r6s1b', 'affectnet', 0, 0.3, null);
  add.run('r6s2', 'affectnet', 0, 0.34, null);
  add.run('r6s2', 'celeba', 0, 0.8, null);

  const groups = reportGroups(ws);
  const raf = groups.find((g) => g.dataset === 'raf')!;
  const r6 = raf.entries.find((e) => e.run === 'r6')!;
  t.deepEqual(r6.runs, ['r6', 'r6s1b', 'r6s2']);
  t.is(r6.seeds, 6);
  t.deepEqual({ mean: r6.mean, std: r6.std }, meanStd([...values.r6!, ...values.r6s1b!, ...values.r6s2!]));
  t.is(r6.leakage?.overlaps?.length, 1, 'the pooled row shows the check that found an overlap');
  t.deepEqual(raf.entries.map((e) => e.run).sort(), ['r6', 'r6long', 'r6other', 'r6proto']);
  for (const run of ['r6long', 'r6other', 'r6proto']) t.is(raf.entries.find((e) => e.run === run)!.seeds, 2, run);
  const affectnet = groups.find((g) => g.dataset === 'affectnet')!;
  t.deepEqual(affectnet.entries.map((e) => [e.run, e.runs, e.seeds]), [['r6s1b', ['r6s1b', 'r6s2'], 2]]);
  t.deepEqual(groups.find((g) => g.dataset === 'celeba')!.entries.map((e) => [e.run, e.runs]), [['r6s2', undefined]]);

  const md = report(ws);
  t.regex(md, /\| r6 \(3 seeds: r6, r6s1b, r6s2\) \| distill \+ proto, tiny ViT, 12 steps on people \(wasm, done\) \| 55\.0% ± 3\.\d% \| 6 \|/);
  t.regex(md, /\| r6s1b \(2 seeds: r6s1b, r6s2\) \|/);
  // One overlap note per row: the pooled recipe once, and each run of its own.
  const notes = md.split('\n').filter((l) => l.startsWith('Test split vs '));
  t.deepEqual(notes.map((l) => l.split("'s pre-training set")[0]).sort(), [
    'Test split vs r6 (3 seeds: r6, r6s1b, r6s2)', 'Test split vs r6long', 'Test split vs r6other', 'Test split vs r6proto',
  ]);
  t.regex(notes.find((l) => l.includes('r6 (3 seeds'))!, /1 of 20 test images overlap the pre-training set/);

  // A model card shows its own run, not the recipe.
  const own = reportGroups(ws, [], { poolSeeds: false }).find((g) => g.dataset === 'raf')!;
  t.deepEqual(own.entries.map((e) => [e.run, e.seeds]).sort(), [['r6', 2], ['r6long', 2], ['r6other', 2], ['r6proto', 2], ['r6s1b', 2], ['r6s2', 2]]);
  ws.close();
});
