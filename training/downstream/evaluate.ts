// `pros eval`: one task, one dataset, one feature source (a run's teacher, the same ViT at random init, or human's
// descriptor), one protocol, full or K-shot over several seeds. Every metric row goes to the evals table, with the
// task's no-learning baseline (majority class / mean shape) stored beside it for the same split and seed.
import { join } from 'node:path';
import type { Tf } from '../../src/backend.ts';
import type { Workspace } from '../../src/workspace.ts';
import { InputError } from '../../src/errors.ts';
import { architectureOf, loadBackbone, randomBackbone, randomBackboneLike, randomVit, resolveBackbone, type Backbone } from '../backbone.ts';
import { readModelConfig } from '../../src/model/folder.ts';
import type { ViTConfig } from '../config.ts';
import { readDataset, type Format, type TaskName } from './data.ts';
import { decodeAll, flipPixels, type Decoded } from './images.ts';
import { backboneSource, FeatureCache, type FeatureSource, type Features } from './features.ts';
import { fitOnFeatures, finetune, predictFeatures, predictImages, type ProbeSchedule, type Protocol } from './protocol.ts';
import { attributesTask } from './tasks/attributes.ts';
import { expressionTask } from './tasks/expression.ts';
import { landmarksTask } from './tasks/landmarks.ts';
import type { AnyTask, MetricRow } from './tasks/task.ts';
import type { Normaliser, TaskData } from './readers/types.ts';
import { meanStd } from '../../src/evals.ts';
import { defaults, type EvalConfig } from '../../src/config.ts';
import { fitStandardiser } from './standardise.ts';
import { testGroups, type TestGroup } from './subsets.ts';
import { checkLeakage, LEAK_DISTANCE, pretrainingSet } from './leakage.ts';
import { readManifest } from '../manifest.ts';
import { describeLeakage, type Leakage } from '../../src/evals.ts';
import { mulberry32 } from './synth/rng.ts';
import type { EvalRow } from '../../src/contracts/rows.ts';

export type BackboneKind = 'run' | 'random' | 'human';

export interface EvalOptions {
  ws: Workspace;
  tf: Tf;
  backend: string;
  task: TaskName;
  data: string;
  format?: Format;
  /** The training run (a name, or an exported model folder) whose teacher is evaluated (and whose architecture `random` copies). */
  run?: string;
  backbone?: BackboneKind;
  /** Architecture for `--backbone random` without a run. */
  preset?: string;
  /** ViT overrides for `--backbone random` without a run (e.g. a smaller input for quick checks). */
  vit?: Partial<ViTConfig>;
  protocol?: Protocol;
  /** K labelled examples per class (K images for landmarks); undefined: the full training split. */
  shots?: number;
  seeds?: number;
  epochs?: number;
  lr?: number;
  /** Linear probe: the learning rate over the epochs (default eval.linear.schedule, cosine). */
  schedule?: ProbeSchedule;
  backboneLr?: number;
  batch?: number;
  /** Hidden width of an MLP head (classification); 0: linear. */
  hidden?: number;
  /** What a classification head reads: the CLS token, or all patch tokens (landmarks always read the tokens). */
  features?: 'cls' | 'patches';
  maxTrain?: number;
  maxTest?: number;
  /** L2 penalty on the head's weight matrices. */
  l2?: number;
  /** Landmarks: override the dataset's NME normaliser (AFLW-19 style datasets ask for the box diagonal). */
  normaliser?: Normaliser;
  /** Leakage check: the largest dHash distance (of 64 bits) that counts a test image as a pre-training image (default 6). */
  maxHashDistance?: number;
  /** The defaults of every option above left out (the `eval` section of the pros config). */
  config?: EvalConfig;
  log?: (line: string) => void;
  /** Images decoded so far, of `total`. */
  onProgress?: (done: number, total: number) => void;
}

/** A result as it is stored: an evals row (src/contracts/rows.ts) before the database gives it id, extra and time. */
export type EvalResult = Omit<EvalRow, 'id' | 'extra' | 'at' | 'task'> & { task: TaskName };

