// `pros curate`: sources → fetch → decode → exact dedup → face analysis → near-duplicate check → workspace.
// Reader → worker → writer: items stream from the sources into a bounded pool of workers; every finished item is
// written in one transaction by the single writer (the finalize step), so a kill -9 loses only items in flight and
// a rerun picks up exactly the items still pending.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ProsConfig } from '../src/config.ts';
import { writeFileAtomicAsync } from '../src/atomic.ts';
import type { Workspace } from '../src/workspace.ts';
import { log } from '../src/log.ts';
import { progress as makeProgress } from '../src/progress.ts';
import { recordedSourceItems } from './source-items.ts';
import { detectSource, type SourceItem } from './sources/index.ts';
import { Fetcher } from './fetch/index.ts';
import { FacePool } from './faces/pool.ts';
import { ImageClaims, blobPathOf, itemProvenance, runItem, type ItemResult } from './item.ts';
import { CurateStore, type ItemRow, type NewFace } from './store.ts';
import { FaceIndex } from './face-index.ts';
import { summarize, type CurateSummary } from './summary.ts';
import { OptOutMatcher } from './privacy/optout.ts';
import type { StageProfile } from './profile.ts';

export interface CurateOptions {
  ws: Workspace;
  config: ProsConfig;
  /** Source arguments as given on the command line. */
  sources: string[];
  /** Named set the accepted faces join. */
  set: string;
  signal?: AbortSignal;
  quiet?: boolean;
  /** Stop scheduling after this many items (0: no limit); for trials and benchmarks. */
  limit?: number;
  /** human's stock graphs on wasm (the path the default's decisions are checked against); for benchmarks. */
  referenceFaces?: boolean;
  /** Filled with per-stage milliseconds (fetch, decode, queue, each face model, policy, DB write) when given. */
  profile?: StageProfile;
}

