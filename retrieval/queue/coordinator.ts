// `pros curate <sources…> --queue redis://…`: the coordinator. It reads the sources as a local run does, records
// every item in the workspace, groups pending items into shards (one BullMQ job each), follows the queue and merges
// each finished shard into the workspace: the single SQLite writer. Its state is the workspace (shards table,
// items.shard) plus the queue, so a stopped coordinator started again re-enqueues its unfinished shards (a job id
// per shard: adding an existing one is a no-op) and merges what finished meanwhile.
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { ProsConfig } from '../../src/config.ts';
import type { Workspace } from '../../src/workspace.ts';
import { log } from '../../src/log.ts';
import { progress as makeProgress } from '../../src/progress.ts';
import { SHARD_SCHEMA, ShardResult, type ShardItem, type ShardJob } from '../../src/contracts/shard.ts';
import { recordedSourceItems } from '../source-items.ts';
import { detectSource, type SourceItem } from '../sources/index.ts';
import { Fetcher } from '../fetch/index.ts';
import { CurateStore } from '../store.ts';
import { FaceIndex } from '../face-index.ts';
import { OptOutMatcher } from '../privacy/optout.ts';
import { summarize, type CurateSummary } from '../summary.ts';
import { connect, QUEUE_NAME, QUEUE_PREFIX, redisOptions, SCHEMA_KEY } from './connection.ts';
import { failShard, mergeShard, type MergeContext } from './merge.ts';
import type { ItemRow, ShardRow } from '../../src/contracts/rows.ts';

export interface CoordinateOptions {
  ws: Workspace;
  config: ProsConfig;
  sources: string[];
  set: string;
  queue: string;
  /** Items per shard: the unit of work, retry and output. */
  shardSize: number;
  /** Attempts a shard gets before it ends failed. */
  attempts: number;
  /** Shards waiting in Redis at most; enumeration pauses beyond it, so Redis memory stays bounded. */
  maxQueued?: number;
  signal?: AbortSignal;
  quiet?: boolean;
}

