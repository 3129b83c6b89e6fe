// Scale-out on real parts: redis-server on a loopback port (append-only), `pros worker` child processes, faces
// served over loopback HTTP, the real face models and SQLite. Faults: a worker SIGKILLed mid-shard, Redis restarted
// mid-run, a poison shard, a worker on another schema. Every URL ends with exactly one status, and the distributed
// run accepts the same faces as a local run. No wall-clock assertions: waits are on events and states.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyHost from 'ava';
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { testIf } from '../helpers/requires.ts';
import { pros, startPros, type CliResult } from '../helpers/cli.ts';
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.ts';
import { serveCorpus, type LoopbackCorpus } from '../helpers/queue-corpus.ts';
import { connect, QUEUE_NAME, QUEUE_PREFIX, redisOptions, SCHEMA_KEY } from '../../retrieval/queue/connection.ts';
import { SHARD_SCHEMA, type ShardJob } from '../../src/contracts/shard.ts';
import { defaults } from '../../src/config.ts';

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
  t.regex(refused.stderr, /speaks shard schema pros-shard\/999, this pros speaks pros-shard\/2/);

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

test('a shard that kills its worker process ends failed at the stall limit with a clear error; the rest finish', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const ws = mkdtempSync(join(tmpdir(), 'pros-qws-'));
  const shards = Math.ceil(corpus.urls.length / 2);
  // kim1_crop.jpg is the second item of shard 3: every worker that takes that shard dies (the test-only fault hook).
  const deadly = 'kim1_crop.jpg';
  const poisonShard = Math.floor(corpus.urls.findIndex((u) => u.endsWith(deadly)) / 2) + 1;
  const args = ['worker', '--queue', redis.url, '--workers', '1', '--lock-ms', '3000', '--max-stalls', '1'];
  // A supervisor, as systemd's Restart=always would be: a worker that dies is replaced, so two are always running.
  let deaths = 0;
  let supervising = true;
  const live = new Set<ReturnType<typeof startPros>>();
  const spawn = () => {
    const w = startPros(args, { PROS_FAULT_WORKER_DIE: deadly });
    live.add(w);
    void w.done.then((r) => {
      live.delete(w);
      if (r.signal === 'SIGKILL') deaths++;
      if (supervising) spawn();
    });
  };
  spawn();
  spawn();
  const r = await pros(['curate', corpus.list, '-w', ws, '-c', config, '--set', 'people', '--queue', redis.url, '--shard-size', '2', '--no-export', '--json']);
  supervising = false;
  const ended = await stopWorkers([...live]);
  t.is(r.code, 0, r.stderr);
  for (const w of ended) t.is(w.code, 0, w.stderr);
  t.is(deaths, 2, 'the shard was taken once more after its first worker died (--max-stalls 1), then failed without a third try');
  const s = JSON.parse(r.stdout);
  t.is(s.queue.shards.failed, 1);
  t.is(s.queue.shards.merged, shards - 1);
  t.is(s.queue.failedShards[0].shard, poisonShard);
  t.regex(s.queue.failedShards[0].error, /^after losing its worker 2 times \(pros worker --max-stalls\): a worker process died/);
  checkComplete(t, ws);
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  t.deepEqual(db.prepare('SELECT DISTINCT reason FROM items WHERE shard = ?').pluck().all(poisonShard), ['shard_failed']);
  t.is(db.prepare("SELECT count(*) FROM items WHERE reason = 'shard_failed'").pluck().get(), 2);
  db.close();
});

test('exact copies inside one shard are analysed once; the merge gives the copy its image', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const queue = new Queue(QUEUE_NAME, { connection: redisOptions(redis.url), prefix: QUEUE_PREFIX });
  t.teardown(() => queue.close());
  // The worker alone, on a shard enqueued by hand: its result is read from Redis before any coordinator merges it.
  const pick = (name: string) => corpus.urls.find((u) => u.endsWith(`/${name}`))!;
  const items = ['audrey.jpg', 'cage.jpg', 'audrey-again.jpg'].map((name, i) => ({ id: i + 1, uri: pick(name), local: false }));
  const jobConfig = { fetch: { ...defaults.fetch, allowPrivate: true, retries: 0 }, decode: defaults.decode, faces: defaults.faces, policy: defaults.policy } satisfies ShardJob['config'];
  await queue.add('shard', { schema: SHARD_SCHEMA, run: 'bytest', shard: 1, config: jobConfig, items }, { jobId: 'bytest-s1' });
  const worker = startPros(workerArgs(redis));
  await until('the shard done', async () => (await queue.getJob('bytest-s1'))?.finishedOn !== undefined);
  await stopWorkers([worker]);
  const result = (await queue.getJob('bytest-s1'))!.returnvalue as { items: Array<{ id: number; outcome: { sha256?: string }; image?: { sha256: string }; copy?: true }> };
  const [audrey, cage, again] = [1, 2, 3].map((id) => result.items.find((r) => r.id === id)!);
  t.truthy(cage!.image, 'a distinct image is analysed');
  t.is([audrey, again].filter((r) => r!.image).length, 1, 'the two copies carry the image once');
  t.is([audrey, again].filter((r) => r!.copy).length, 1, 'the other travels as a copy');
  t.is(audrey!.outcome.sha256, again!.outcome.sha256);

  // Through a coordinator, the whole corpus in one shard: the copy is ok and joins the image, as in a local run.
  const ws = mkdtempSync(join(tmpdir(), 'pros-qws-'));
  const workers = [startPros(workerArgs(redis))];
  const r = await pros(['curate', corpus.list, '-w', ws, '-c', config, '--set', 'people', '--queue', redis.url, '--shard-size', '50', '--no-export', '--json']);
  await stopWorkers(workers);
  t.is(r.code, 0, r.stderr);
  checkComplete(t, ws);
  t.deepEqual(accepted(ws), localAccepted, 'the same faces as the local run');
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  const rows = db.prepare("SELECT status, image_sha256 AS sha256 FROM items WHERE uri IN (?, ?)").all(pick('audrey.jpg'), pick('audrey-again.jpg')) as Array<{ status: string; sha256: string }>;
  t.deepEqual(rows.map((x) => x.status), ['ok', 'ok']);
  t.is(rows[0]!.sha256, rows[1]!.sha256);
  t.is(db.prepare('SELECT count(*) FROM images WHERE sha256 = ?').pluck().get(rows[0]!.sha256), 1);
  db.close();
});

anyHost('pros worker opens no workspace, so it has no -w; its --help is the README\'s CLI reference', async (t) => {
  const help = await pros(['worker', '--help']);
  t.is(help.code, 0, help.stderr);
  t.notRegex(help.stdout, /--workspace/);
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /```\n(Usage: pros worker \[options\][\s\S]*?)```/.exec(readme);
  t.is(block?.[1], help.stdout);
  const r = await pros(['worker', '-w', mkdtempSync(join(tmpdir(), 'pros-qw-')), '--queue', 'redis://127.0.0.1:1']);
  t.is(r.code, 2);
  t.regex(r.stderr, /unknown option '-w'/);
});
