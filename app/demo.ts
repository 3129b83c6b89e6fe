// `pros demo` (npm start): the main job on an embedded default. Builds a local corpus from photos shipped in npm
// packages plus generated images, serves it on 127.0.0.1, and runs the real chain on it: crawl and curate, export,
// a short ProS training run, a small evaluation, and where to browse the results.
import type { Command } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { intArg, openContext, run, withCommonOptions, type CommonOptions } from '../src/command.ts';
import { InputError } from '../src/errors.ts';
import { isModelFolder, shippedModel } from '../src/model/folder.ts';
import { log } from '../src/log.ts';
import { buildCorpus } from './demo/corpus.ts';
import { serveCorpus, urlList } from './demo/server.ts';
import { curate } from '../retrieval/pipeline.ts';
import { exportSet } from '../retrieval/export.ts';
import { formatSummary, summarize, type CurateSummary } from '../retrieval/summary.ts';
import { interruptible, setName } from '../retrieval/commands.ts';
import { train, type TrainSummary } from '../training/launcher.ts';
import { fastPathAdvice } from '../training/kernels/native-matmul.ts';
import { embedSet } from '../training/embed.ts';
import { quickEvaluation } from '../training/downstream/quick.ts';
import { loadBackend } from '../src/backend.ts';
import { openWorkspace } from '../src/workspace.ts';
import { forget } from '../retrieval/privacy/forget.ts';

const DEMO_PORT = 47310;

interface DemoFlags extends CommonOptions {
  set: string;
  synthetic: number;
  nonface: number;
  steps: number;
  train: boolean;
  /** An exported backbone shown beside the short run (default: the shipped models/pros-tiny, when present). */
  model?: string;
}

export interface DemoResult {
  corpus: { dir: string; files: number; served: string };
  curate: CurateSummary;
  train?: Pick<TrainSummary, 'run' | 'runDir' | 'status' | 'step' | 'firstLoss' | 'lastLoss' | 'imgPerSec' | 'backend' | 'kernels' | 'checkpoint' | 'metricsFile' | 'warnings'>;
  embedded?: number;
  /** The demo's forget request: one person, by an example photo, before the set is exported and trained on. */
  forget?: { requestId: number; example: string; faces: number; images: number; files: number; optouts: number; runs: string[] };
  /** The exported backbone embedded and evaluated beside the run (the shipped one by default), if any. */
  model?: { dir: string; name: string; embedded: number };
  /** The closing evaluation table (Markdown), as `pros report` prints it. */
  evaluation?: string;
  workspace: string;
}

export async function demo(o: DemoFlags): Promise<DemoResult> {
  // The corpus is served on 127.0.0.1, which the fetcher refuses by default: the demo opts in, visibly.
  const ctx = openContext(o, { fetch: { allowPrivate: true } });
  const ac = interruptible();
  const quiet = o.quiet || o.json;
  let result: DemoResult;
  // First, whether training will have its fast path here, and what to install when not (README, Set-up).
  if (o.train) {
    const advice = fastPathAdvice();
    if (advice) log.warn(advice);
    else log.info('training kernels: native (OpenBLAS matmul + native elementwise ops) available');
  }
  try {
    const corpusDir = join(ctx.ws.root, 'demo-corpus');
    log.info(`building the demo corpus in ${corpusDir}`);
    const corpus = await buildCorpus(corpusDir, { synthetic: o.synthetic, nonface: o.nonface });
    // A fixed port keeps the corpus URLs the same from run to run, so a rerun finds its items already done.
    const server = await serveCorpus(corpus, DEMO_PORT);
    try {
      log.info(`serving it at ${server.pageUrl}`);
      // The URL list names the server's port, so it is written anew each run; were the port taken and another
      // used, the items would be new URLs but their images are known by sha256 and not analysed again.
      const listFile = join(ctx.ws.root, 'demo-urls.txt');
      writeFileSync(listFile, urlList(corpus, server.origin));
      const summary = await curate({ ws: ctx.ws, config: ctx.config, sources: [server.pageUrl, listFile], set: o.set, signal: ac.signal, quiet });
      // One forget request, as a person asking to be removed would make it: by one example photo. A rerun of the
      // demo reports the request already made (its photos are opted out and no longer curated).
      const example = join(corpusDir, 'photo-SeanConnery.jpg');
      let forgotten: DemoResult['forget'];
      if (!summary.interrupted && existsSync(example)) {
        const f = await forget(ctx.ws, ctx.config, { images: [example] }, { who: 'demo', once: true });
        const c = f.request!.counts!;
        forgotten = { requestId: f.request!.id, example, faces: c.faces, images: c.images, files: c.files, optouts: c.optouts, runs: f.runs.map((r) => r.run) };
        // The summary reads the workspace again: the forgotten faces are gone, their items skipped as opted_out.
        Object.assign(summary, summarize(ctx.ws.db, o.set, summary.sources, summary.elapsedSec * 1000));
      }
      if (!summary.interrupted) {
        const exported = await exportSet(ctx.ws, ctx.config, o.set, { quiet });
        summary.exported = { dir: exported.dir, crops: exported.crops };
      }
      if (!quiet) process.stderr.write(formatSummary(summary) + '\n');
      result = { corpus: { dir: corpusDir, files: corpus.files.length, served: server.pageUrl }, curate: summary, forget: forgotten, workspace: ctx.ws.root };
    } finally {
      await server.close();
    }
  } finally {
    ctx.ws.close();
  }
  if (!o.train || result.curate.interrupted || !result.curate.exported?.crops) return result;

  // A short real ProS run on the curated set (the tiny CPU preset), then the teacher's embeddings of the set, so the
  // web UI can search in the learned space beside human's descriptors. Rerunning the demo continues the run.
  log.info(`training ProS (tiny preset, ${o.steps} steps) on ${result.curate.exported.dir}`);
  const runName = `${o.set}-tiny`;
  const resume = existsSync(join(ctx.ws.paths.runs, runName));
  const t = await train({
    data: result.curate.exported.dir,
    // A resumed run keeps its saved config; only a new run takes the preset.
    config: resume ? undefined : 'tiny',
    run: runName,
    workspace: ctx.config.workspace,
    backend: ctx.config.backend,
    overrides: { steps: o.steps },
    resume,
    quiet,
    signal: ac.signal,
  });
  result.train = {
    run: t.run, runDir: t.runDir, status: t.status, step: t.step, firstLoss: t.firstLoss, lastLoss: t.lastLoss,
    imgPerSec: t.imgPerSec, backend: t.backend, kernels: t.kernels, checkpoint: t.checkpoint, metricsFile: t.metricsFile, warnings: t.warnings,
  };
  const own = t.status === 'done' && t.checkpoint ? runName : undefined;
  if (own) {
    const e = await embedSet({ run: own, set: o.set, workspace: ctx.config.workspace, backend: ctx.config.backend, quiet });
    result.embedded = e.embedded + e.alreadyEmbedded;
  }
  // The reference backbone (models/pros-tiny) gets a ProS space of its own and a row in the table: a 40-step run
  // shows the machinery, the shipped one what the method learns.
  const model = o.model ?? shippedModel();
  if (model) {
    if (!isModelFolder(model)) throw new InputError(`--model ${model}: not a folder written by pros export-model`);
    const e = await embedSet({ run: model, set: o.set, workspace: ctx.config.workspace, backend: ctx.config.backend, quiet });
    result.model = { dir: model, name: e.run, embedded: e.embedded + e.alreadyEmbedded };
  }
  if (own || model) {
    // A small evaluation: linear probes for expression and landmarks on drawn synthetic faces, for the run's
    // teacher (and the shipped backbone) and the same ViT at random init, so the table has its baseline beside it.
    log.info('evaluating against a random-init ViT on synthetic faces (linear probes)');
    const { tf, name } = await loadBackend(ctx.config.backend, { quiet: true });
    const ws = openWorkspace(ctx.config.workspace);
    try {
      const q = await quickEvaluation({
        ws, tf, backend: name, run: (own ?? model)!, models: own && model ? [model] : [], log: quiet ? undefined : (l) => log.info(l),
      });
      result.evaluation = q.markdown;
    } finally {
      ws.close();
    }
  }
  return result;
}