export interface EvalSummary {
  run: string;
  task: TaskName;
  dataset: string;
  protocol: Protocol;
  shots: number | null;
  seeds: number;
  metric: string;
  mean: number;
  std: number;
  baseline: { name: string; mean: number; std: number };
  train: number;
  test: number;
  failedImages: number;
  missingFeatures: number;
  pseudo: boolean;
  seconds: number;
  rows: EvalResult[];
  /** Whether any test image is in the evaluated run's pre-training set (stored as extra.leakage with every row). */
  leakage: Leakage;
  /** Further published test subsets, scored apart (300W: after common, the challenge, full and private sets). */
  subsets?: Array<{ dataset: string; test: number; mean: number; std: number; baseline: { name: string; mean: number; std: number } }>;
}

function taskFor(d: TaskData, hidden?: number, input?: 'cls' | 'patches'): AnyTask {
  if (d.task === 'attributes') return attributesTask(d.names, { hidden, input }) as AnyTask;
  if (d.task === 'expression') return expressionTask(d.classes, { hidden, input }) as AnyTask;
  return landmarksTask(d.points, d.normaliser) as AnyTask;
}

function runLabel(o: EvalOptions): string {
  const kind = o.backbone ?? 'run';
  if (kind === 'run') {
    if (!o.run) throw new InputError('--run NAME is required (or --backbone random|human)');
    return resolveBackbone(o.run, o.ws.paths.runs).name;
  }
  return kind;
}

async function makeSource(o: EvalOptions): Promise<{ source: FeatureSource; backbone?: Backbone; initSeed?: number; architecture?: string }> {
  const kind = o.backbone ?? 'run';
  if (kind === 'human') {
    const { humanSource } = await import('./human.ts');
    return { source: await humanSource() };
  }
  if (kind === 'random') {
    const ref = o.run ? resolveBackbone(o.run, o.ws.paths.runs) : undefined;
    const preset = ref ? ref.preset : (o.preset ?? (o.config ?? defaults.eval).preset);
    const seed = ref ? ref.seed : 0;
    // With --run: the run's own seed, so the baseline is exactly the weights that run started from.
    const bb = ref ? randomBackboneLike(ref, o.tf) : randomBackbone(preset, 0, o.tf, o.vit);
    const architecture = architectureOf(ref ? ref.vit : randomVit(preset, o.vit));
    return { source: backboneSource(o.tf, bb, `random:${preset}:${seed}:${JSON.stringify((ref ? ref.vit : o.vit) ?? {})}`), backbone: bb, initSeed: seed, architecture };
  }
  const ref = resolveBackbone(o.run!, o.ws.paths.runs);
  const bb = await loadBackbone(ref, o.tf);
  return { source: backboneSource(o.tf, bb, `${ref.name}:${ref.stamp}`), backbone: bb };
}