export async function curate(opts: CurateOptions): Promise<CurateSummary> {
  const { ws, config, signal } = opts;
  const started = Date.now();
  const store = new CurateStore(ws.db);
  // Validate every source argument before any work: a typo should fail fast, not after an hour of crawling.
  const sources = opts.sources.map((arg) => detectSource(arg));
  store.ensureSet(opts.set, 'curated', { policy: config.policy });

  // Opt-outs (pros optout, pros forget): URLs are skipped before fetching, people before anything is stored.
  const optouts = OptOutMatcher.load(ws, config.privacy.samePerson);
  const fetcher = new Fetcher(config.fetch);
  const faceIndex = await FaceIndex.open(ws, config);
  const prof = opts.profile;
  const pool = await FacePool.start(config, { profile: Boolean(prof), reference: opts.referenceFaces, announce: !opts.quiet });
  // Times a stage when profiling; otherwise just runs it.
  const timed = <T>(stage: string, fn: () => Promise<T> | T): Promise<T> | T => (prof ? prof.time(stage, fn) : fn());
  const startupMs = Date.now() - started;
  const bar = makeProgress({ label: 'curate', total: 0, unit: 'items', silent: opts.quiet });
  let total = 0;
  let scheduled = 0;

  // The writer: finalize steps run one after another, so the near-duplicate search always sees every earlier face.
  let writer: Promise<void> = Promise.resolve();
  const serial = <T>(fn: () => T | Promise<T>): Promise<T> => {
    const next = writer.then(fn);
    writer = next.then(() => undefined, () => undefined);
    return next;
  };

  const deps = { fetcher, pool, fetch: config.fetch, decode: config.decode, timed: prof ? timed : undefined };
  // Exact copies: an image already in the workspace (or being written by another item) is not analysed again.
  const claims = new ImageClaims((sha) => Boolean(store.imageStatus(sha)));

  async function processItem(row: ItemRow, local: boolean): Promise<void> {
    if (optouts.matchesUri(row.uri)) {
      store.finishItem(row.id, { status: 'skipped', reason: 'opted_out', attempts: 0 });
      return;
    }
    await runItem({ uri: row.uri, local }, deps, claims, (r: ItemResult) => {
      if (r.kind === 'failed') return store.finishItem(row.id, r.outcome);
      if (r.kind === 'copy') {
        return serial(() => {
          store.finishItem(row.id, r.outcome);
          faceIndex.joinSet(opts.set, r.outcome.sha256);
        });
      }
      return writeAnalysed(row, r);
    }, signal);
  }

  async function writeAnalysed(row: ItemRow, r: Extract<ItemResult, { kind: 'analysed' }>): Promise<void> {
    const { analysis, image, outcome } = r;
    if (prof) {
      prof.addAll(analysis.profile);
      prof.count('faces described (mesh + descriptor ran)', analysis.faces.filter((f) => f.descriptor).length);
    }
    if (optouts.matchesFaces(analysis.faces.map((f) => f.descriptor))) {
      // An opted-out person: nothing of the image is kept, not even its hash.
      const { sha256: _, ...kept } = outcome;
      await serial(() => store.finishItem(row.id, { ...kept, status: 'skipped', reason: 'opted_out' }));
      return;
    }
    const blobPath = blobPathOf(image.sha256, image.format);
    await timed('blob write (async, fsync)', () => writeAtomic(join(ws.root, blobPath), r.bytes));
    await serial(() => timed('DB write + index (writer)', () => {
      const faces: NewFace[] = analysis.faces.map((f) => ({ ...f, descriptor: undefined, descriptorRow: null }));
      const descriptors = analysis.faces.map((f) => f.descriptor);
      faceIndex.storeImage(store, row.id, outcome, {
        ...image,
        bytes: r.bytes.length,
        origin: row.uri,
        ...itemProvenance(row),
        status: analysis.status,
        reason: analysis.reason,
        faceRatio: analysis.faceRatio,
        blobPath,
      }, faces, descriptors, opts.set);
    }));
  }

  // A bounded pool of items in flight; `schedule` waits while it is full, so reading a huge list stays streaming.
  const inFlight = new Set<Promise<void>>();
  const maxInFlight = Math.max(1, config.fetch.concurrency);
  let failure: unknown;
  async function schedule(row: ItemRow, local: boolean): Promise<void> {
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    const p = processItem(row, local)
      .catch((err) => {
        // A bug in one item must not lose the others' finished work: record it and carry on.
        log.warn(`item ${row.uri}: ${(err as Error).message}`);
        if (!signal?.aborted) {
          try {
            store.finishItem(row.id, { status: 'failed', reason: 'internal_error', attempts: 1 });
          } catch (e) {
            failure ??= e;
          }
        }
      })
      .finally(() => {
        inFlight.delete(p);
        bar.tick(1, { accepted: faceIndex.acceptedThisRun });
      });
    inFlight.add(p);
    scheduled++;
  }
  const limitReached = () => Boolean(opts.limit && scheduled >= opts.limit);
  const stop = () => signal?.aborted || limitReached() || failure !== undefined;

  try {
    for (const src of sources) {
      if (stop()) break;
      const row = store.source(src.kind, src.uri);
      if (!row.done) {
        const items = recordedSourceItems(src, row.id, { store, fetcher, config, optouts, signal });
        for await (const item of items as AsyncIterable<SourceItem>) {
          if (stop()) break;
          const itemRow = store.addItem(row.id, item.uri, item.meta, item.depth);
          if (itemRow.status !== 'pending') continue;
          bar.setTotal(++total);
          await schedule(itemRow, item.local);
        }
        if (!stop()) store.markSourceDone(row.id);
      } else {
        // Enumeration finished in an earlier run: only the items left pending remain.
        let after = 0;
        for (;;) {
          const page = store.pendingItems(row.id, after, 500);
          if (page.length === 0 || stop()) break;
          for (const itemRow of page) {
            if (stop()) break;
            bar.setTotal(++total);
            await schedule(itemRow, !/^https?:/i.test(itemRow.uri));
            after = itemRow.id;
          }
        }
      }
    }
    await Promise.all(inFlight);
    await writer;
    if (failure) throw failure;
  } finally {
    bar.stop();
    faceIndex.save();
    if (prof) {
      const st = pool.stats;
      prof.add('pool: queue wait (summed over jobs)', st.queueWaitMs, st.jobs);
      prof.add('pool: worker idle (summed over workers)', st.workerIdleMs, pool.size);
      prof.count('pool: mean queue depth at dispatch', st.queueDepthSum / Math.max(1, st.jobs));
      prof.count('pool: max queue depth', st.maxQueueDepth);
    }
    await pool.close();
    fetcher.close();
  }
  const summary = summarize(ws.db, opts.set, sources.map((s) => s.uri), Date.now() - started);
  summary.startupSec = Math.round(startupMs / 10) / 100;
  summary.interrupted = Boolean(signal?.aborted);
  return summary;
}

// The blob's write and fsync go to libuv's threads: done in the main thread (the profile measured ~20 ms per image under
// load) they block the event loop that fetches and hands images to the face workers.
async function writeAtomic(file: string, bytes: Buffer): Promise<void> {
  if (existsSync(file)) return;
  await writeFileAtomicAsync(file, bytes);
}
