// `pros demo` (npm start): the main job on an embedded default. Builds a local corpus from photos shipped in npm
// packages plus generated images, serves it on 127.0.0.1, and runs the real chain on it: crawl and curate, export,
// a short ProS training run, a small evaluation, and where to browse the results.
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { intArg, openContext, run, withCommonOptions, type CommonOptions } from './command.ts';
import { log } from './log.ts';
import { buildCorpus } from './demo/corpus.ts';
import { serveCorpus, urlList } from './demo/server.ts';
import { curate } from '../retrieval/pipeline.ts';
import { exportSet } from '../retrieval/export.ts';
import { formatSummary, type CurateSummary } from '../retrieval/summary.ts';
import { interruptible } from '../retrieval/commands.ts';

interface DemoFlags extends CommonOptions {
  set: string;
  synthetic: number;
  nonface: number;
}

export interface DemoResult {
  corpus: { dir: string; files: number; served: string };
  curate: CurateSummary;
}

export async function demo(o: DemoFlags): Promise<DemoResult> {
  const ctx = openContext(o);
  const ac = interruptible();
  const quiet = o.quiet || o.json;
  try {
    const corpusDir = join(ctx.ws.root, 'demo-corpus');
    log.info(`building the demo corpus in ${corpusDir}`);
    const corpus = await buildCorpus(corpusDir, { synthetic: o.synthetic, nonface: o.nonface });
    const server = await serveCorpus(corpus);
    try {
      log.info(`serving it at ${server.pageUrl}`);
      // The URL list names the demo server's current port, so it is written anew each run; the crawl and the
      // list resume by URL, and a rerun on a new port redoes nothing already analysed (images dedup by sha256).
      const listFile = join(ctx.ws.root, 'demo-urls.txt');
      writeFileSync(listFile, urlList(corpus, server.origin));
      const summary = await curate({ ws: ctx.ws, config: ctx.config, sources: [server.pageUrl, listFile], set: o.set, signal: ac.signal, quiet });
      if (!summary.interrupted) {
        const exported = await exportSet(ctx.ws, ctx.config, o.set, { quiet });
        summary.exported = { dir: exported.dir, crops: exported.crops };
      }
      if (!quiet) process.stderr.write(formatSummary(summary) + '\n');
      return { corpus: { dir: corpusDir, files: corpus.files.length, served: server.pageUrl }, curate: summary };
    } finally {
      await server.close();
    }
  } finally {
    ctx.ws.close();
  }
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('demo')
      .description('Run the whole chain on a local demo corpus served on 127.0.0.1 (no network needed)')
      .option('-s, --set <name>', 'name of the curated demo set', 'demo')
      .option('--synthetic <n>', 'drawn synthetic faces in the corpus', intArg(0), 8)
      .option('--nonface <n>', 'generated non-face images in the corpus', intArg(0), 8),
  ).action(async (o: DemoFlags) => {
    await run(o, () => demo(o), (r) => `demo corpus: ${r.corpus.files} files (${r.corpus.dir})\ncurated set: ${r.curate.exported?.dir ?? '(not exported)'}`);
  });
}