export async function evaluate(o: EvalOptions): Promise<EvalSummary> {
  const t0 = Date.now();
  const protocol = o.protocol ?? 'linear';
  const cfg = o.config ?? defaults.eval;
  const seeds = o.seeds ?? (o.shots === undefined ? cfg.seeds.full : cfg.seeds.fewShot);
  const log = o.log ?? (() => {});
  const label = runLabel(o);
  if (protocol === 'finetune' && o.backbone === 'human') throw new InputError('human\'s descriptor is a fixed feature: use --protocol linear');
  const data = readDataset(o.data, o.task, o.format);
  if (o.normaliser && data.task === 'landmarks') data.normaliser = o.normaliser;
  const task = taskFor(data, (o.hidden ?? cfg.hidden) || undefined, o.features);
  const samples = data.samples as Array<TaskData['samples'][number]>;
  const trainAll = samples.filter((s) => s.split === 'train').slice(0, o.maxTrain);
  const testAll = samples.filter((s) => s.split === 'test' || (s.split === 'val' && !samples.some((x) => x.split === 'test'))).slice(0, o.maxTest);
  if (!trainAll.length || !testAll.length) throw new InputError(`${o.data}: needs both a train and a test split (train ${trainAll.length}, test ${testAll.length})`);

  let { source, backbone, initSeed, architecture } = await makeSource(o);
  const size = source.inputSize;
  // Whole photos (300W, WFLW, AffectNet) are cut round the face; a box or points give the region.
  const margin = data.task === 'landmarks' && (data.dataset === '300w' || data.dataset === 'wflw') ? 1.25 : 1;
  log(`decoding ${trainAll.length} train + ${testAll.length} test images at ${size} px`);
  const total = trainAll.length + testAll.length;
  const tr = await decodeAll(trainAll, size, margin, (d) => o.onProgress?.(d, total));
  const te = await decodeAll(testAll, size, margin, (d) => o.onProgress?.(trainAll.length + d, total));
  const failedImages = tr.failed.length + te.failed.length;
  for (const f of [...tr.failed, ...te.failed].slice(0, 5)) log(`skipped ${f.reason}`);
  const trainTargets = tr.ok.map(({ sample, decoded }) => task.target(sample, decoded.region, size));
  const testTargets = te.ok.map(({ sample, decoded }) => task.target(sample, decoded.region, size));

  const cache = new FeatureCache(join(o.ws.root, 'cache', 'features'));
  const features = async (items: Array<{ sample: { image: string }; decoded: Decoded }>, flip: boolean): Promise<Features> => {
    const key = FeatureCache.key(source.id, items.map((i) => i.sample.image), size, `${flip ? 'flip' : 'plain'}:${margin}`);
    const hit = cache.get(key);
    if (hit) return hit;
    const f = await source.extract(items.map((i) => (flip ? flipPixels(i.decoded.pixels, size) : i.decoded.pixels)), size);
    cache.put(key, f);
    return f;
  };

  const rows: EvalResult[] = [];
  const baseRows: Array<{ dataset: string; name: string; value: number }> = [];
  let missingFeatures = 0;
  const shots = o.shots ?? null;
  const epochs = o.epochs ?? cfg[protocol].epochs;
  const batch = o.batch ?? cfg.batch;
  const lr = o.lr ?? cfg[protocol].lr;
  // A linear probe's rate schedule is part of its protocol: rows record it (rows without it were constant).
  const schedule = protocol === 'linear' ? (o.schedule ?? cfg.linear.schedule) : undefined;
  // A classification head on the patch tokens instead of the CLS token is a different protocol in the table.
  const protocolLabel = task.name !== 'landmarks' && task.input === 'patches' && o.backbone !== 'human' ? `${protocol}:tokens` : protocol;
  const store = (dataset: string, run: string, seed: number, metrics: MetricRow[]) => {
    for (const m of metrics) rows.push({ run, task: o.task, dataset, protocol: protocolLabel, shots, seed, metric: m.metric, value: m.value });
  };
  // Published test subsets (300W) are scored and stored apart; the summary's headline is the first group.
  const groups = testGroups(data.dataset, te.ok.map((x) => x.sample));
  const scored = (g: TestGroup, all: Float32Array[]) => g.idx.map((i) => all[i]!);
  const testSamples = (g: TestGroup) => g.idx.map((i) => te.ok[i]!.sample) as never[];
  const testRegions = (g: TestGroup) => g.idx.map((i) => te.ok[i]!.decoded.region);

  let frozen: { train: Features; trainFlip?: Features; test: Features } | null = null;
  for (let seed = 0; seed < seeds; seed++) {
    const rng = mulberry32(1000 + seed);
    const idx = shots === null ? tr.ok.map((_, i) => i) : task.fewShot(tr.ok.map((x) => x.sample) as never[], shots, rng);
    const yTrain = idx.map((i) => trainTargets[i]!);
    for (const g of groups) {
      const base = task.baseline(yTrain, scored(g, testTargets), testSamples(g), testRegions(g));
      store(g.dataset, base.name, seed, base.rows);
      baseRows.push({ dataset: g.dataset, name: base.name, value: base.rows.find((r) => r.metric === task.main.metric)!.value });
    }
    let pred: Float32Array[];
    if (protocol === 'linear') {
      frozen ??= {
        train: await features(tr.ok, false),
        // Mirrored copies only help a head that reads a spatial layout (patch tokens). A global descriptor such as
        // human's is close to mirror-invariant, so a mirrored copy is a near-identical input with mirrored targets:
        // contradictory pairs that a head on few images fits with large weights (test noise of tens of per cent).
        trainFlip: task.flipTarget && source.spatial ? await features(tr.ok, true) : undefined,
        test: await features(te.ok, false),
      };
      missingFeatures = frozen.train.missing + frozen.test.missing;
      const usePatches = task.input === 'patches' && frozen.train.patches !== undefined;
      const shape = usePatches ? [frozen.train.tokens!, frozen.train.dim] : [frozen.train.dim];
      const pick = (f: Features, ids: number[]) => gather(usePatches ? f.patches! : f.cls, shape, ids);
      // Images the source found no face in are not training data; at test time they get the head's intercept.
      const absentTrain = new Set(frozen.train.absent ?? []);
      const absentFlip = new Set(frozen.trainFlip?.absent ?? []);
      const use = idx.filter((i) => !absentTrain.has(i));
      const useFlip = idx.filter((i) => !absentFlip.has(i));
      let x = pick(frozen.train, use);
      let y = concat(use.map((i) => trainTargets[i]!));
      if (frozen.trainFlip && task.flipTarget) {
        x = concat([x, pick(frozen.trainFlip, useFlip)]);
        y = concat([y, ...useFlip.map((i) => task.flipTarget!(trainTargets[i]!))]);
      }
      if (!y.length) throw new InputError(`${o.data}: the feature source found no face in any of the ${idx.length} training images`);
      const norm = fitStandardiser(x, shape[shape.length - 1]!, new Set(), usePatches ? shape[0]! : 1);
      const head = task.head(o.tf, { dim: frozen.train.dim, tokens: usePatches ? frozen.train.tokens : undefined }, yTrain, seed + 1);
      const curve = await fitOnFeatures(o.tf, head, norm.apply(x), shape, y, yTrain[0]!.length, task.loss(o.tf), { epochs, batch, lr, seed, l2: o.l2 ?? cfg.l2, schedule });
      log(`seed ${seed}: ${use.length} training examples${use.length < idx.length ? ` (${idx.length - use.length} without a feature left out)` : ''}, ` +
        `${norm.constant} constant channels, loss ${curve[0]!.toPrecision(4)} → ${curve.at(-1)!.toPrecision(4)}`);
      pred = await predictFeatures(o.tf, head, norm.apply(pick(frozen.test, te.ok.map((_, i) => i)), new Set(frozen.test.absent ?? [])), shape);
      head.dispose();
    } else {
      if (seed > 0) {
        // A fresh backbone: fine-tuning changed the last one.
        source.dispose();
        ({ source, backbone } = await makeSource(o));
      }
      const bb = backbone!;
      const head = task.head(o.tf, { dim: bb.dim, tokens: task.input === 'patches' ? (bb.inputSize / bb.patch) ** 2 : undefined }, yTrain, seed + 1);
      const curve = await finetune(o.tf, bb, head, {
        images: idx.map((i) => tr.ok[i]!.decoded.pixels), size, targets: yTrain, flipTarget: task.flipTarget, input: task.input,
      }, task.loss(o.tf), { epochs, batch, lr, backboneLr: o.backboneLr ?? lr * cfg.finetune.backboneLrRatio, seed, l2: o.l2 ?? cfg.l2 });
      log(`seed ${seed}: fine-tuned on ${idx.length} examples, loss ${curve[0]!.toPrecision(4)} → ${curve.at(-1)!.toPrecision(4)}`);
      pred = await predictImages(o.tf, bb, head, te.ok.map((x) => x.decoded.pixels), size, task.input);
      head.dispose();
    }
    for (const g of groups) store(g.dataset, label, seed, task.metrics(scored(g, pred), scored(g, testTargets), testSamples(g), testRegions(g)));
  }
  source.dispose();

  // An exported model has no row in the runs table: what it is travels with its results, for the report.
  const ref = (o.backbone ?? 'run') === 'run' ? resolveBackbone(o.run!, o.ws.paths.runs) : undefined;
  const model = ref?.kind === 'model' ? { dir: ref.dir, preset: ref.preset, ...modelSource(ref.dir) } : undefined;
  const leakage = await leakageOf(o, te.ok.map((x) => ({ image: x.sample.image, region: x.decoded.region })));
  if (leakage.checked) log(`pre-training overlap: ${describeLeakage(leakage)}`);
  const common = { data: o.data, backend: o.backend, epochs, lr, ...(schedule ? { schedule } : {}), train: tr.ok.length, test: te.ok.length, pseudo: !!data.pseudo, leakage, ...(model ? { model } : {}) };
  const extra = JSON.stringify(common);
  // A random init is keyed by its init seed and architecture too (src/evals.ts): the random inits of runs with other
  // seeds or shapes stay beside it. The no-learning baselines stored with it do not depend on the init and carry none.
  const ownExtra = initSeed === undefined ? extra : JSON.stringify({ ...common, initSeed, architecture });
  const insert = o.ws.db.prepare('INSERT INTO evals (run, task, dataset, protocol, shots, seed, metric, value, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  o.ws.db.transaction(() => {
    for (const r of rows) insert.run(r.run, r.task, r.dataset, r.protocol, r.shots, r.seed, r.metric, r.value, r.run === label ? ownExtra : extra);
  })();

  const summaryOf = (g: TestGroup) => ({
    dataset: g.dataset, test: g.idx.length,
    ...meanStd(rows.filter((r) => r.dataset === g.dataset && r.run === label && r.metric === task.main.metric).map((r) => r.value)),
    baseline: { name: baseRows[0]!.name, ...meanStd(baseRows.filter((r) => r.dataset === g.dataset).map((r) => r.value)) },
  });
  const [head, ...rest] = groups.map(summaryOf);
  return {
    run: label, task: o.task, dataset: head!.dataset, protocol, shots, seeds, metric: task.main.metric, mean: head!.mean, std: head!.std,
    baseline: head!.baseline, train: tr.ok.length, test: te.ok.length, failedImages, missingFeatures,
    pseudo: !!data.pseudo, seconds: (Date.now() - t0) / 1000, rows, leakage, ...(rest.length ? { subsets: rest } : {}),
  };
}

