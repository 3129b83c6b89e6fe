// `pros worker --queue redis://…`: takes shards from the queue and runs the per-item pipeline on them (fetch,
// decode, face cascade, policy), handing each shard's results back as the job's return value. It holds no workspace:
// the coordinator merges. A shard whose process dies is taken again once its lock expires (BullMQ's stalled check).
import { hostname } from 'node:os';
import { Worker, UnrecoverableError, type Job } from 'bullmq';
import type { ProsConfig } from '../../src/config.ts';
import { InputError } from '../../src/errors.ts';
import { log } from '../../src/log.ts';
import { SHARD_SCHEMA, ShardHeader, ShardJob, schemaMismatch, type ShardItemResult, type ShardResult } from '../../src/contracts/shard.ts';
import { Fetcher } from '../fetch/index.ts';
import { FacePool } from '../faces/pool.ts';
import { analyseItem, ShardCopies } from './analyse.ts';
import { connect, QUEUE_NAME, QUEUE_PREFIX, redisOptions, SCHEMA_KEY } from './connection.ts';

export interface WorkerOptions {
  queue: string;
  /** The worker's own config: faces.workers (threads on this machine) is the only part it keeps over the job's. */
  config: ProsConfig;
  /** Shards processed at once. */
  concurrency: number;
  /** Milliseconds a shard's lock lasts without renewal before another worker may take it. */
  lockMs: number;
  /** Times a shard may lose its worker (stall) before it is failed. */
  maxStalls: number;
  signal: AbortSignal;
}

export interface WorkerSummary {
  shards: number;
  items: number;
  refused: number;
}

/**
 * Everything a shard needs that is costly to build. The face models load when the worker starts, with its own
 * config, so no shard waits on them; they load again only when a shard's policy differs from what is loaded.
 */
class Engines {
  private poolKey = '';
  private pool?: FacePool;
  private fetchKey = '';
  private fetcher?: Fetcher;

  constructor(private readonly own: ProsConfig) {}

  /** Loads the face models with the worker's own config. */
  async warm(): Promise<void> {
    await this.engines(this.own);
  }

  async for(job: ShardJob): Promise<{ config: ProsConfig; pool: FacePool; fetcher: Fetcher }> {
    // The coordinator's policy and fetch rules, with this machine's thread count.
    return this.engines({ ...this.own, ...job.config, faces: { ...job.config.faces, workers: this.own.faces.workers } });
  }

  private async engines(config: ProsConfig): Promise<{ config: ProsConfig; pool: FacePool; fetcher: Fetcher }> {
    const poolKey = JSON.stringify([config.faces, config.policy]);
    if (poolKey !== this.poolKey || !this.pool) {
      await this.pool?.close();
      this.pool = undefined;
      this.pool = await FacePool.start(config);
      this.poolKey = poolKey;
    }
    const fetchKey = JSON.stringify(config.fetch);
    if (fetchKey !== this.fetchKey || !this.fetcher) {
      this.fetcher?.close();
      this.fetcher = new Fetcher(config.fetch);
      this.fetchKey = fetchKey;
    }
    return { config, pool: this.pool, fetcher: this.fetcher };
  }

  async close(): Promise<void> {
    this.fetcher?.close();
    await this.pool?.close();
    this.pool = undefined;
    this.fetcher = undefined;
    this.poolKey = this.fetchKey = '';
  }
}

/**
 * Test-only fault hook: `PROS_FAULT_WORKER_DIE=<text>` kills this worker process (SIGKILL) when it takes an item whose
 * URI contains the text, standing in for an item that crashes the process (a native crash, the OOM killer).
 */
function faultHook(uri: string): void {
  const text = process.env.PROS_FAULT_WORKER_DIE;
  if (text && uri.includes(text)) process.kill(process.pid, 'SIGKILL');
}

async function processShard(job: ShardJob, engines: Engines): Promise<ShardResult> {
  const { config, pool, fetcher } = await engines.for(job);
  const deps = { fetcher, pool, fetch: config.fetch, decode: config.decode };
  const copies = new ShardCopies();
  const results: ShardItemResult[] = new Array(job.items.length);
  // Items of a shard run like a local run's: a bounded number in flight.
  let next = 0;
  const lanes = Array.from({ length: Math.min(job.items.length, Math.max(1, config.fetch.concurrency)) }, async () => {
    while (next < job.items.length) {
      const i = next++;
      const item = job.items[i]!;
      faultHook(item.uri);
      try {
        results[i] = await analyseItem(item, deps, copies);
      } catch (err) {
        // One item's bug is that item's status, as in a local run; the shard's other items still count.
        log.warn(`item ${item.uri}: ${(err as Error).message}`);
        results[i] = { id: item.id, outcome: { status: 'failed', reason: 'internal_error', attempts: 1 } };
      }
    }
  });
  await Promise.all(lanes);
  return { schema: SHARD_SCHEMA, run: job.run, shard: job.shard, worker: `${hostname()}:${process.pid}`, items: results };
}

/** Refuses to start against a queue whose coordinator speaks another shard schema. */
async function checkSchema(url: string): Promise<void> {
  const redis = connect(url);
  try {
    const theirs = await redis.get(SCHEMA_KEY);
    if (theirs !== null && theirs !== SHARD_SCHEMA) throw new InputError(schemaMismatch(theirs, `the coordinator of ${url}`));
  } finally {
    redis.disconnect();
  }
}

export async function runWorker(opts: WorkerOptions): Promise<WorkerSummary> {
  await checkSchema(opts.queue);
  const engines = new Engines(opts.config);
  const summary: WorkerSummary = { shards: 0, items: 0, refused: 0 };
  await engines.warm();
  if (opts.signal.aborted) {
    await engines.close();
    return summary;
  }
  log.info(`worker ${hostname()}:${process.pid} ready (${opts.config.faces.workers} face threads), taking shards from ${new URL(opts.queue).host}`);
  const ac = new AbortController();
  let refusedWith: string | undefined;
  const worker = new Worker(
    QUEUE_NAME,
    async (job: Job) => {
      const header = ShardHeader.safeParse(job.data);
      if (header.success && header.data.schema !== SHARD_SCHEMA) {
        // Another pros version enqueued it: fail it with the reason (no retry can help) and take no more work.
        refusedWith = schemaMismatch(header.data.schema, `shard ${job.id}`);
        summary.refused++;
        queueMicrotask(() => ac.abort());
        throw new UnrecoverableError(refusedWith);
      }
      const parsed = ShardJob.safeParse(job.data);
      if (!parsed.success) throw new Error(`shard ${job.id}: malformed job data (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`);
      const result = await processShard(parsed.data, engines);
      summary.shards++;
      summary.items += result.items.length;
      log.info(`shard ${parsed.data.shard}: ${result.items.length} items`);
      return result;
    },
    {
      connection: redisOptions(opts.queue),
      prefix: QUEUE_PREFIX,
      concurrency: opts.concurrency,
      lockDuration: opts.lockMs,
      stalledInterval: Math.max(500, Math.round(opts.lockMs / 2)),
      maxStalledCount: opts.maxStalls,
    },
  );
  worker.on('error', (err) => log.debug(`queue: ${err.message}`));
  const stop = new Promise<void>((resolve) => {
    const done = () => resolve();
    opts.signal.addEventListener('abort', done, { once: true });
    ac.signal.addEventListener('abort', done, { once: true });
  });
  await stop;
  // Finishes the shards in hand (their results reach the queue), then lets go.
  await worker.close();
  await engines.close();
  if (refusedWith) throw new InputError(refusedWith);
  return summary;
}