export interface QueueSummary {
  shards: { total: number; merged: number; failed: number; queued: number };
  failedShards: Array<{ shard: number; error: string }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isLocal = (uri: string) => !/^https?:/i.test(uri);

/** The workspace's token, made once: job ids carry it, so several workspaces can share one queue. */
function tokenOf(ws: Workspace): string {
  const row = ws.db.prepare<[], string>("SELECT value FROM queue_meta WHERE key = 'token'").pluck().get();
  if (row) return row;
  const token = randomBytes(6).toString('hex');
  ws.db.prepare("INSERT INTO queue_meta(key, value) VALUES ('token', ?)").run(token);
  return token;
}

/** BullMQ's reason for a job that lost its worker more often than the worker's stall limit allows. */
const STALLED = 'job stalled more than allowable limit';

/** A failed shard's error as the workspace keeps it. */
function failureOf(job: Job): string {
  if (job.failedReason === STALLED) {
    // The worker process died (crashed, killed, out of memory) or stopped renewing its lock, each time it held the shard.
    return `after losing its worker ${job.stalledCounter} times (pros worker --max-stalls): a worker process died or stopped answering while on this shard, so something in it may crash the worker`;
  }
  return `after ${job.attemptsMade} attempts: ${job.failedReason || 'failed'}`;
}

export async function coordinate(opts: CoordinateOptions): Promise<CurateSummary & { queue: QueueSummary }> {
  const { ws, config, signal } = opts;
  const started = Date.now();
  const store = new CurateStore(ws.db);
  const sources = opts.sources.map((arg) => detectSource(arg));
  store.ensureSet(opts.set, 'curated', { policy: config.policy });
  const optouts = OptOutMatcher.load(ws, config.privacy.samePerson);
  const token = tokenOf(ws);
  const redis = connect(opts.queue);
  redis.on('error', (e) => log.debug(`redis: ${e.message}`));
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(opts.queue), prefix: QUEUE_PREFIX });
  queue.on('error', (e) => log.debug(`queue: ${e.message}`));
  // A finished shard wakes the merge loop at once; the poll below is only the fallback (a missed event, a restart).
  const events = new QueueEvents(QUEUE_NAME, { connection: redisOptions(opts.queue), prefix: QUEUE_PREFIX });
  events.on('error', (e) => log.debug(`queue events: ${e.message}`));
  let nudged = false;
  let wake: (() => void) | undefined;
  const nudge = () => {
    nudged = true;
    wake?.();
  };
  events.on('completed', nudge);
  events.on('failed', nudge);
  const rest = (ms: number) =>
    nudged ? Promise.resolve() : new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => (wake = undefined));
  const fetcher = new Fetcher(config.fetch);
  const faceIndex = await FaceIndex.open(ws, config);
  const merge: MergeContext = { ws, store, faceIndex, optouts, set: opts.set };
  const maxQueued = Math.max(1, opts.maxQueued ?? 1000);
  const jobId = (shard: number) => `${token}-s${shard}`;
  const jobConfig: ShardJob['config'] = { fetch: config.fetch, decode: config.decode, faces: config.faces, policy: config.policy };

  const q = {
    queued: ws.db.prepare<[], number>("SELECT id FROM shards WHERE state = 'queued' ORDER BY id").pluck(),
    countQueued: ws.db.prepare<[], number>("SELECT count(*) FROM shards WHERE state = 'queued'").pluck(),
    state: ws.db.prepare<[number], ShardRow['state']>('SELECT state FROM shards WHERE id = ?').pluck(),
    itemsOf: ws.db.prepare<[number], Pick<ItemRow, 'id' | 'uri'>>("SELECT id, uri FROM items WHERE shard = ? AND status = 'pending' ORDER BY id"),
    shardOfItem: ws.db.prepare<[number], number | null>('SELECT shard FROM items WHERE id = ?').pluck(),
    sizeOf: ws.db.prepare<[number], number>('SELECT items FROM shards WHERE id = ?').pluck(),
    newShard: ws.db.prepare('INSERT INTO shards(items) VALUES (?)'),
    assign: ws.db.prepare('UPDATE items SET shard = ? WHERE id = ?'),
    unsharded: ws.db.prepare<[number, number, number], Pick<ItemRow, 'id' | 'uri'>>("SELECT id, uri FROM items WHERE source_id = ? AND status = 'pending' AND kind = 'image' AND shard IS NULL AND id > ? ORDER BY id LIMIT ?"),
  };

  const bar = makeProgress({ label: 'curate', total: 0, unit: 'items', silent: opts.quiet });
  const counts = { merged: 0, failed: 0, itemsDone: 0 };
  const failedReasons: Record<string, number> = Object.create(null);
  const tick = (n: number) => bar.tick(n, { shards: `${counts.merged}+${counts.failed}/${q.countQueued.get()! + counts.merged + counts.failed}`, accepted: faceIndex.acceptedThisRun, ...failedReasons });

  async function enqueue(shard: number, items: ShardItem[]): Promise<void> {
    const data: ShardJob = { schema: SHARD_SCHEMA, run: token, shard, config: jobConfig, items };
    await queue.add('shard', data, {
      jobId: jobId(shard),
      attempts: opts.attempts,
      removeOnComplete: false,
      removeOnFail: false,
    });
  }

  /** Records a shard of pending items (one transaction), then enqueues it; a crash between is healed by resume(). */
  async function flush(buffer: Array<{ id: number; uri: string }>): Promise<void> {
    if (buffer.length === 0) return;
    const shard = ws.db.transaction(() => {
      const id = Number(q.newShard.run(buffer.length).lastInsertRowid);
      for (const it of buffer) q.assign.run(id, it.id);
      return id;
    })();
    bar.setTotal(total += buffer.length);
    await enqueue(shard, buffer.map((it) => ({ id: it.id, uri: it.uri, local: isLocal(it.uri) })));
    buffer.length = 0;
  }

  /** Shards recorded as queued: enqueued again (a no-op for jobs Redis still holds, a repair for lost ones). */
  async function resume(onlyMissing: boolean): Promise<void> {
    for (const shard of q.queued.all()) {
      if (onlyMissing && (await queue.getJob(jobId(shard)))) continue;
      const items = q.itemsOf.all(shard).map((it) => ({ id: it.id, uri: it.uri, local: isLocal(it.uri) }));
      if (items.length === 0) {
        ws.db.prepare("UPDATE shards SET state = 'merged', finished_at = datetime('now') WHERE id = ?").run(shard);
        continue;
      }
      if (onlyMissing) log.warn(`shard ${shard}: its job is gone from Redis, enqueued again`);
      await enqueue(shard, items);
    }
  }

  function shardOf(job: Job): number | undefined {
    const m = /^(.+)-s(\d+)$/.exec(job.id ?? '');
    return m && m[1] === token ? Number(m[2]) : undefined;
  }

  /** Merges finished shards and records failed ones; returns how many it handled. */
  async function collect(): Promise<number> {
    let handled = 0;
    for (const job of await queue.getJobs(['completed'], 0, 99, true)) {
      const shard = shardOf(job);
      if (shard === undefined) continue;
      if (q.state.get(shard) === 'queued') {
        const parsed = ShardResult.safeParse(job.returnvalue);
        if (!parsed.success || parsed.data.shard !== shard) {
          counts.failed++;
          failedReasons.bad_result = (failedReasons.bad_result ?? 0) + 1;
          tick(failShard(ws, shard, `unreadable result: ${parsed.success ? 'another shard' : parsed.error.issues[0]?.message}`));
        } else {
          mergeShard(merge, parsed.data);
          counts.merged++;
          tick(q.sizeOf.get(shard)!);
        }
      }
      // Merged (now or before a restart): the result leaves Redis.
      await job.remove().catch((e: Error) => log.debug(`remove ${job.id}: ${e.message}`));
      handled++;
    }
    for (const job of await queue.getJobs(['failed'], 0, 99, true)) {
      const shard = shardOf(job);
      if (shard === undefined) continue;
      if (q.state.get(shard) === 'queued') {
        const error = failureOf(job);
        log.warn(`shard ${shard} failed ${error}`);
        counts.failed++;
        failedReasons.shard_failed = (failedReasons.shard_failed ?? 0) + 1;
        tick(failShard(ws, shard, error));
      }
      await job.remove().catch((e: Error) => log.debug(`remove ${job.id}: ${e.message}`));
      handled++;
    }
    return handled;
  }

  let total = 0;
  let startupMs = 0;
  let enumerated = false;
  let failure: unknown;
  const stopped = () => Boolean(signal?.aborted) || failure !== undefined;

  async function enumerate(): Promise<void> {
    const buffer: Array<{ id: number; uri: string }> = [];
    const add = async (id: number, uri: string) => {
      buffer.push({ id, uri });
      if (buffer.length >= opts.shardSize) {
        while (q.countQueued.get()! >= maxQueued && !stopped()) await sleep(200);
        await flush(buffer);
      }
    };
    for (const src of sources) {
      if (stopped()) break;
      const row = store.source(src.kind, src.uri);
      if (!row.done) {
        const items = recordedSourceItems(src, row.id, { store, fetcher, config, optouts, signal });
        for await (const item of items as AsyncIterable<SourceItem>) {
          if (stopped()) break;
          const itemRow = store.addItem(row.id, item.uri, item.meta, item.depth);
          if (itemRow.status !== 'pending') continue;
          if (q.shardOfItem.get(itemRow.id) !== null) continue;
          if (optouts.matchesUri(itemRow.uri)) {
            store.finishItem(itemRow.id, { status: 'skipped', reason: 'opted_out', attempts: 0 });
            continue;
          }
          await add(itemRow.id, itemRow.uri);
        }
        if (stopped()) break;
        // Re-reading a source whose earlier enumeration was cut short meets its recorded items again (addItem
        // keeps them), so every unsharded pending item passes through `add` above.
        await flush(buffer);
        store.markSourceDone(row.id);
      } else {
        let after = 0;
        for (let page; (page = q.unsharded.all(row.id, after, 500)).length && !stopped();) {
          for (const it of page) {
            if (optouts.matchesUri(it.uri)) store.finishItem(it.id, { status: 'skipped', reason: 'opted_out', attempts: 0 });
            else await add(it.id, it.uri);
          }
          after = page[page.length - 1]!.id;
        }
      }
    }
    if (!stopped()) await flush(buffer);
    enumerated = true;
  }

  try {
    await redis.set(SCHEMA_KEY, SHARD_SCHEMA);
    total = ws.db.prepare<[], number>("SELECT coalesce(sum(items), 0) FROM shards WHERE state = 'queued'").pluck().get()!;
    bar.setTotal(total);
    await resume(false);
    startupMs = Date.now() - started;
    const reading = enumerate().catch((e) => {
      failure ??= e;
    });
    let idle = 0;
    while (!stopped()) {
      let handled = 0;
      nudged = false;
      try {
        handled = await collect();
        // Now and then, repair shards whose jobs Redis lost (a restart without persistence, a flushed database).
        if (++idle % 50 === 0) await resume(true);
      } catch (e) {
        log.debug(`queue: ${(e as Error).message}`);
      }
      if (enumerated && q.countQueued.get()! === 0) break;
      if (handled === 0) await rest(500);
    }
    await reading;
    if (failure) throw failure;
  } finally {
    bar.stop();
    faceIndex.save();
    fetcher.close();
    await events.close();
    await queue.close();
    redis.disconnect();
  }
  const summary = summarize(ws.db, opts.set, sources.map((s) => s.uri), Date.now() - started);
  summary.startupSec = Math.round(startupMs / 10) / 100;
  summary.interrupted = Boolean(signal?.aborted);
  const shardRows = ws.db.prepare<[], Pick<ShardRow, 'state'> & { n: number }>('SELECT state, count(*) AS n FROM shards GROUP BY state').all();
  const n = (s: string) => shardRows.find((r) => r.state === s)?.n ?? 0;
  const failedShards = ws.db.prepare<[], { shard: number; error: string }>("SELECT id AS shard, error FROM shards WHERE state = 'failed' ORDER BY id").all();
  return {
    ...summary,
    queue: { shards: { total: n('merged') + n('failed') + n('queued'), merged: n('merged'), failed: n('failed'), queued: n('queued') }, failedShards },
  };
}
