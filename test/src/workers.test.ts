import test from 'ava';
import { spawnWorker, workerUrl, WorkerDied, type WorkerClient } from '../../src/workers.ts';
import type { SeamWorkerApi, SeamWorkerData } from '../helpers/seam-worker.ts';

const url = workerUrl('../helpers/seam-worker.ts', import.meta.url);
const start = (opts: { sync?: boolean; onDeath?: (e: WorkerDied) => void } = {}, data: SeamWorkerData = {}): WorkerClient<SeamWorkerApi> =>
  spawnWorker<SeamWorkerApi>(url, data, { label: 'seam', ...opts });

test('a call returns its handler result; a transferred result arrives whole', async (t) => {
  const w = start();
  try {
    t.is(await w.call('add', { a: 2, b: 3 }), 5);
    const v = Float32Array.from([1, 2, 3]);
    t.deepEqual(Array.from(await w.call('double', v, [v.buffer])), [2, 4, 6]);
    t.is(v.length, 0, 'the request buffer was transferred, not copied');
  } finally {
    await w.close();
  }
});

test('an error thrown in the worker reaches the caller with its name and message; the worker keeps serving', async (t) => {
  const w = start();
  try {
    const err = await t.throwsAsync(w.call('bad', 'x'));
    t.is(err?.name, 'InputError');
    t.is(err?.message, 'bad input: x');
    t.regex(err?.stack ?? '', /seam-worker\.ts/, "the worker's stack");
    const unknown = await t.throwsAsync(w.call('nope' as 'add', { a: 1, b: 1 }));
    t.is(unknown?.message, 'unknown request nope');
    const clone = await t.throwsAsync(w.call('notCloneable'));
    t.is(clone?.name, 'DataCloneError');
    t.is(await w.call('add', { a: 1, b: 1 }), 2);
  } finally {
    await w.close();
  }
});

test('a worker that exits: its pending calls and later ones reject with WorkerDied; onDeath is told once', async (t) => {
  const deaths: WorkerDied[] = [];
  const w = start({ onDeath: (e) => deaths.push(e) });
  t.is(await w.call('add', { a: 0, b: 1 }), 1);
  const pending = w.call('later', 60_000);
  await w.call('exit', 7);
  const err = await t.throwsAsync(pending, { instanceOf: WorkerDied });
  t.is(err?.message, 'seam worker exited (code 7)');
  await t.throwsAsync(w.call('add', { a: 1, b: 1 }), { instanceOf: WorkerDied, message: 'seam worker exited (code 7)' });
  t.true(w.dead);
  t.is(deaths.length, 1);
  t.is(deaths[0], err as WorkerDied);
});

test('a worker whose module throws while loading: the first call rejects with the error, not a hang', async (t) => {
  const w = start({}, { failLoad: 'no models here' });
  const err = await t.throwsAsync(w.call('add', { a: 1, b: 1 }), { instanceOf: WorkerDied });
  t.is(err?.message, 'seam worker failed: no models here');
  t.is((err?.cause as Error).name, 'RangeError');
});

test('close rejects pending calls and does not report a death', async (t) => {
  const deaths: WorkerDied[] = [];
  const w = start({ onDeath: (e) => deaths.push(e) });
  t.is(await w.call('add', { a: 1, b: 2 }), 3);
  const pending = w.call('later', 60_000);
  await w.close();
  await t.throwsAsync(pending, { instanceOf: WorkerDied, message: 'seam worker closed' });
  t.is(deaths.length, 0);
});

test('synchronous calls: results, errors with their name, parallel posts, and a worker that exits mid-call', async (t) => {
  const a = start({ sync: true });
  const b = start({ sync: true });
  const plain = start();
  try {
    t.is(a.callSync('add', { a: 20, b: 22 }), 42);
    const err = t.throws(() => a.callSync('bad', 'y'));
    t.is(err?.name, 'InputError');
    t.is(err?.message, 'bad input: y');
    a.postSync('add', { a: 1, b: 1 });
    b.postSync('add', { a: 2, b: 2 });
    t.deepEqual([a.waitSync(), b.waitSync()], [2, 4]);
    t.is(await a.call('add', { a: 3, b: 3 }), 6, 'async calls work on a sync worker too');
    t.throws(() => a.callSync('exitNow', 3), { instanceOf: WorkerDied, message: /seam worker exited/ });
    t.throws(() => a.callSync('add', { a: 1, b: 1 }), { instanceOf: WorkerDied });
    t.is(b.callSync('add', { a: 5, b: 5 }), 10, 'the other worker is unaffected');
    t.throws(() => plain.callSync('add', { a: 1, b: 1 }), { message: /not spawned for synchronous calls/ });
  } finally {
    await Promise.all([a.close(), b.close(), plain.close()]);
  }
});

test('an unref’d worker holds no handle that keeps the process alive; a plain one does', async (t) => {
  const ports = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
  const before = ports();
  const quiet = spawnWorker<SeamWorkerApi>(url, {}, { label: 'seam', sync: true, unref: true });
  t.is(ports(), before);
  const held = start();
  t.is(ports(), before + 1);
  try {
    t.is(quiet.callSync('add', { a: 1, b: 1 }), 2);
  } finally {
    await Promise.all([quiet.close(), held.close()]);
  }
});
