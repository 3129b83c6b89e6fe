// The retrieval commands: `pros curate`, `pros search`, `pros expand`, `pros export`.
import { Option, type Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { floatArg, intArg, openContext, run, withCommonOptions, type CommonOptions } from '../src/command.ts';
import { InputError } from '../src/errors.ts';
import type { DeepPartial, ProsConfig } from '../src/config.ts';
import { log } from '../src/log.ts';
import { curate } from './pipeline.ts';
import { exportSet } from './export.ts';
import { formatSummary, type CurateSummary } from './summary.ts';
import { FaceIndex } from './face-index.ts';
import { expand, searchByFace, searchByImage, type QueryFace } from './search.ts';
import { registerCuration } from './curation-commands.ts';
import { curateQueued, formatQueued, registerWorker } from './queue/commands.ts';
import { SET_NAME_RULE, validSetName } from './curation.ts';
import { clip, parseFaceId } from '../src/input.ts';

/** Set names become folders under curated/: refuse anything that is not a plain name. */
export function setName(name: string, flag: string): string {
  if (!validSetName(name)) throw new InputError(`${flag} ${clip(name, 60)}: use ${SET_NAME_RULE}`);
  return name;
}

/** Ctrl-C once: finish the items in flight, save, summarise. Twice: leave at once (the rerun redoes in-flight items). */
export function interruptible(): AbortController {
  const ac = new AbortController();
  process.once('SIGINT', () => {
    log.warn('stopping after the items in flight (Ctrl-C again to stop at once)');
    ac.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  process.once('SIGTERM', () => ac.abort());
  return ac;
}

interface CurateFlags extends CommonOptions {
  set: string;
  depth?: number;
  concurrency?: number;
  perHost?: number;
  timeout?: number;
  retries?: number;
  engine?: 'usearch' | 'hnswlib';
  workers?: number;
  limit?: number;
  export: boolean;
  minFaceRatio?: number;
  nearDuplicate?: number;
  allowPrivate?: boolean;
  queue?: string;
  shardSize: number;
  attempts: number;
}

function curateFlags(o: CurateFlags): DeepPartial<ProsConfig> {
  return {
    crawl: { depth: o.depth },
    fetch: { concurrency: o.concurrency, perHost: o.perHost, totalTimeoutMs: o.timeout, retries: o.retries, allowPrivate: o.allowPrivate },
    index: { engine: o.engine },
    faces: { workers: o.workers },
    policy: { minFaceRatio: o.minFaceRatio },
    dedup: { nearThreshold: o.nearDuplicate },
  };
}

function formatHits(q: QueryFace, k: number): string {
  const head = q.faceId !== undefined ? `face ${q.faceId}` : `face at [${q.box!.map(Math.round).join(', ')}] (score ${q.score!.toFixed(2)})`;
  const lines = q.neighbours.slice(0, k).map(
    (n, i) => `  ${String(i + 1).padStart(3)}  ${n.similarity.toFixed(3)}  face ${String(n.faceId).padEnd(7)} ${n.status.padEnd(9)} ${n.source}`,
  );
  return [`${head}: ${q.neighbours.length ? '' : 'no neighbours (empty index)'}`, ...lines].join('\n');
}

export function register(program: Command): void {
  registerCuration(program);
  registerWorker(program);
  withCommonOptions(
    program
      .command('curate')
      .description('Read sources, fetch, decode, detect and describe faces, keep predominantly-face images, dedup, index and export a curated set')
      .argument('<source...>', 'folders, URL lists (.txt .csv .tsv .jsonl .parquet) or http(s) pages to crawl')
      .option('-s, --set <name>', 'named set the accepted faces join and are exported as', 'default')
      .option('--depth <n>', 'link depth to crawl from a page', intArg(0))
      .option('--concurrency <n>', 'requests in flight', intArg(1))
      .option('--per-host <n>', 'requests in flight per host', intArg(1))
      .option('--timeout <ms>', 'total timeout of one request', intArg(1))
      .option('--retries <n>', 'retries on transient errors', intArg(0))
      .option('--allow-private', 'also fetch from loopback, private, link-local and other non-public addresses (refused by default)')
      .option('--workers <n>', 'face-analysis worker threads', intArg(1))
      .option('--min-face-ratio <r>', 'largest face area over image area to accept', floatArg(0, 1))
      .option('--near-duplicate <cos>', 'descriptor similarity marking near-duplicates', floatArg(0, 1))
      .addOption(new Option('--engine <name>', 'ANN index engine').choices(['usearch', 'hnswlib']))
      .option('--limit <n>', 'stop after scheduling this many items', intArg(1))
      .option('--no-export', 'do not export the set\'s crops and manifest')
      .option('--queue <url>', 'coordinate: hand the items to `pros worker`s through this Redis (redis://HOST:PORT)')
      .option('--shard-size <n>', 'with --queue: items per shard (the unit of work and retry)', intArg(1), 100)
      .option('--attempts <n>', 'with --queue: attempts a shard gets before it ends failed', intArg(1), 3),
  ).action(async (sources: string[], o: CurateFlags) => {
    if (o.queue) {
      const queue = o.queue;
      await run(o, async () => {
        setName(o.set, '--set');
        if (o.limit) throw new InputError('--limit does not apply with --queue');
        return curateQueued({ ...o, queue }, sources, curateFlags(o), interruptible().signal);
      }, formatQueued);
      return;
    }
    await run<CurateSummary>(o, async () => {
      setName(o.set, '--set');
      const ctx = openContext(o, curateFlags(o));
      const ac = interruptible();
      try {
        const summary = await curate({ ws: ctx.ws, config: ctx.config, sources, set: o.set, signal: ac.signal, quiet: o.quiet || o.json, limit: o.limit });
        if (o.export && !summary.interrupted) {
          const exported = await exportSet(ctx.ws, ctx.config, o.set, { quiet: o.quiet || o.json });
          summary.exported = { dir: exported.dir, crops: exported.crops };
        }
        if (summary.interrupted) process.exitCode = 130;
        return summary;
      } finally {
        ctx.ws.close();
      }
    }, formatSummary);
  });

  withCommonOptions(
    program
      .command('search')
      .description("Nearest faces to a stored face (by id) or to the faces of an image file, by human's descriptor")
      .argument('<image|face-id>', 'an image file, or the id of a face in the workspace')
      .option('-k, --k <n>', 'neighbours to show', intArg(1), 10),
  ).action(async (query: string, o: CommonOptions & { k: number }) => {
    await run<QueryFace[]>(o, async () => {
      const ctx = openContext(o);
      try {
        const index = await FaceIndex.open(ctx.ws, ctx.config);
        if (/^\d+$/.test(query) && !existsSync(query)) {
          const id = parseFaceId(query);
          if (id === undefined) throw new InputError(`${clip(query, 40)}: not a face id (a positive integer below 2^53)`);
          return [await searchByFace(ctx.ws, index, id, o.k)];
        }
        if (!existsSync(query)) throw new InputError(`${query}: no such file, and not a face id`);
        const found = await searchByImage(ctx.ws, ctx.config, index, readFileSync(query), o.k);
        if (found.length === 0) throw new InputError(`${query}: no face found in the image`);
        return found;
      } finally {
        ctx.ws.close();
      }
    }, (qs) => qs.map((q) => formatHits(q, o.k)).join('\n\n'));
  });

  withCommonOptions(
    program
      .command('expand')
      .description('Grow a set with the nearest neighbours of its members (or of the faces in a folder of images)')
      .requiredOption('--seed <folder|set>', 'a set name in the workspace, or a folder of seed images')
      .requiredOption('--into <name>', 'the set to create or grow')
      .option('-k, --k <n>', 'neighbours per seed face', intArg(1), 10)
      .option('--min-similarity <cos>', 'ignore neighbours below this similarity', floatArg(-1, 1), 0)
      .option('--no-export', 'do not export the grown set'),
  ).action(async (o: CommonOptions & { seed: string; into: string; k: number; minSimilarity: number; export: boolean }) => {
    await run(o, async () => {
      setName(o.into, '--into');
      const ctx = openContext(o);
      try {
        const result = await expand(ctx.ws, ctx.config, o.seed, o.k, o.into, o.minSimilarity);
        const exported = o.export ? await exportSet(ctx.ws, ctx.config, o.into, { quiet: o.quiet || o.json }) : undefined;
        return { ...result, exported };
      } finally {
        ctx.ws.close();
      }
    }, (r) => `set ${r.into}: ${r.seeds} seed faces${r.droppedSeeds ? ` (${r.droppedSeeds} seeds dropped, see warnings)` : ''}, ${r.added} faces added, ${r.size} in all${r.exported ? ` → ${r.exported.dir}` : ''}`);
  });

  withCommonOptions(
    program
      .command('export')
      .description('Write a set as face-centred crops with manifest.jsonl and set.json (curated/<set>/)')
      .argument('<set>', 'set name')
      .option('--size <px>', 'crop side in pixels', intArg(16))
      .option('--scale <x>', "crop side as a multiple of the face box's longer side", floatArg(1, 4))
      .option('--jitter <f>', 'random shift of the crop centre, fraction of the side (seeded by face id)', floatArg(0, 0.5)),
  ).action(async (set: string, o: CommonOptions & { size?: number; scale?: number; jitter?: number }) => {
    await run(o, async () => {
      const ctx = openContext(o, { export: { size: o.size, scale: o.scale, jitter: o.jitter } });
      try {
        if (!ctx.ws.db.prepare('SELECT 1 FROM sets WHERE name = ?').get(set)) throw new InputError(`no set named ${set} in ${ctx.ws.root}`);
        return await exportSet(ctx.ws, ctx.config, set, { quiet: o.quiet || o.json });
      } finally {
        ctx.ws.close();
      }
    }, (r) => `${r.crops} crops${r.failed ? ` (${r.failed} failed)` : ''} → ${r.dir}`);
  });
}
