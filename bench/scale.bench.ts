// npm run bench:scale [-- --n 200 --shard-size 10 --dead 1000 --hosts 100 --repeat 3]
// 1. Queue overhead: images/s of a local `pros curate` vs a coordinator with 1 and 2 `pros worker` processes over
//    the same loopback corpus (each run a fresh workspace), and the ratio (target: 2 workers ≥ 0.9× local).
//    Steady state, the target's measure: start-up is left out on both sides — the local run's rate is over its
//    elapsed time less its start-up (summary.startupSec: models loaded, index opened); workers are long-lived, so they
//    are started and waited for (their "ready" line, models loaded) before the coordinator runs, whose rate is over
//    its elapsed time less its own start-up. Cold (process start and model loading included, as one run from a shell
//    sees it) is printed beside it. The workers together get the local run's face threads (k workers × N/k threads).
//    Beside them: 2 workers taking 2 shards at once (--concurrency 2: the next shard's items fill the face threads
//    while the last ones of a shard finish), and 2 workers with the local run's threads each (oversubscribed: twice
//    the threads on the same cores). --repeat R runs R rounds (the local run, then each queue set-up) and prints
//    medians of the per-round ratios: on this shared machine single runs of one set-up varied from 0.72 to 1.39.
//    Redis is a redis-server this bench starts on a free loopback port.
// 2. Dead URLs: `pros curate` over a list of unresolvable hosts (*.invalid, many URLs per host) vs resolving its
//    unique host names alone with the fetcher's resolver, in the same run (target ≤ 2×).
// Run it alone: the machine's cores are what is measured.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { buildMixedCorpus } from './mixed-corpus.ts';
import { serveCorpus } from '../app/demo/server.ts';
import { defaults } from '../src/config.ts';
import { HostResolver } from '../retrieval/fetch/resolver.ts';
import type { CurateSummary } from '../retrieval/summary.ts';
import { pros, startPros } from '../test/helpers/cli.ts';
import { startRedis } from '../test/helpers/redis.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const n = arg('n', 60);
const shardSize = arg('shard-size', 10);
const dead = arg('dead', 200);
const hosts = arg('hosts', 20);
const repeat = Math.max(1, arg('repeat', 1));

