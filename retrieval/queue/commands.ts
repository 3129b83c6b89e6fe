// `pros worker --queue redis://…`, and the queued form of `pros curate` (called from retrieval/commands.ts).
import type { Command } from 'commander';
import { intArg, openContext, buildConfig, run, withCommonOptions, type CommonOptions } from '../../src/command.ts';
import type { DeepPartial, ProsConfig } from '../../src/config.ts';
import { setLogLevel } from '../../src/log.ts';
import { exportSet } from '../export.ts';
import { formatSummary, type CurateSummary } from '../summary.ts';
import { coordinate, type QueueSummary } from './coordinator.ts';
import { runWorker, type WorkerSummary } from './worker.ts';

export interface QueuedCurateFlags {
  queue: string;
  shardSize: number;
  attempts: number;
  export: boolean;
}

/** `pros curate … --queue`: coordinate, then export as a local run does. */
export async function curateQueued(
  o: CommonOptions & QueuedCurateFlags & { set: string },
  sources: string[],
  flags: DeepPartial<ProsConfig>,
  signal: AbortSignal,
): Promise<CurateSummary & { queue: QueueSummary }> {
  const ctx = openContext(o, flags);
  try {
    const summary = await coordinate({
      ws: ctx.ws, config: ctx.config, sources, set: o.set, queue: o.queue, shardSize: o.shardSize, attempts: o.attempts, signal, quiet: o.quiet || o.json,
    });
    if (o.export && !summary.interrupted) {
      const exported = await exportSet(ctx.ws, ctx.config, o.set, { quiet: o.quiet || o.json });
      summary.exported = { dir: exported.dir, crops: exported.crops };
    }
    if (summary.interrupted) process.exitCode = 130;
    return summary;
  } finally {
    ctx.ws.close();
  }
}

export function formatQueued(s: CurateSummary & { queue: QueueSummary }): string {
  const q = s.queue.shards;
  const failed = s.queue.failedShards.map((f) => `\n    shard ${f.shard}: ${f.error}`).join('');
  return `${formatSummary(s)}\n  shards       ${q.total}: merged ${q.merged}, failed ${q.failed}, queued ${q.queued}${failed}`;
}

interface WorkerFlags extends CommonOptions {
  queue: string;
  concurrency: number;
  workers?: number;
  lockMs: number;
  maxStalls: number;
}

export function registerWorker(program: Command): void {
  withCommonOptions(
    program
      .command('worker')
      .description('Take curation shards from a Redis queue (pros curate --queue) and run fetch, decode, face analysis and policy on them')
      .requiredOption('--queue <url>', 'the Redis holding the queue, redis://HOST:PORT')
      .option('--concurrency <n>', 'shards processed at once (2 keeps the face threads busy across shard ends; 1 keeps a shard that kills its worker from taking another with it)', intArg(1), 1)
      .option('--workers <n>', 'face-analysis worker threads', intArg(1))
      .option('--lock-ms <ms>', 'how long a shard stays locked to a worker that stops answering', intArg(1000), 30_000)
      .option('--max-stalls <n>', 'times a shard may lose its worker before it fails', intArg(0), 1),
    // No workspace: the coordinator's is the one that counts, so a -w here would only mislead.
    { workspace: false },
  ).action(async (o: WorkerFlags) => {
    await run<WorkerSummary>(o, async () => {
      // No workspace: a worker only needs the config (its thread count; the policy comes with each shard).
      if (o.verbose) setLogLevel('debug');
      else if (o.json || o.quiet) setLogLevel('warn');
      const config = buildConfig(o, { faces: { workers: o.workers } });
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      return runWorker({ queue: o.queue, config, concurrency: o.concurrency, lockMs: o.lockMs, maxStalls: o.maxStalls, signal: ac.signal });
    }, (s) => `worker stopped: ${s.shards} shards, ${s.items} items${s.refused ? `, ${s.refused} refused` : ''}`);
  });
}
