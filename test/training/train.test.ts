// Training end to end on a small real-photo set with the tiny preset scaled down: the loss falls, nothing collapses,
// resume is exact, data-parallel equals the full batch, and bad input gets a clear error.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackend } from '../../src/backend.ts';
import { openWorkspace } from '../../src/workspace.ts';
import { decode, makeViews } from '../../training/augment.ts';
import { resolveTrainConfig } from '../../training/config.ts';
import { InputError } from '../../src/errors.ts';
import { train } from '../../training/launcher.ts';
import { DataParallel } from '../../training/parallel/pool.ts';
import { derive } from '../../training/rng.ts';
import { buildSchedules } from '../../training/schedule.ts';
import { buildModel, modelTensors, trainStep, type StepMetrics } from '../../training/trainer.ts';
import { collapseSigns } from '../../training/metrics.ts';
import { resolveBackbone, loadBackbone } from '../../training/backbone.ts';
import { loadCheckpoint } from '../../training/checkpoint.ts';
import { makeSet, testOverrides } from './_fixtures.ts';
import type { RunRow } from '../../src/contracts/rows.ts';

const root = mkdtempSync(join(tmpdir(), 'pros-train-'));
const data = await makeSet(join(root, 'set'), 32);
// Constant teacher temperature and no lr warm-up, so that a short run's loss trend is the learning's alone.
// Sinkhorn targets: with sharpened targets this 32-crop set's teacher assignments fall onto one prototype after
// ~10 steps at this lr (see docs/training.md); the balanced targets keep the check about learning, not that.
const short = {
  ...testOverrides,
  optim: { baseLr: 0.05, warmupFraction: 0 },
  distill: { warmupTeacherTemp: 0.07 },
  proto: { count: 16, target: 'sinkhorn' },
};

