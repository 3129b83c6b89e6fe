// `pros train`: resolves the config and the curated set, starts (or resumes) a run under workspace/runs/<run>/,
// runs the loop on this thread or on data-parallel workers, and records checkpoints and metrics.
import { clip, isPortableName } from '../src/input.ts';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { loadBackend } from '../src/backend.ts';
import { InputError } from '../src/errors.ts';
import { ConfigError, type Backend } from '../src/config.ts';
import { log } from '../src/log.ts';
import { progress } from '../src/progress.ts';
import { openWorkspace } from '../src/workspace.ts';
import { recordLineage } from '../src/lineage.ts';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint, type NamedTensor } from './checkpoint.ts';
import { readStoredTrainConfig, resolveTrainConfig, type TrainConfig } from './config.ts';
import { ViewSource } from './data.ts';
import { installKernels } from './kernels-hook.ts';
import { readManifest } from './manifest.ts';
import { MetricsLog, collapseSigns } from './metrics.ts';
import { DataParallel, workerCount } from './parallel/pool.ts';
import { buildSchedules } from './schedule.ts';
import { buildModel, loadModelTensors, modelTensors, trainStep, type StepMetrics, type Views } from './trainer.ts';
import { writeFileAtomic } from '../src/atomic.ts';

export interface TrainOptions {
  data: string;
  /** Preset name or JSON file. */
  config?: string;
  run: string;
  workspace: string;
  backend?: Backend;
  resume?: boolean;
  /** Deep-merged last, e.g. { steps: 30 }. */
  overrides?: object;
  quiet?: boolean;
  signal?: AbortSignal;
  /** Called after every step (tests, the demo's own display). */
  onStep?: (m: StepMetrics & { imgPerSec: number }) => void;
}

export interface TrainSummary {
  run: string;
  runDir: string;
  status: 'done' | 'stopped' | 'failed';
  /** Why it failed (a non-finite loss), when it did. */
  error?: string;
  startStep: number;
  step: number;
  totalSteps: number;
  images: number;
  firstLoss: number | null;
  lastLoss: number | null;
  imgPerSec: number;
  backend: string;
  kernels: string;
  workers: number;
  warnings: string[];
  checkpoint: string | null;
  metricsFile: string;
  last: StepMetrics | null;
}

interface Engine {
  backend: string;
  kernels: string;
  step(step: number, views: Views): Promise<StepMetrics>;
  tensors(): Promise<Map<string, NamedTensor>>;
  close(): Promise<void>;
}

async function localEngine(cfg: TrainConfig, images: number, initial?: Map<string, NamedTensor>, quiet?: boolean): Promise<Engine> {
  const { tf, name } = await loadBackend(cfg.backend, { quiet: true });
  const kernels = await installKernels(tf);
  const model = buildModel(tf, cfg);
  if (initial) loadModelTensors(tf, model, initial);
  const sched = buildSchedules(cfg, images);
  return {
    backend: name,
    kernels,
    step: async (step, views) => trainStep(tf, model, cfg, sched, step, views),
    tensors: () => modelTensors(model),
    close: async () => {
      model.student.dispose();
      model.teacher.dispose();
      model.protos.dispose();
      model.opt.dispose();
    },
  };
}

