// npm run bench:scale [-- --n 200 --shard-size 10 --dead 1000 --hosts 100]
// 1. Queue overhead: images/s of a local `pros curate` vs a coordinator with 1 and 2 `pros worker` processes over
//    the same loopback corpus (each run a fresh workspace, model loading included as a user sees it), and the ratio
//    (target: 2 workers ≥ 0.9× local). Redis is a redis-server this bench starts on a free loopback port.
// 2. Dead URLs: `pros curate` over a list of unresolvable hosts (*.invalid, many URLs per host) vs resolving its
//    unique host names alone with the fetcher's resolver, in the same run (target ≤ 2×).
// Run it alone: the machine's cores are what is measured.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMixedCorpus } from './mixed-corpus.ts';
import { serveCorpus } from '../app/demo/server.ts';
import { defaults } from '../src/config.ts';
import { HostResolver } from '../retrieval/fetch/resolver.ts';
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
    ['images', `${n} (shards of ${shardSize}; ${defaults.faces.workers} face threads per process)`],
  ];

  process.stderr.write('local run\n');
  const local = await timed(() => pros(['curate', list, '-w', join(root, 'ws-local'), '-c', config, '--no-export', '--json']));
  if (local.value.code !== 0) throw new Error(local.value.stderr);
  const localRate = n / local.sec;
  rows.push(['local pros curate', `${localRate.toFixed(1)} img/s (${local.sec.toFixed(1)} s)`]);

  const redis = await startRedis();
  try {
    for (const k of [1, 2]) {
      process.stderr.write(`coordinator + ${k} worker process(es)\n`);
      const workers = Array.from({ length: k }, () => startPros(['worker', '--queue', redis.url, '--quiet']));
      const run = await timed(() => pros(['curate', list, '-w', join(root, `ws-q${k}`), '-c', config, '--queue', redis.url, '--shard-size', String(shardSize), '--no-export', '--json']));
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.done));
      if (run.value.code !== 0) throw new Error(run.value.stderr);
      const rate = n / run.sec;
      const target = k === 2 ? ' (target ≥ 0.9)' : '';
      rows.push([`queue, ${k} worker${k > 1 ? 's' : ''}`, `${rate.toFixed(1)} img/s (${run.sec.toFixed(1)} s), ratio to local ${(rate / localRate).toFixed(3)}${target}`]);
    }
  } finally {
    await redis.stop();
    await server.close();
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