test.serial('a short tuned run learns: loss goes down, finite, prototypes in use; metrics recorded', async (t) => {
  const ws = join(root, 'ws-short');
  const losses: number[] = [];
  const s = await train({ data, run: 'short', workspace: ws, quiet: true, overrides: { ...short, steps: 24 }, onStep: (m) => losses.push(m.loss) });
  t.is(s.status, 'done');
  t.is(s.step, 24);
  t.true(losses.every(Number.isFinite));
  const first = (losses[0] + losses[1] + losses[2]) / 3;
  const last = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
  t.true(last < first, `loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
  t.true(s.last!.protosUsed > 1, `prototypes used ${s.last!.protosUsed}`);
  t.true(s.last!.teacherEntropy > 0.05 * Math.log(64), `teacher entropy ${s.last!.teacherEntropy}`);
  const lines = readFileSync(s.metricsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines.length, 24);
  for (const key of ['distill', 'proto', 'lr', 'momentum', 'teacherTemp', 'teacherEntropy', 'teacherStudentKl', 'protosUsed', 'protosUsedStudent', 'featureStd', 'imgPerSec']) {
    t.true(key in lines[23], key);
  }
  const w = openWorkspace(ws);
  t.is(w.db.prepare<[string], { n: number }>('SELECT count(*) n FROM metrics WHERE run = ?').get('short')!.n, 24);
  t.is(w.db.prepare<[string], Pick<RunRow, 'status'>>('SELECT status FROM runs WHERE name = ?').get('short')!.status, 'done');
  w.close();
  // The saved teacher loads as a backbone.
  const { tf } = await loadBackend('wasm', { quiet: true });
  const bb = await loadBackbone(resolveBackbone('short', join(ws, 'runs')), tf);
  const out = bb.forward(bb.normalise(tf.zeros([2, 32, 32, 3])));
  t.deepEqual(out.cls.shape, [2, 64]);
  t.deepEqual(out.patches.shape, [2, 16, 64]);
  bb.dispose();
});

// The shipped `tiny` preset as it is (no tuned lr, sharpened targets, its own head and views): only the run's length
// and how it executes (one thread, the wasm backend) are set. Collapse shows in the metrics the trainer watches, from
// collapse.afterFraction of the run on: one output dominating (teacher entropy near 0), a flat output (entropy at
// log K with the teacher–student KL near 0), one prototype taking every image, or features all alike. Measured here
// (8 steps): entropy 7.97–8.02 of log K 8.32, KL 0.29–0.38, 8–18 prototypes in use, feature std × √width 0.75–0.80.
test.serial('nothing collapses on the shipped tiny defaults: the collapse signals the trainer logs stay clear', async (t) => {
  const cfg = resolveTrainConfig('tiny');
  const logK = Math.log(cfg.head.outputs);
  const steps = 8;
  const seen: StepMetrics[] = [];
  const s = await train({ data, run: 'tiny', workspace: join(root, 'ws-tiny'), config: 'tiny', quiet: true, overrides: { steps, workers: 1, backend: 'wasm' }, onStep: (m) => seen.push(m) });
  t.is(s.status, 'done');
  t.is(seen.length, steps);
  const saved = JSON.parse(readFileSync(join(s.runDir, 'config.json'), 'utf8'));
  t.deepEqual({ ...saved, steps: 0, workers: 0, backend: 'auto' }, cfg, 'the run used the preset unchanged');
  t.true(seen.every((m) => Number.isFinite(m.loss)));
  t.deepEqual(s.warnings, [], 'the trainer logged no collapse warning');
  for (const m of seen.filter((x) => x.step >= cfg.collapse.afterFraction * steps)) {
    const at = `step ${m.step}`;
    t.is(collapseSigns(m, cfg), null, at);
    t.true(m.teacherEntropy > cfg.collapse.minEntropyRatio * logK, `${at}: teacher entropy ${m.teacherEntropy} (one output dominates)`);
    t.true(m.teacherEntropy < cfg.collapse.maxEntropyRatio * logK, `${at}: teacher entropy ${m.teacherEntropy} at the uniform maximum ${logK}`);
    t.true(m.teacherStudentKl > 100 * cfg.collapse.minKl, `${at}: teacher–student KL ${m.teacherStudentKl}`);
    t.true(m.protosUsed > 1 && m.protosUsedStudent > 1, `${at}: prototypes in use ${m.protosUsed} / ${m.protosUsedStudent}`);
    t.true(m.featureStd * Math.sqrt(cfg.vit.width) > cfg.collapse.minFeatureStd, `${at}: feature std ${m.featureStd}`);
  }
});

test.serial('checkpoint then resume: the next steps equal the uninterrupted run', async (t) => {
  const ws = join(root, 'ws-resume');
  const full: number[] = [];
  await train({ data, run: 'full', workspace: ws, quiet: true, overrides: { ...short, steps: 6 }, onStep: (m) => full.push(m.loss) });
  const ac = new AbortController();
  const first = await train({
    data, run: 'cut', workspace: ws, quiet: true, overrides: { ...short, steps: 6 }, signal: ac.signal,
    onStep: (m) => m.step === 2 && ac.abort(),
  });
  t.is(first.status, 'stopped');
  t.is(first.step, 3);
  const rest: number[] = [];
  const second = await train({ data, run: 'cut', workspace: ws, quiet: true, resume: true, onStep: (m) => rest.push(m.loss) });
  t.is(second.status, 'done');
  t.is(second.startStep, 3);
  t.is(rest.length, 3);
  for (let i = 0; i < 3; i++) t.true(Math.abs(rest[i] - full[3 + i]) < 1e-4, `step ${3 + i}: ${rest[i]} vs ${full[3 + i]}`);
  const jsonl = readFileSync(join(ws, 'runs', 'cut', 'metrics.jsonl'), 'utf8').trim().split('\n');
  t.deepEqual(jsonl.map((l) => JSON.parse(l).step), [0, 1, 2, 3, 4, 5]);
});

test.serial('resume with two workers and drop-path on: every parameter, Adam moment and step count, the centre and the next losses are bit for bit those of the uninterrupted run', async (t) => {
  const ws = join(root, 'ws-resume-dp');
  // The iBOT term on too: its mask token and patch centre must come back exactly.
  const o = { ...short, steps: 5, workers: 2, vit: { ...short.vit, dropPath: 0.2 }, ibot: { weight: 1 } };
  const full: number[] = [];
  const a = await train({ data, run: 'full', workspace: ws, quiet: true, overrides: o, onStep: (m) => full.push(m.loss) });
  t.is(a.status, 'done');
  const ac = new AbortController();
  const first = await train({ data, run: 'cut', workspace: ws, quiet: true, overrides: o, signal: ac.signal, onStep: (m) => m.step === 1 && ac.abort() });
  t.is(first.status, 'stopped');
  const rest: number[] = [];
  const second = await train({ data, run: 'cut', workspace: ws, quiet: true, resume: true, onStep: (m) => rest.push(m.loss) });
  t.is(second.status, 'done');
  t.is(second.startStep, first.step);
  t.deepEqual(rest, full.slice(first.step), 'the losses after the resume, exactly');
  const [x, y] = [loadCheckpoint(join(ws, 'runs', 'full')).tensors, loadCheckpoint(join(ws, 'runs', 'cut')).tensors];
  t.deepEqual([...y.keys()].sort(), [...x.keys()].sort());
  t.true([...x.keys()].some((k) => k.startsWith('adam.m.')) && x.has('centre') && x.has('centre.ibot') && x.has('student.ibot.mask'));
  const differ = [...x].filter(([k, v]) => !Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).equals(
    Buffer.from(y.get(k)!.data.buffer, y.get(k)!.data.byteOffset, y.get(k)!.data.byteLength)));
  t.deepEqual(differ.map(([k]) => k), [], 'tensors that differ after the resume');
});

const dataParallel = test.macro(async (t, denseTarget: 'patch' | 'bilinear', denseLocals = false, position = false) => {
  // Drop-path, the iBOT masks and the dense pairs on: their decisions are drawn for the global batch, so they agree too.
  const cfg = resolveTrainConfig('tiny', {
    ...testOverrides, workers: 2, vit: { ...testOverrides.vit, dropPath: 0.2 }, ibot: { weight: 1, pixelWeight: 1, denseWeight: 1, denseTarget, denseLocals },
    position: { weight: position ? 1 : 0, grid: 4, globals: true },
  });
  const sched = buildSchedules(cfg, 32);
  const files = readFileSync(join(data, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => join(data, JSON.parse(l).path));
  const images = await Promise.all(files.slice(0, 8).map(decode));
  const { tf } = await loadBackend('wasm', { quiet: true });
  const model = buildModel(tf, cfg);
  const dp = await DataParallel.start(cfg, 2, 32);
  const live: number[] = [];
  try {
    for (const step of [0, 1]) {
      const views = makeViews(images, cfg.views, derive(cfg.seed, 'views', step));
      const grads = new Map<string, Float32Array>();
      const m = trainStep(tf, model, cfg, sched, step, { ...views, globals: views.globals.slice(), locals: views.locals.slice(), boxes: views.boxes.slice() }, undefined, { grads });
      live.push(tf.memory().numTensors);
      const [w0, w1] = await dp.stepDebug(step, views);
      t.true(Math.abs(m.loss - w0.metrics.loss) < 1e-4, `loss ${m.loss} vs ${w0.metrics.loss}`);
      let worst = 0;
      for (const [name, g] of grads) {
        const d = w0.grads.get(name)!;
        const scale = g.reduce((a, x) => Math.max(a, Math.abs(x)), 1e-6);
        for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - d[i]) / scale);
        t.deepEqual(w0.grads.get(name), w1.grads.get(name));
      }
      t.true(worst < 1e-3, `step ${step}: worst relative gradient difference ${worst}`);
      t.true(m.ibot > 0 && grads.get('ibot.mask')!.some((x) => x !== 0), 'the iBOT term trains the mask token');
      t.true(m.pixel > 0 && grads.get('ibot.pixel.w')!.some((x) => x !== 0), 'the masked-pixel target trains its decoder');
      t.true(m.dense > 0, 'the dense term is on');
      if (position) t.true(m.position > 0 && grads.get('position.w')!.some((x) => x !== 0), 'the position term trains its classifier');
    }
    t.is(live[1], live[0], 'a step leaves no tensors behind');
    const [a, b] = await Promise.all([dp.tensors(0), dp.tensors(1)]);
    for (const [name, x] of a) t.deepEqual(x.data, b.get(name)!.data, name);
    const local = await modelTensors(model);
    const diff = Math.max(...Array.from(local.get('teacher.vit.patch.w')!.data, (v, i) => Math.abs(v - a.get('teacher.vit.patch.w')!.data[i])));
    t.true(diff < 1e-4, `teacher drift ${diff}`);
  } finally {
    await dp.close();
  }
});

test.serial('data-parallel: averaged gradients equal the full batch, workers stay bitwise identical', dataParallel, 'patch');
test.serial('data-parallel with the dense term read between patches (bilinear) and the local crops in it: the same equality', dataParallel, 'bilinear', true);
test.serial('data-parallel with the patch position term over the local and the global crops: the same equality', dataParallel, 'patch', true, true);

test.serial('a non-finite loss stops the run with a clear message and keeps the last good checkpoint', async (t) => {
  const ws = join(root, 'ws-nan');
  // An absurd learning rate without clipping blows the weights up within a few steps.
  const overrides = { ...testOverrides, steps: 8, checkpointEvery: 1, optim: { baseLr: 1e9, warmupFraction: 0, clipGrad: 0 } };
  const s = await train({ data, run: 'nan', workspace: ws, quiet: true, overrides });
  t.is(s.status, 'failed');
  t.regex(s.error!, /loss is (NaN|Infinity|-Infinity) at step \d+.*last good checkpoint is kept/);
  t.true(s.step < 8);
  const state = JSON.parse(readFileSync(join(ws, 'runs', 'nan', 'checkpoint', 'state.json'), 'utf8'));
  t.is(state.step, s.step);
  t.true(Number.isFinite(state.lastLoss));
  const w = openWorkspace(ws);
  t.is(w.db.prepare<[string], Pick<RunRow, 'status'>>('SELECT status FROM runs WHERE name = ?').get('nan')!.status, 'failed');
  w.close();
});

test.serial('CLI: a JSON config file over the preset; Ctrl-C saves a checkpoint and stops; a rerun without --resume is refused', async (t) => {
  const ws = join(root, 'ws-cli');
  const cfgFile = join(root, 'train.json');
  writeFileSync(cfgFile, JSON.stringify({ ...testOverrides, steps: 400 }));
  const args = ['bin/pros.js', 'train', '--data', data, '--run', 'cli', '-w', ws, '--config', cfgFile];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const metrics = join(ws, 'runs', 'cli', 'metrics.jsonl');
  const started = Date.now();
  while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 3) && Date.now() - started < 60_000) {
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  t.is(code, 130, stderr);
  t.regex(stderr, /interrupted: saving a checkpoint/);
  const state = JSON.parse(readFileSync(join(ws, 'runs', 'cli', 'checkpoint', 'state.json'), 'utf8'));
  t.true(state.step >= 3 && state.step < 400, `stopped at ${state.step}`);
  const saved = JSON.parse(readFileSync(join(ws, 'runs', 'cli', 'config.json'), 'utf8'));
  t.is(saved.vit.width, 64);
  // Resuming with a shorter total is refused rather than silently changing the schedules.
  const again = spawnSync(process.execPath, ['bin/pros.js', 'train', '--data', data, '--run', 'cli', '-w', ws], { encoding: 'utf8' });
  t.is(again.status, 2);
  t.regex(again.stderr, /already exists.*--resume/);
});

test.serial('bad input: missing or empty manifest, missing crops, bad config key, a clear error each', async (t) => {
  const ws = join(root, 'ws-bad');
  const run = (d: string, overrides: object = testOverrides) => train({ data: d, run: 'bad', workspace: ws, quiet: true, overrides });
  await t.throwsAsync(run(join(root, 'nowhere')), { message: /no such curated set/ });
  const noManifest = join(root, 'no-manifest');
  mkdirSync(noManifest, { recursive: true });
  await t.throwsAsync(run(noManifest), { message: /no manifest\.jsonl/ });
  const empty = join(root, 'empty');
  mkdirSync(empty, { recursive: true });
  writeFileSync(join(empty, 'manifest.jsonl'), '\n');
  await t.throwsAsync(run(empty), { message: /manifest is empty/ });
  const holes = join(root, 'holes');
  mkdirSync(holes, { recursive: true });
  writeFileSync(join(holes, 'manifest.jsonl'), readFileSync(join(data, 'manifest.jsonl')));
  await t.throwsAsync(run(holes), { message: /32 of 32 crops are missing on disk/ });
  await t.throwsAsync(run(data, { ...testOverrides, optim: { learningRate: 1 } }), { message: /unknown key "optim\.learningRate"/ });
  await t.throwsAsync(train({ data, run: 'bad', workspace: ws, config: 'huge' }), { message: /neither a preset/ });
  // From the CLI: one line on stderr, exit code 2.
  const cli = spawnSync(process.execPath, ['bin/pros.js', 'train', '--data', empty, '--run', 'bad', '-w', ws], { encoding: 'utf8' });
  t.is(cli.status, 2);
  t.regex(cli.stderr, /manifest is empty/);
  t.false(existsSync(join(ws, 'runs', 'bad', 'checkpoint')));
});

test.serial('CLI: -c is the pros config file: pros train reads its train section and workspace; bad keys name their path', async (t) => {
  const ws = join(root, 'ws-pros-config');
  const file = join(root, 'pros.json');
  writeFileSync(file, JSON.stringify({ workspace: ws, train: { ...testOverrides, steps: 2 }, eval: { batch: 16 } }));
  const ok = spawnSync(process.execPath, ['bin/pros.js', 'train', '--data', data, '--run', 'pc', '-c', file, '--json'], { encoding: 'utf8' });
  t.is(ok.status, 0, ok.stderr);
  const saved = JSON.parse(readFileSync(join(ws, 'runs', 'pc', 'config.json'), 'utf8'));
  t.is(saved.steps, 2);
  t.is(saved.vit.width, 64);
  t.is(saved.preset, 'tiny');
  const bad = join(root, 'pros-bad.json');
  writeFileSync(bad, JSON.stringify({ workspace: ws, train: { vit: { widht: 64 } } }));
  const refused = spawnSync(process.execPath, ['bin/pros.js', 'train', '--data', data, '--run', 'pc2', '-c', bad], { encoding: 'utf8' });
  t.is(refused.status, 2);
  t.regex(refused.stderr, /unknown key "train\.vit\.widht"/);
  // A bare training config (the older form) is still taken; one that mixes both forms is refused.
  const bareFile = join(root, 'bare.json');
  writeFileSync(bareFile, JSON.stringify({ ...testOverrides, steps: 2 }));
  t.is(resolveTrainConfig(bareFile).vit.width, 64);
  const mixed = join(root, 'mixed.json');
  writeFileSync(mixed, JSON.stringify({ fetch: { retries: 1 }, vit: { width: 64 } }));
  t.throws(() => resolveTrainConfig(mixed), { instanceOf: InputError, message: /mixes training keys \(vit\) with pros config keys \(fetch\)/ });
});

test.serial('--resume refuses a corrupt or foreign stored config with a clear InputError', async (t) => {
  const ws = join(root, 'ws-stored');
  await train({ data, run: 'stored', workspace: ws, quiet: true, overrides: { ...testOverrides, steps: 2, checkpointEvery: 1 } });
  const stored = join(ws, 'runs', 'stored', 'config.json');
  const good = readFileSync(stored, 'utf8');
  const resume = () => train({ data, run: 'stored', workspace: ws, quiet: true, resume: true });
  writeFileSync(stored, good.slice(0, 40));
  await t.throwsAsync(resume(), { instanceOf: InputError, message: /stored config .*config\.json is not valid JSON/ });
  writeFileSync(stored, JSON.stringify({ workspace: ws, fetch: { retries: 1 } }));
  await t.throwsAsync(resume(), { instanceOf: InputError, message: /stored config .*is not a training config: .*unknown key "workspace"/ });
  writeFileSync(stored, JSON.stringify({ ...JSON.parse(good), batchSize: 'eight' }));
  await t.throwsAsync(resume(), { instanceOf: InputError, message: /not a training config: batchSize: / });
  const cli = spawnSync(process.execPath, ['bin/pros.js', 'train', '--data', data, '--run', 'stored', '-w', ws, '--resume'], { encoding: 'utf8' });
  t.is(cli.status, 2);
  t.regex(cli.stderr, /not a training config/);
});
