// Scale-out on real parts: redis-server on a loopback port (append-only), `pros worker` child processes, faces
// served over loopback HTTP, the real face models and SQLite. Faults: a worker SIGKILLed mid-shard, Redis restarted
// mid-run, a poison shard, a worker on another schema. Every URL ends with exactly one status, and the distributed
// run accepts the same faces as a local run. No wall-clock assertions: waits are on events and states.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { testIf } from '../helpers/requires.ts';
import { pros, startPros, type CliResult } from '../helpers/cli.ts';
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.ts';
import { serveCorpus, type LoopbackCorpus } from '../helpers/queue-corpus.ts';
import { connect, QUEUE_NAME, QUEUE_PREFIX, redisOptions, SCHEMA_KEY } from '../../retrieval/queue/connection.ts';
import { SHARD_SCHEMA } from '../../src/contracts/shard.ts';

const test = testIf(redisAvailable, 'redis-server is not installed', { serial: true });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let corpus: LoopbackCorpus;
let config: string;
let localAccepted: string[];

/** Accepted faces by content (image sha256 and rank), which do not depend on ids or completion order. */
function accepted(ws: string): string[] {
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  const rows = db.prepare<[], string>("SELECT image_sha256 || '#' || idx FROM faces WHERE status = 'accepted' ORDER BY 1").pluck().all();
  db.close();
  return rows;
}

/** Every input URL has exactly one row, none pending; no face stored twice. */
function checkComplete(t: { is: (a: unknown, b: unknown, m?: string) => void; deepEqual: (a: unknown, b: unknown, m?: string) => void }, ws: string): void {
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  const uris = db.prepare<[], string>("SELECT uri FROM items WHERE kind = 'image' ORDER BY uri").pluck().all();
  t.deepEqual(uris, [...corpus.urls].sort(), 'one row per input URL');
  t.is(db.prepare("SELECT count(*) FROM items WHERE status NOT IN ('ok', 'failed', 'skipped')").pluck().get(), 0, 'nothing left pending');
  t.is(
    db.prepare('SELECT count(*) FROM faces').pluck().get(),
    db.prepare('SELECT count(DISTINCT image_sha256 || idx) FROM faces').pluck().get(),
    'no face stored twice',
  );
  t.is(db.prepare("SELECT count(*) FROM shards WHERE state = 'queued'").pluck().get(), 0, 'no shard left queued');
  db.close();
}

function dbValue<T>(ws: string, sql: string): T | undefined {
  try {
    const db = new Database(join(ws, 'pros.db'), { readonly: true, timeout: 2_000 });
    try {
      return db.prepare<[], T>(sql).pluck().get();
    } finally {
      db.close();
    }
  } catch {
    return undefined; // not created yet
  }
}

async function until(what: string, ok: () => boolean | Promise<boolean>, tries = 1200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await ok()) return;
    await sleep(100);
  }
  throw new Error(`gave up waiting for ${what}`);
}

const workerArgs = (r: TestRedis) => ['worker', '--queue', r.url, '--workers', '1', '--lock-ms', '3000', '--max-stalls', '5'];

async function stopWorkers(ws: Array<ReturnType<typeof startPros>>): Promise<CliResult[]> {
  for (const w of ws) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  return Promise.all(ws.map((w) => w.done));
}

test.before(async () => {
  corpus = await serveCorpus();
  const dir = mkdtempSync(join(tmpdir(), 'pros-queue-'));
  config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ fetch: { allowPrivate: true, retries: 0 }, faces: { workers: 1 } }));
});
test.after.always(() => corpus?.close());

test('a local run over the loopback corpus is the reference', async (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'pros-qlocal-'));
  const r = await pros(['curate', corpus.list, '-w', ws, '-c', config, '--set', 'people', '--no-export', '--json']);
  t.is(r.code, 0, r.stderr);
  localAccepted = accepted(ws);
  t.is(localAccepted.length, 6, 'one face from each single-face photo');
  checkComplete(t, ws);
});

test('a worker killed mid-shard: the shard is taken again after its lock expires, nothing doubled or lost, same faces as local', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const ws = mkdtempSync(join(tmpdir(), 'pros-qws-'));
  const heldPath = new URL(corpus.urls[0]!).pathname;
  const arrived = corpus.hold(heldPath);
  const coordinator = startPros(['curate', corpus.list, '-w', ws, '-c', config, '--set', 'people', '--queue', redis.url, '--shard-size', '2', '--json']);
  const doomed = startPros(workerArgs(redis));
  await arrived; // the first worker is inside shard 1, waiting on its first image
  doomed.child.kill('SIGKILL');
  t.is((await doomed.done).signal, 'SIGKILL');
  corpus.release();
  const workers = [startPros(workerArgs(redis)), startPros(workerArgs(redis))];
  const r = await coordinator.done;
  const ended = await stopWorkers(workers);
  t.is(r.code, 0, r.stderr);
  for (const w of ended) t.is(w.code, 0, w.stderr);
  const s = JSON.parse(r.stdout);
  t.is(s.queue.shards.failed, 0);
  t.is(s.queue.shards.merged, Math.ceil(corpus.urls.length / 2));
  t.true((corpus.hits.get(heldPath) ?? 0) >= 2, 'the killed shard was fetched again');
  t.truthy(s.exported && s.exported.crops === 6, 'the set is exported as a local run does');
  checkComplete(t, ws);
  t.deepEqual(accepted(ws), localAccepted, 'the same faces as the local run');
  t.is(dbValue<number>(ws, "SELECT count(*) FROM faces WHERE reason = 'near_duplicate'"), 1, 'the resized copy is a near-duplicate across shards');
});