function modelSet(dir: string): { dir: string; files: string[] } | { reason: string } {
  const { data, run } = modelSource(dir);
  if (!data) return { reason: `exported model ${dir} names no training set` };
  try {
    const set = readManifest(data);
    return { dir: set.dir, files: set.items.map((i) => i.file) };
  } catch (err) {
    return { reason: `the training set of the exported model (run "${run}", ${data}) cannot be read here: ${(err as Error).message}` };
  }
}

function modelSource(dir: string): { run: string; step: number; data: string | null } {
  const { source } = readModelConfig(dir);
  return { run: source.run, step: source.step, data: source.data };
}

/** Checked for a trained run only: random init has seen no data, and human's training data is not in the workspace. */
async function leakageOf(o: EvalOptions, test: Array<{ image: string; region: Decoded['region'] }>): Promise<Leakage> {
  const kind = o.backbone ?? 'run';
  if (kind === 'random') return { checked: false, reason: 'random init: not pre-trained' };
  if (kind === 'human') return { checked: false, reason: "human's descriptor: its training data is not in this workspace" };
  const ref = resolveBackbone(o.run!, o.ws.paths.runs);
  // An exported model names the set it was trained on; it is checked where that set is on this machine.
  const set = ref.kind === 'model' ? modelSet(ref.dir) : pretrainingSet(o.ws, ref.name);
  if ('reason' in set) return { checked: false, reason: set.reason };
  return checkLeakage({ trainFiles: set.files, test, maxDistance: o.maxHashDistance ?? LEAK_DISTANCE, pretraining: set.dir });
}

function gather(data: Float32Array, shape: number[], ids: number[]): Float32Array {
  const w = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(ids.length * w);
  ids.forEach((r, j) => out.set(data.subarray(r * w, (r + 1) * w), j * w));
  return out;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