/** Resolves when a worker prints its ready line (models loaded); rejects if it exits first. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr!.on('data', (d) => {
      seen += d;
      if (/ ready \(/.test(seen)) resolve();
    });
    child.once('close', (code) => reject(new Error(`worker exited (${code}) before it was ready: ${seen}`)));
  });
}

async function timed<T>(fn: () => Promise<T>): Promise<{ sec: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { sec: (performance.now() - t0) / 1000, value };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'pros-bench-scale-'));
  const corpusDir = join(root, 'corpus');
  process.stderr.write(`building a ${n}-image corpus in ${corpusDir}\n`);
  const names = await buildMixedCorpus(corpusDir, n);
  const server = await serveCorpus({ dir: corpusDir, files: names.map((name) => ({ name, kind: 'photo', via: 'list' })) });
  const list = join(root, 'urls.txt');
  writeFileSync(list, names.map((name) => `${server.origin}/images/${name}`).join('\n') + '\n');
  const config = join(root, 'config.json');
  writeFileSync(config, JSON.stringify({ fetch: { allowPrivate: true } }));
  const rows: Array<[string, string]> = [
    ['date', new Date().toISOString().slice(0, 10)],
    ['machine', `${cpus().length} × ${cpus()[0]?.model ?? '?'}`],
    ['images', `${n} (shards of ${shardSize}; the local run has ${defaults.faces.workers} face threads)`],
  ];

  const threads = defaults.faces.workers;
  const half = Math.max(1, Math.floor(threads / 2));
  const variants: Array<{ k: number; threads: number; concurrency: number; label: string }> = [
    { k: 1, threads, concurrency: 1, label: `queue, 1 worker × ${threads} threads` },
    { k: 2, threads: half, concurrency: 1, label: `queue, 2 workers × ${half} threads` },
    { k: 2, threads: half, concurrency: 2, label: `queue, 2 workers × ${half}, 2 shards` },
    { k: 2, threads, concurrency: 1, label: `queue, 2 workers × ${threads} threads` },
  ];
  const steadyOf = (s: CurateSummary) => n / (s.elapsedSec - (s.startupSec ?? 0));
  // Per round: the local run, then each variant right after it; ratios are taken within a round (a shared machine's
  // load drifts between rounds) and reported as medians over the rounds.
  const local: Array<{ steady: number; cold: number }> = [];
  const queued = variants.map(() => [] as Array<{ steady: number; cold: number }>);
  const redis = await startRedis();
  try {
    for (let round = 0; round < repeat; round++) {
      process.stderr.write(`round ${round + 1}/${repeat}: local run\n`);
      const l = await timed(() => pros(['curate', list, '-w', join(root, `ws-local-${round}`), '-c', config, '--no-export', '--json']));
      if (l.value.code !== 0) throw new Error(l.value.stderr);
      local.push({ steady: steadyOf(JSON.parse(l.value.stdout) as CurateSummary), cold: n / l.sec });
      for (const [i, v] of variants.entries()) {
        process.stderr.write(`round ${round + 1}/${repeat}: ${v.label}\n`);
        const t0 = performance.now();
        const workers = Array.from({ length: v.k }, () => startPros(['worker', '--queue', redis.url, '--workers', String(v.threads), '--concurrency', String(v.concurrency)]));
        await Promise.all(workers.map((w) => ready(w.child)));
        const run = await pros(['curate', list, '-w', join(root, `ws-q${i}-${round}`), '-c', config, '--queue', redis.url, '--shard-size', String(shardSize), '--no-export', '--json']);
        const coldSec = (performance.now() - t0) / 1000;
        for (const w of workers) w.child.kill('SIGTERM');
        await Promise.all(workers.map((w) => w.done));
        if (run.code !== 0) throw new Error(run.stderr);
        queued[i]!.push({ steady: steadyOf(JSON.parse(run.stdout) as CurateSummary), cold: n / coldSec });
      }
    }
  } finally {
    await redis.stop();
    await server.close();
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const spread = (xs: number[]) => (xs.length > 1 ? ` [${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}]` : '');
  rows.push(['rounds', `${repeat} (medians; [min–max] of the per-round ratios)`]);
  rows.push(['local pros curate', `${median(local.map((x) => x.steady)).toFixed(2)} img/s steady; cold ${median(local.map((x) => x.cold)).toFixed(2)} img/s`]);
  for (const [i, v] of variants.entries()) {
    const steadyRatios = queued[i]!.map((q, r) => q.steady / local[r]!.steady);
    const coldRatios = queued[i]!.map((q, r) => q.cold / local[r]!.cold);
    const target = i === 1 ? ' (target ≥ 0.9)' : '';
    rows.push([v.label, `${median(queued[i]!.map((q) => q.steady)).toFixed(2)} img/s steady, ratio to local ${median(steadyRatios).toFixed(3)}${spread(steadyRatios)}${target}; cold ratio ${median(coldRatios).toFixed(3)}${spread(coldRatios)}`]);
  }

  // Dead hosts: `perHost` URLs on each of `hosts` names under .invalid (RFC 6761: never resolves).
  const deadList = join(root, 'dead.txt');
  const hostNames = Array.from({ length: hosts }, (_, h) => `host-${h}.pros-bench.invalid`);
  writeFileSync(deadList, Array.from({ length: dead }, (_, i) => `http://${hostNames[i % hosts]}/img-${i}.jpg`).join('\n') + '\n');
  process.stderr.write(`dead list: ${dead} URLs on ${hosts} hosts\n`);
  const curateDead = await timed(() => pros(['curate', deadList, '-w', join(root, 'ws-dead'), '--no-export', '--json']));
  if (curateDead.value.code !== 0) throw new Error(curateDead.value.stderr);
  const resolver = new HostResolver({ allowPrivate: false });
  const alone = await timed(() => Promise.all(hostNames.map((h) => resolver.resolve(h))));
  rows.push(['dead URLs: pros curate', `${(dead / curateDead.sec).toFixed(1)} URLs/s (${curateDead.sec.toFixed(1)} s, model loading included)`]);
  rows.push(['dead URLs: unique hosts alone', `${alone.sec.toFixed(2)} s for ${hosts} names`]);
  rows.push(['dead URLs: ratio (target ≤ 2)', (curateDead.sec / Math.max(alone.sec, 1e-3)).toFixed(1)]);

  for (const [k, v] of rows) console.log(`${k.padEnd(32)} ${v}`);
  if (!process.argv.includes('--keep')) rmSync(root, { recursive: true, force: true });
}

await main();
