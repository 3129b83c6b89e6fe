// npm run bench:curate [-- --n 500]
// End-to-end images/s of `pros curate` over loopback next to the bare fetch + decode + resize rate of the same
// corpus measured in the same run, and their ratio (target ≥ 0.33). Run it alone: 2 cores are easily shared.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { defaults, type ProsConfig } from '../src/config.ts';
import { openWorkspace } from '../src/workspace.ts';
import { buildMixedCorpus } from './mixed-corpus.ts';
import { serveCorpus } from '../app/demo/server.ts';
import { curate } from '../retrieval/pipeline.ts';
import { Fetcher } from '../retrieval/fetch/index.ts';
import { decodeImage } from '../retrieval/decode.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const n = arg('n', 500);

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'pros-bench-curate-'));
  const corpusDir = join(root, 'corpus');
  process.stderr.write(`building a ${n}-image corpus in ${corpusDir}\n`);
  const names = await buildMixedCorpus(corpusDir, n);
  const server = await serveCorpus({ dir: corpusDir, files: names.map((name) => ({ name, kind: 'photo', via: 'list' })) });
  const urls = names.map((name) => `${server.origin}/images/${name}`);
  // The corpus is on loopback: the fetcher's private-address policy is opted out of, as the demo does.
  const config: ProsConfig = { ...defaults, workspace: join(root, 'ws'), fetch: { ...defaults.fetch, allowPrivate: true } };

  // Bare: fetch + decode + resize to the analysis size, same concurrency, nothing else.
  const fetcher = new Fetcher(config.fetch);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: config.fetch.concurrency }, async () => {
      while (next < urls.length) {
        const u = urls[next++];
        const r = await fetcher.fetch(u);
        if (r.ok) await decodeImage(r.bytes, config.decode);
      }
    }),
  );
  const bareSec = (performance.now() - t0) / 1000;
  fetcher.close();

  // End to end: the real pipeline into a fresh workspace (model loading included, as a user would see it).
  const list = join(root, 'urls.txt');
  writeFileSync(list, urls.join('\n') + '\n');
  const ws = openWorkspace(config.workspace);
  const t1 = performance.now();
  const summary = await curate({ ws, config, sources: [list], set: 'bench', quiet: true });
  const e2eSec = (performance.now() - t1) / 1000;
  ws.close();
  await server.close();

  const bare = n / bareSec;
  const e2e = n / e2eSec;
  const rows = [
    ['date', new Date().toISOString().slice(0, 10)],
    ['machine', `${cpus().length} × ${cpus()[0]?.model ?? '?'}`],
    ['images', String(n)],
    ['bare fetch+decode+resize', `${bare.toFixed(1)} img/s (${bareSec.toFixed(1)} s)`],
    ['pros curate end to end', `${e2e.toFixed(1)} img/s (${e2eSec.toFixed(1)} s)`],
    ['ratio (target ≥ 0.33)', (e2e / bare).toFixed(3)],
    ['accepted faces', String(summary.faces.accepted)],
    ['near-duplicates', String(summary.faces.nearDuplicates)],
    ['face workers', String(config.faces.workers)],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(28)} ${v}`);
  if (!process.argv.includes('--keep')) rmSync(root, { recursive: true, force: true });
}

await main();
