// npm run bench:train [-- --batch 16 --steps 3 --warmup 1 --stock-steps 1 --paths stock,explicit,data-parallel,native,native:2,both
//                        --ceiling-seconds 2 --no-profile]
// img/s of the tiny preset's full ProS step (teacher forward, student forward + backward on the preset's 2 global
// and local crops, its loss terms (distillation, prototypes, iBOT), AdamW, EMA) for each matmul path, the achieved
// GFLOP/s (matmul FLOPs counted analytically, bench/train-flops.ts), the matmul ceiling measured on every core in the same run, their ratio, and a time
// breakdown by kernel (tf.profile of one step). Views are random tensors of the right shapes: the augmentations run
// in a views worker in real training and are not part of the step.
//   stock          tfjs-backend-wasm's own kernels
//   explicit       transposes made explicit, then the stock kernel (training/kernels/explicit-transpose.ts)
//   data-parallel  explicit, on 2 worker threads each holding the model and half the batch (training/parallel/)
//   native[:k]     OpenBLAS sgemm on the wasm heap (native/ addon) and the addon's elementwise, reduction, layer norm,
//                  GELU and AdamW/EMA kernels, k threads (default 1)
//   both           native (1 thread each) on 2 data-parallel workers
// Each figure's line ends with the kernels its path really used (installMatmul's line: path, library, threads, which
// native ops passed their self-test), so a fallback is never reported under the fast path's name.
import { availableParallelism, cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadBackend, type Tf } from '../src/backend.ts';
import { resolveTrainConfig, type TrainConfig } from '../training/config.ts';
import { buildModel, trainStep, type Views } from '../training/trainer.ts';
import { wholeImageBoxes } from '../training/loss/dense.ts';
import { buildSchedules } from '../training/schedule.ts';
import { DataParallel } from '../training/parallel/pool.ts';
import { installMatmul, uninstallMatmul, type MatmulPreference } from '../training/kernels/install.ts';
import { prosStepFlops } from './train-flops.ts';
import { measureCeiling, type CeilingResult } from './train-ceiling.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const BATCH = Number(arg('batch', '16'));
// One wasm instance has at most 4 GB of heap; a ProS step peaks at ~1.15 GB (native) to ~1.45 GB (stock) at batch 8
// and aborts the instance at batch 32, so larger batches need data-parallel workers.
const MAX_INSTANCE_BATCH = Number(arg('max-instance-batch', '16'));
const STEPS = Number(arg('steps', '3'));
const WARMUP = Number(arg('warmup', '1'));
const STOCK_STEPS = Number(arg('stock-steps', '1'));
const PATHS = arg('paths', 'stock,explicit,data-parallel,native,native:2,both').split(',');
const CEILING_S = Number(arg('ceiling-seconds', '2'));
const PROFILE = !process.argv.includes('--no-profile');
const WORKERS = 2;
const IMAGES = 100_000; // only sizes the schedules

const cfg: TrainConfig = resolveTrainConfig('tiny', {
  batchSize: BATCH,
  backend: 'wasm',
  workers: WORKERS,
  optim: { freezeLastLayerEpochs: 0 },
});

function randomViews(c: TrainConfig, batch: number, seed: number): Views {
  let s = seed >>> 0 || 1;
  const fill = (n: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      a[i] = ((s >>> 0) / 4294967296 - 0.5) * 3;
    }
    return a;
  };
  const g = c.views.globalSize;
  const l = c.views.localSize;
  return { batch, globals: fill(2 * batch * g * g * 3), locals: fill(c.views.locals * batch * l * l * 3), boxes: wholeImageBoxes(batch, c.views.locals) };
}

interface PathResult {
  path: string;
  kernels: string;
  steps: number;
  secondsPerStep: number;
  imagesPerSecond: number;
  gflops: number;
  loss: number;
}

const flops = prosStepFlops(cfg, BATCH);

function result(path: string, kernels: string, times: number[], loss: number): PathResult {
  const s = times.reduce((a, b) => a + b, 0) / times.length;
  return { path, kernels, steps: times.length, secondsPerStep: s, imagesPerSecond: BATCH / s, gflops: flops.total / s / 1e9, loss };
}

function parsePath(p: string): { prefer: MatmulPreference; threads: number; parallel: boolean } {
  const [name, k] = p.split(':');
  switch (name) {
    case 'stock': return { prefer: 'stock', threads: 1, parallel: false };
    case 'explicit': return { prefer: 'explicit', threads: 1, parallel: false };
    case 'data-parallel': return { prefer: 'explicit', threads: 1, parallel: true };
    case 'native': return { prefer: 'native', threads: Number(k ?? 1), parallel: false };
    case 'both': return { prefer: 'native', threads: 1, parallel: true };
    default: throw new Error(`unknown path ${p} (stock, explicit, data-parallel, native[:threads], both)`);
  }
}