export function formatDemo(r: DemoResult): string {
  const lines = [
    `demo corpus   ${r.corpus.files} files in ${r.corpus.dir} (served at ${r.corpus.served} during the run)`,
    `curated set   ${r.curate.exported?.dir ?? '(not exported)'}: ${r.curate.setSize} faces`,
  ];
  if (r.forget) {
    const f = r.forget;
    lines.push(
      `forget        request #${f.requestId} (the person of ${f.example.split('/').at(-1)}): ${f.faces} face(s), ${f.images} image(s), ${f.files} file(s) removed; ` +
        `${f.optouts} opt-out(s) added; runs to retrain: ${f.runs.join(', ') || 'none'}  (pros runs --affected, /audit.html)`,
    );
  }
  if (r.train) {
    const loss = r.train.firstLoss != null && r.train.lastLoss != null ? `, loss ${r.train.firstLoss.toFixed(3)} → ${r.train.lastLoss.toFixed(3)}` : '';
    lines.push(
      `training run  ${r.train.run}: ${r.train.status} at step ${r.train.step}${loss}, ${r.train.imgPerSec.toFixed(1)} img/s on ${r.train.backend} (${r.train.kernels})`,
      `  checkpoint  ${r.train.checkpoint ?? '(none)'}`,
      `  metrics     ${r.train.metricsFile}`,
    );
    for (const w of r.train.warnings) lines.push(`  warning     ${w}`);
    if (r.embedded !== undefined) lines.push(`embeddings    ${r.embedded} faces of the set in the run's ProS space`);
  }
  if (r.model) lines.push(`backbone      ${r.model.name} (${r.model.dir}): ${r.model.embedded} faces in its ProS space`);
  if (r.evaluation) lines.push('', r.evaluation.trim(), '');
  lines.push(`browse        node bin/pros.js serve --workspace ${r.workspace}   → http://127.0.0.1:8080/`);
  return lines.join('\n');
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('demo')
      .description('Run the whole chain on a local demo corpus served on 127.0.0.1 (no network needed)')
      .option('-s, --set <name>', 'name of the curated demo set', 'demo')
      .option('--synthetic <n>', 'drawn synthetic faces in the corpus', intArg(0), 8)
      .option('--nonface <n>', 'generated non-face images in the corpus', intArg(0), 8)
      .option('--steps <n>', 'steps of the short ProS training run', intArg(1), 40)
      .option('--no-train', 'stop after curating (no training, embedding or evaluation)')
      .option('--model <dir>', 'exported backbone embedded and evaluated beside the short run (default: models/pros-tiny when present)'),
  ).action(async (o: DemoFlags) => {
    await run(o, () => {
      setName(o.set, '--set');
      return demo(o);
    }, formatDemo);
  });
}