export async function train(opts: TrainOptions): Promise<TrainSummary> {
  // The run name becomes a folder under runs/: a portable name, never "..", "." or a Windows device name.
  if (!isPortableName(opts.run, 128)) {
    throw new InputError(`--run ${clip(opts.run, 60)}: use 1–128 letters, digits, '.', '-' and '_' (no "..", no trailing '.', not a device name such as CON)`);
  }
  const ws = openWorkspace(opts.workspace);
  try {
    const runDir = join(ws.paths.runs, opts.run);
    // ───── config ─────
    let cfg: TrainConfig;
    if (opts.resume) {
      if (!hasCheckpoint(runDir)) throw new InputError(`--resume: run ${opts.run} has no checkpoint in ${runDir}`);
      cfg = readStoredTrainConfig(join(runDir, 'config.json'));
      if (opts.config) log.warn(`--resume continues with the run's saved config; --config ${opts.config} is ignored`);
    } else {
      cfg = resolveTrainConfig(opts.config, opts.overrides);
      if (hasCheckpoint(runDir)) throw new InputError(`run ${opts.run} already exists in ${runDir}: pass --resume or pick another --run`);
    }
    if (opts.backend) cfg = { ...cfg, backend: opts.backend };

    // ───── data ─────
    const set = readManifest(opts.data, ws.paths.curated);
    const sched = buildSchedules(cfg, set.items.length);
    mkdirSync(runDir, { recursive: true });
    writeFileAtomic(join(runDir, 'config.json'), JSON.stringify(cfg, null, 2));
    // The machine, for the model card of an exported backbone (the last session's, when a run is resumed elsewhere).
    writeFileAtomic(join(runDir, 'machine.json'), JSON.stringify({
      cpu: cpus()[0]?.model.trim(), cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30),
      platform: `${platform()} ${release()} ${arch()}`, node: process.version,
    }, null, 2));

    // ───── state: fresh or the last checkpoint ─────
    let start = 0;
    let initial: Map<string, NamedTensor> | undefined;
    if (opts.resume) {
      const ck = loadCheckpoint(runDir);
      if (ck.state.totalSteps !== sched.total) {
        throw new ConfigError(`--resume: the checkpoint's run has ${ck.state.totalSteps} steps but the set now gives ${sched.total}`);
      }
      start = ck.state.step;
      initial = ck.tensors;
    }
    const metricsFile = join(runDir, 'metrics.jsonl');
    const metrics = new MetricsLog(ws.db, opts.run, metricsFile);
    ws.db
      .prepare(
        `INSERT INTO runs(name, data, config, backend, status, step, updated_at) VALUES (?, ?, ?, ?, 'running', ?, datetime('now'))
         ON CONFLICT(name) DO UPDATE SET data = excluded.data, config = excluded.config, backend = excluded.backend,
         status = 'running', step = excluded.step, updated_at = excluded.updated_at`,
      )
      .run(opts.run, set.dir, JSON.stringify(cfg), cfg.backend, start);
    metrics.truncate(start);
    // Lineage: the exact set version this run reads, so `pros forget` can name the runs that saw a face. Ids name
    // this workspace's faces only when the set was exported from it.
    const ownSet = resolve(set.dir).startsWith(ws.paths.curated + sep);
    recordLineage(ws.db, opts.run, set.dir, readFileSync(join(set.dir, 'manifest.jsonl')), ownSet ? set.items.map((i) => i.id) : [], start);

    // ───── engine: this thread, or data-parallel workers ─────
    const workers = workerCount(cfg);
    const engine: Engine = workers > 1 ? await DataParallel.start(cfg, workers, set.items.length, initial) : await localEngine(cfg, set.items.length, initial, opts.quiet);
    if (!opts.quiet) {
      log.info(
        `train ${opts.run}: ${set.items.length} crops, ${sched.total} steps of ${cfg.batchSize} (${sched.stepsPerEpoch}/epoch), ` +
          `preset ${cfg.preset}, backend ${engine.backend}, ${workers > 1 ? `${workers} data-parallel workers` : 'one thread'}, matmul: ${engine.kernels}`,
      );
    }
    // Said even when quiet: the fallback is several times slower, and a quiet run would not show the line above.
    if (engine.kernels.startsWith('explicit-transpose') && !engine.kernels.includes('asked for')) {
      log.warn(`train ${opts.run}: the native matmul is not in use, so training runs several times slower: ${engine.kernels}`);
    }
    ws.db.prepare('UPDATE runs SET backend = ? WHERE name = ?').run(engine.backend, opts.run);
    const source = new ViewSource(set.items.map((i) => i.file), cfg);
    const bar = progress({ label: `train ${opts.run}`, total: sched.total, unit: 'steps', silent: opts.quiet });
    bar.tick(start);

    const summary: TrainSummary = {
      run: opts.run, runDir, status: 'done', startStep: start, step: start, totalSteps: sched.total, images: set.items.length,
      firstLoss: null, lastLoss: null, imgPerSec: 0, backend: engine.backend, kernels: engine.kernels, workers,
      warnings: [], checkpoint: hasCheckpoint(runDir) ? join(runDir, 'checkpoint') : null, metricsFile, last: null,
    };
    const save = async (step: number, lastLoss?: number) => {
      summary.checkpoint = saveCheckpoint(runDir, await engine.tensors(), {
        step, totalSteps: sched.total, rng: { seed: cfg.seed, scheme: 'derived-per-step/1' }, backend: engine.backend,
        savedAt: new Date().toISOString(), lastLoss,
      });
    };

    // ───── the loop ─────
    let computeSecs = 0;
    let lastWarn = -Infinity;
    try {
      for (let step = start; step < sched.total; step++) {
        // Let signals (Ctrl-C) and I/O in: with prefetched views a step never leaves the microtask queue otherwise.
        await new Promise((r) => setImmediate(r));
        if (opts.signal?.aborted) {
          summary.status = 'stopped';
          break;
        }
        const views = await source.get(step, sched.total);
        const t0 = performance.now();
        let m: StepMetrics;
        try {
          m = await engine.step(step, views);
        } catch (e) {
          if ((e as Error).name !== 'NonFiniteLossError') throw e;
          summary.status = 'failed';
          summary.error = (e as Error).message;
          log.error(`train ${opts.run}: ${summary.error}`);
          break;
        }
        const secs = (performance.now() - t0) / 1000;
        computeSecs += secs;
        const imgPerSec = cfg.batchSize / secs;
        const collapse = step >= cfg.collapse.afterFraction * sched.total ? collapseSigns(m, cfg) : null;
        metrics.write({ ...m, imgPerSec, ...(collapse ? { collapse } : {}) });
        if (collapse && step - lastWarn >= 20) {
          lastWarn = step;
          const msg = `step ${step}: signs of collapse: ${collapse}. Remedies: lower teacher momentum (teacher.momentum 0.99), fewer head outputs, the full teacher-temperature warm-up`;
          summary.warnings.push(msg);
          log.warn(`!!! ${msg}`);
        }
        summary.firstLoss ??= m.loss;
        summary.lastLoss = m.loss;
        summary.last = m;
        summary.step = step + 1;
        opts.onStep?.({ ...m, imgPerSec });
        bar.tick(1, { loss: m.loss.toFixed(3), 'img/s': imgPerSec.toFixed(1) });
        ws.db.prepare(`UPDATE runs SET step = ?, updated_at = datetime('now') WHERE name = ?`).run(step + 1, opts.run);
        if ((step + 1) % cfg.checkpointEvery === 0 && step + 1 < sched.total) await save(step + 1, m.loss);
      }
      // A failed step leaves the last good checkpoint as it is; a stop or the end saves where it is.
      if (summary.status !== 'failed' && summary.step > start) await save(summary.step, summary.lastLoss ?? undefined);
      else if (summary.status !== 'failed' && !summary.checkpoint) await save(summary.step);
    } finally {
      bar.stop();
      await source.close();
      await engine.close();
    }
    summary.imgPerSec = computeSecs > 0 ? ((summary.step - start) * cfg.batchSize) / computeSecs : 0;
    ws.db.prepare(`UPDATE runs SET status = ?, step = ?, updated_at = datetime('now') WHERE name = ?`).run(summary.status, summary.step, opts.run);
    return summary;
  } finally {
    ws.close();
  }
}