async function singleProcess(tf: Tf, path: string, prefer: MatmulPreference, threads: number): Promise<PathResult> {
  const installed = installMatmul(tf, { prefer, blasThreads: threads, quiet: true });
  if (prefer === 'native' && installed.path !== 'native-openblas') throw new Error(`native path unavailable: ${installed.reason}`);
  const model = buildModel(tf, cfg);
  const sched = buildSchedules(cfg, IMAGES);
  const steps = prefer === 'stock' ? STOCK_STEPS : STEPS;
  const times: number[] = [];
  let loss = NaN;
  for (let i = 0; i < WARMUP + steps; i++) {
    const views = randomViews(cfg, BATCH, i + 1);
    const t0 = performance.now();
    loss = trainStep(tf, model, cfg, sched, i, views).loss;
    if (i >= WARMUP) times.push((performance.now() - t0) / 1000);
    process.stderr.write(`  ${path} step ${i + 1}/${WARMUP + steps}: ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
  }
  for (const p of [model.student, model.teacher, model.protos]) for (const v of p.list()) v.dispose();
  model.opt.dispose?.();
  return result(path, `${installed.path} (${installed.reason})`, times, loss);
}

async function dataParallel(path: string, prefer: MatmulPreference): Promise<PathResult> {
  // The workers read these when they install their kernels (training/kernels-hook.ts → installMatmul).
  process.env.PROS_MATMUL = prefer;
  process.env.PROS_BLAS_THREADS = '1';
  const dp = await DataParallel.start(cfg, WORKERS, IMAGES);
  try {
    if (prefer === 'native' && !dp.kernels.startsWith('native-openblas')) throw new Error(`native path unavailable in workers: ${dp.kernels}`);
    const times: number[] = [];
    let loss = NaN;
    for (let i = 0; i < WARMUP + STEPS; i++) {
      const views = randomViews(cfg, BATCH, i + 1);
      const t0 = performance.now();
      loss = (await dp.step(i, views)).loss;
      if (i >= WARMUP) times.push((performance.now() - t0) / 1000);
      process.stderr.write(`  ${path} step ${i + 1}/${WARMUP + STEPS}: ${((performance.now() - t0) / 1000).toFixed(2)} s\n`);
    }
    return result(path, `${WORKERS} workers, ${dp.kernels}`, times, loss);
  } finally {
    await dp.close();
    delete process.env.PROS_MATMUL;
    delete process.env.PROS_BLAS_THREADS;
  }
}

interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
  share: number;
}

/** One profiled step: wall time per kernel name, largest first. */
async function breakdown(tf: Tf, prefer: MatmulPreference, threads: number): Promise<{ path: string; totalMs: number; kernels: KernelTime[] }> {
  const installed = installMatmul(tf, { prefer, blasThreads: threads, quiet: true });
  const model = buildModel(tf, cfg);
  const sched = buildSchedules(cfg, IMAGES);
  trainStep(tf, model, cfg, sched, 0, randomViews(cfg, BATCH, 99));
  const info = await tf.profile(() => {
    trainStep(tf, model, cfg, sched, 1, randomViews(cfg, BATCH, 100));
    return [];
  });
  const by = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    // tf.profile also lists op and custom-gradient scopes (fusedMatMul__op, forward, …) whose kernels it lists too.
    if (!tf.getKernel(k.name, 'wasm')) continue;
    const e = by.get(k.name) ?? { ms: 0, calls: 0 };
    e.ms += Number(k.kernelTimeMs) || 0;
    e.calls++;
    by.set(k.name, e);
  }
  const totalMs = [...by.values()].reduce((a, e) => a + e.ms, 0);
  const kernels = [...by.entries()]
    .map(([kernel, e]) => ({ kernel, ms: e.ms, calls: e.calls, share: e.ms / totalMs }))
    .sort((a, b) => b.ms - a.ms);
  for (const p of [model.student, model.teacher, model.protos]) for (const v of p.list()) v.dispose();
  uninstallMatmul(tf);
  return { path: installed.path, totalMs, kernels };
}

// ───────────────────────────── run ─────────────────────────────
const cores = availableParallelism();
console.log(`ProS step benchmark: tiny preset (ViT ${cfg.vit.width}w × ${cfg.vit.depth}, patch ${cfg.vit.patch}, ${cfg.views.globalSize}-px globals ×2 + ${cfg.views.localSize}-px locals ×${cfg.views.locals}), batch ${BATCH}`);
console.log(`machine: ${cores} cores, ${cpus()[0]?.model ?? '?'}; node ${process.version}; ${new Date().toISOString()}`);
console.log(`matmul FLOPs per step: ${(flops.total / 1e9).toFixed(1)} G (teacher ${(flops.teacher / 1e9).toFixed(1)}, student fwd+bwd ${(flops.student / 1e9).toFixed(1)}), ${(flops.perImage / 1e9).toFixed(2)} G per image`);

// Measured before and after the paths (other load on the machine varies); the best is the ceiling.
const ceilings: CeilingResult[] = [];
async function measureCeilings(when: string): Promise<void> {
  for (const kind of ['native', 'wasm'] as const) {
    try {
      const c = await measureCeiling(kind, cores, 512, CEILING_S);
      ceilings.push(c);
      console.log(`matmul ceiling (${when}), ${kind} 512² on ${c.workers} cores at once: ${c.gflops.toFixed(1)} GFLOP/s (${c.perWorker.map((x) => x.toFixed(1)).join(' + ')})`);
    } catch (e) {
      console.log(`matmul ceiling (${when}), ${kind}: not measured (${(e as Error).message})`);
    }
  }
}
await measureCeilings('before');


const { tf } = await loadBackend('wasm', { quiet: true });
const results: PathResult[] = [];
let ceiling = 0;
for (const p of PATHS) {
  const { prefer, threads, parallel } = parsePath(p);
  const perInstance = parallel ? BATCH / WORKERS : BATCH;
  if (perInstance > MAX_INSTANCE_BATCH) {
    console.log(`${p}: not run (${perInstance} images per wasm instance; above ${MAX_INSTANCE_BATCH} the step outgrows the 4 GB wasm heap)`);
    continue;
  }
  try {
    results.push(parallel ? await dataParallel(p, prefer) : await singleProcess(tf, p, prefer, threads));
  } catch (e) {
    console.log(`${p}: not run (${(e as Error).message})`);
  }
}

await measureCeilings('after');
ceiling = Math.max(0, ...ceilings.map((c) => c.gflops));
console.log(`matmul ceiling: ${ceiling.toFixed(1)} GFLOP/s (best of the above)`);

console.log('\npath            s/step   img/s   GFLOP/s  % of ceiling  kernels');
for (const r of results) {
  console.log(
    `${r.path.padEnd(14)} ${r.secondsPerStep.toFixed(2).padStart(7)} ${r.imagesPerSecond.toFixed(1).padStart(7)} ${r.gflops.toFixed(1).padStart(9)} ${ceiling ? ((100 * r.gflops) / ceiling).toFixed(1).padStart(12) + '%' : '           -'}  ${r.kernels}`,
  );
}
const explicit = results.find((r) => r.path === 'explicit');
const fastest = results.reduce<PathResult | null>((a, r) => (!a || r.imagesPerSecond > a.imagesPerSecond ? r : a), null);
if (fastest) {
  const speedup = explicit ? fastest.imagesPerSecond / explicit.imagesPerSecond : NaN;
  const ofCeiling = ceiling ? fastest.gflops / ceiling : NaN;
  console.log(`\nfastest: ${fastest.path}, ${fastest.imagesPerSecond.toFixed(1)} img/s, ${fastest.gflops.toFixed(1)} GFLOP/s`);
  console.log(`target ≥ 10× explicit transposes: ${speedup.toFixed(2)}× ${speedup >= 10 ? 'MET' : 'NOT MET'}`);
  console.log(`target ≥ 40% of the measured matmul ceiling (${ceiling.toFixed(1)} GFLOP/s): ${(100 * ofCeiling).toFixed(1)}% ${ofCeiling >= 0.4 ? 'MET' : 'NOT MET'}`);
}

const profiles: Awaited<ReturnType<typeof breakdown>>[] = [];
if (PROFILE && BATCH <= MAX_INSTANCE_BATCH) {
  const wanted: Array<[MatmulPreference, number]> = [['explicit', 1]];
  if (results.some((r) => r.kernels.includes('native-openblas'))) wanted.push(['native', 1]);
  for (const [prefer, threads] of wanted) {
    const b = await breakdown(tf, prefer, threads);
    profiles.push(b);
    console.log(`\ntime by kernel, one step on ${b.path} (tf.profile, ${(b.totalMs / 1000).toFixed(2)} s in kernels):`);
    for (const k of b.kernels.slice(0, 14)) {
      console.log(`  ${k.kernel.padEnd(22)} ${(k.ms / 1000).toFixed(3).padStart(8)} s ${(100 * k.share).toFixed(1).padStart(6)}%  ${String(k.calls).padStart(6)} calls`);
    }
  }
}

mkdirSync('.bench', { recursive: true });
writeFileSync(
  '.bench/train.json',
  JSON.stringify({ date: new Date().toISOString(), cores, cpu: cpus()[0]?.model, batch: BATCH, flops, ceilings, results, profiles }, null, 2),
);
console.log('\nwritten .bench/train.json');