test('Redis restarted mid-run and a poison shard: the run finishes, the poison shard ends failed with its error after its attempts', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const ws = mkdtempSync(join(tmpdir(), 'pros-qws-'));
  const coordinator = startPros(['curate', corpus.list, '-w', ws, '-c', config, '--set', 'people', '--queue', redis.url, '--shard-size', '3', '--attempts', '2', '--no-export', '--json']);
  const shards = Math.ceil(corpus.urls.length / 3);
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(redis.url), prefix: QUEUE_PREFIX });
  t.teardown(() => queue.close());
  // No worker yet: every shard waits in Redis. Shard 2's data is corrupted in place (a poison shard).
  await until('all shards queued', async () => (await queue.getWaitingCount()) === shards);
  const poison = (await queue.getWaiting()).find((j) => j.id!.endsWith('-s2'))!;
  const raw = connect(redis.url);
  await raw.hset(`${QUEUE_PREFIX}:${QUEUE_NAME}:${poison.id}`, 'data', JSON.stringify({ schema: SHARD_SCHEMA, items: 'poison' }));
  raw.disconnect();
  const workers = [startPros(workerArgs(redis)), startPros(workerArgs(redis))];
  await until('a shard merged', () => (dbValue<number>(ws, "SELECT count(*) FROM shards WHERE state = 'merged'") ?? 0) >= 1);
  await queue.close();
  await redis.stop();
  await redis.start();
  const r = await coordinator.done;
  const ended = await stopWorkers(workers);
  t.is(r.code, 0, r.stderr);
  for (const w of ended) t.is(w.code, 0, w.stderr);
  const s = JSON.parse(r.stdout);
  t.is(s.queue.shards.failed, 1);
  t.is(s.queue.shards.merged, shards - 1);
  t.is(s.queue.failedShards[0].shard, 2);
  t.regex(s.queue.failedShards[0].error, /^after 2 attempts: shard .*-s2: malformed job data/);
  checkComplete(t, ws);
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  t.deepEqual(db.prepare("SELECT DISTINCT reason FROM items WHERE shard = 2").pluck().all(), ['shard_failed']);
  t.is(db.prepare("SELECT count(*) FROM items WHERE reason = 'shard_failed'").pluck().get(), 3);
  db.close();
});

test('a worker refuses a queue or a shard of another schema, with a clear message', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const raw = connect(redis.url);
  t.teardown(() => raw.disconnect());
  await raw.set(SCHEMA_KEY, 'pros-shard/999');
  const refused = await pros(workerArgs(redis));
  t.is(refused.code, 2);
  t.regex(refused.stderr, /speaks shard schema pros-shard\/999, this pros speaks pros-shard\/1/);

  await raw.del(SCHEMA_KEY);
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(redis.url), prefix: QUEUE_PREFIX });
  t.teardown(() => queue.close());
  const job = await queue.add('shard', { schema: 'pros-shard/0', items: [] }, { jobId: 'old-s1', attempts: 3 });
  const w = await pros(workerArgs(redis));
  t.is(w.code, 2);
  t.regex(w.stderr, /shard old-s1 speaks shard schema pros-shard\/0/);
  t.is(await job.getState(), 'failed');
  const failed = await queue.getJob('old-s1');
  t.is(failed!.attemptsMade, 1, 'not retried: no attempt can help');
  t.regex(failed!.failedReason, /pros-shard\/0/);
});

test('a coordinator stopped and started again picks up from the queue: shards finished meanwhile are merged once', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const ws = mkdtempSync(join(tmpdir(), 'pros-qws-'));
  const args = ['curate', corpus.list, '-w', ws, '-c', config, '--set', 'people', '--queue', redis.url, '--shard-size', '4', '--no-export', '--json'];
  const shards = Math.ceil(corpus.urls.length / 4);
  const first = startPros(args);
  await until('all shards recorded', () => (dbValue<number>(ws, "SELECT count(*) FROM shards WHERE state = 'queued'") ?? 0) === shards);
  first.child.kill('SIGKILL');
  await first.done;
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(redis.url), prefix: QUEUE_PREFIX });
  t.teardown(() => queue.close());
  const workers = [startPros(workerArgs(redis))];
  await until('every shard done by the workers', async () => (await queue.getCompletedCount()) === shards);
  t.is(dbValue<number>(ws, "SELECT count(*) FROM items WHERE status = 'pending'"), corpus.urls.length, 'nothing merged while the coordinator was away');
  const r = await pros(args);
  await stopWorkers(workers);
  t.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.deepEqual(s.queue.shards, { total: shards, merged: shards, failed: 0, queued: 0 });
  checkComplete(t, ws);
  t.deepEqual(accepted(ws), localAccepted);
  t.is(await queue.getCompletedCount(), 0, 'merged results leave Redis');
});
