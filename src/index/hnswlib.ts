// hnswlib-node engine: float32 HNSW. Its addPoint and searchKnn take plain arrays, one vector a call, on one thread:
// `HnswIndex` is one index on the calling thread (index.threads = 1); `ShardedHnswIndex` spreads it over several cores.
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IndexConfig } from '../config.ts';
import { engineFiles, readIds, saveEngineFiles, writeIds, type AnnIndex, type EngineFiles, type SearchResult } from './ann.ts';
import { log } from '../log.ts';
import { spawnWorker, workerUrl, type WorkerClient } from '../workers.ts';
import type { ShardWorkerApi, ShardWorkerData } from './hnswlib-shard-worker.ts';

const require = createRequire(import.meta.url);
type Hnswlib = typeof import('hnswlib-node');
const { HierarchicalNSW } = require('hnswlib-node') as Hnswlib;

export class HnswIndex implements AnnIndex {
  readonly engine = 'hnswlib' as const;
  private readonly index: InstanceType<Hnswlib['HierarchicalNSW']>;
  private readonly idSet = new Set<number>();
  /** One plain array reused for every call: Array.from(typed) costs ~80 µs per 1024-d vector, a filling loop ~5. */
  private readonly scratch: number[];

  private constructor(
    readonly dim: number,
    private readonly cfg: IndexConfig,
    private readonly files: EngineFiles | null,
  ) {
    this.index = new HierarchicalNSW('cosine', dim);
    this.scratch = new Array<number>(dim).fill(0);
  }

  private plain(v: Float32Array, row: number): number[] {
    const a = this.scratch;
    for (let d = 0, o = row * this.dim; d < this.dim; d++) a[d] = v[o + d]!;
    return a;
  }

  static open(dir: string | null, name: string, dim: number, cfg: IndexConfig): HnswIndex {
    const files = dir ? engineFiles(dir, name, 'hnswlib') : null;
    const idx = new HnswIndex(dim, cfg, files);
    let loaded = false;
    if (files && existsSync(files.index)) {
      const ids = readIds(files.ids);
      try {
        idx.index.readIndexSync(files.index, true);
        const inFile = new Set(idx.index.getIdsList());
        if (ids && ids.every((i) => inFile.has(i))) {
          // Labels in the file but not in the ids file (removed, or saved past the ids after a crash) are hidden.
          const keep = new Set(ids);
          for (const label of inFile) if (!keep.has(label)) idx.hide(label);
          ids.forEach((i) => idx.idSet.add(i));
          loaded = true;
        } else log.warn(`${files.index}: discarded, ${ids ? 'its ids file names labels the index lacks' : 'its ids file is missing or unreadable'}; it is rebuilt from the stored vectors`);
      } catch (err) {
        loaded = false;
        log.warn(`${files.index}: discarded, unreadable (${(err as Error).message}); it is rebuilt from the stored vectors`);
      }
    }
    if (!loaded) idx.index.initIndex({ maxElements: 1024, m: cfg.M, efConstruction: cfg.efConstruction, allowReplaceDeleted: true });
    idx.index.setEf(cfg.efSearch);
    return idx;
  }

  private hide(label: number): void {
    try {
      this.index.markDelete(label);
    } catch {
      // already marked deleted in the file
    }
  }

  add(ids: number[], vectors: Float32Array): void {
    if (vectors.length !== ids.length * this.dim) throw new Error(`add: ${ids.length} ids but ${vectors.length / this.dim} vectors`);
    const need = this.index.getCurrentCount() + ids.length;
    if (need > this.index.getMaxElements()) this.index.resizeIndex(Math.max(need, 2 * this.index.getMaxElements()));
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      // Plain arrays only (the binding's contract; it copies); replaceDeleted reuses slots of removed faces.
      const v = this.plain(vectors, i);
      if (this.idSet.has(id)) this.index.markDelete(id);
      this.index.addPoint(v, id, true);
      this.idSet.add(id);
    }
  }

  search(queries: Float32Array, k: number): SearchResult {
    const n = queries.length / this.dim;
    const ids: number[][] = [], sims: number[][] = [];
    const kk = Math.min(k, this.idSet.size);
    for (let q = 0; q < n; q++) {
      if (!kk) {
        ids.push([]);
        sims.push([]);
        continue;
      }
      const r = this.index.searchKnn(this.plain(queries, q), kk);
      ids.push(r.neighbors);
      sims.push(r.distances.map((d) => 1 - d));
    }
    return { ids, sims };
  }

  remove(ids: number[]): void {
    for (const id of ids) {
      if (!this.idSet.has(id)) continue;
      this.index.markDelete(id);
      this.idSet.delete(id);
    }
  }

  has(id: number): boolean {
    return this.idSet.has(id);
  }

  count(): number {
    return this.idSet.size;
  }

  ids(): number[] {
    return [...this.idSet];
  }

  save(): void {
    if (!this.files) return;
    saveEngineFiles(this.files, (path) => this.index.writeIndexSync(path), this.idSet);
  }

  setEf(ef: number): void {
    this.index.setEf(ef);
  }
}

// Over several cores: one shard per worker thread (id % shards), each its own HierarchicalNSW.
// The AnnIndex interface is synchronous, so a call posts its request to every shard involved and blocks until each
// has answered (the worker seam's synchronous calls). Adds split by shard and run in parallel; a batch of queries
// goes to every shard and the per-shard top-k lists are merged.
type Shard = WorkerClient<ShardWorkerApi>;
type ShardCall = { [K in keyof ShardWorkerApi]: { op: K; payload: Parameters<ShardWorkerApi[K]>[0]; transfer?: ArrayBuffer[] } }[keyof ShardWorkerApi];

export class ShardedHnswIndex implements AnnIndex {
  readonly engine = 'hnswlib' as const;
  private readonly idSet = new Set<number>();

  private constructor(
    readonly dim: number,
    private readonly shards: Shard[],
    private readonly files: EngineFiles | null,
  ) {}

  static async open(dir: string | null, name: string, dim: number, cfg: IndexConfig): Promise<ShardedHnswIndex> {
    const n = Math.max(2, cfg.threads);
    const files = dir ? engineFiles(dir, name, `hnswlib-s${n}`) : null;
    if (dir) mkdirSync(dir, { recursive: true });
    const shards: Shard[] = [];
    for (let s = 0; s < n; s++) {
      const file = files ? `${files.index}.${s}` : `/dev/null/${s}`;
      const data: ShardWorkerData = { dim, M: cfg.M, efConstruction: cfg.efConstruction, efSearch: cfg.efSearch, file };
      shards.push(spawnWorker<ShardWorkerApi>(workerUrl('./hnswlib-shard-worker.ts', import.meta.url), data, { label: `hnswlib shard ${s}`, sync: true, unref: true }));
    }
    const idx = new ShardedHnswIndex(dim, shards, files);
    const lists = idx.callAll(shards.map(() => ({ op: 'open', payload: undefined }))) as { ids: number[] }[];
    const saved = files ? readIds(files.ids) : null;
    const inFiles = new Set(lists.flatMap((l) => l.ids));
    if (saved && saved.every((i) => inFiles.has(i))) {
      saved.forEach((i) => idx.idSet.add(i));
      // Labels saved in a shard past its ids file (a crash between renames) are hidden.
      const stray = [...inFiles].filter((i) => !idx.idSet.has(i));
      if (stray.length) idx.removeFromShards(stray);
    } else if (inFiles.size) {
      idx.removeFromShards([...inFiles]);
    }
    return idx;
  }

  private shardOf(id: number): number {
    return id % this.shards.length;
  }

  /** Sends one request to each shard that has one (null: none) and blocks until all have answered. */
  private callAll(calls: (ShardCall | null)[]): unknown[] {
    calls.forEach((c, s) => {
      if (c) (this.shards[s]!.postSync as (op: string, payload: unknown, transfer?: ArrayBuffer[]) => void)(c.op, c.payload, c.transfer);
    });
    // Every posted call is waited for, even after one fails, so no reply is left behind for the next call.
    let failed: unknown = null;
    const replies = calls.map((c, s) => {
      if (!c) return null;
      try {
        return this.shards[s]!.waitSync();
      } catch (e) {
        failed ??= e;
        return null;
      }
    });
    if (failed) throw failed;
    return replies;
  }

  add(ids: number[], vectors: Float32Array): void {
    if (vectors.length !== ids.length * this.dim) throw new Error(`add: ${ids.length} ids but ${vectors.length / this.dim} vectors`);
    if (!ids.length) return;
    const parts = this.shards.map(() => [] as number[]);
    ids.forEach((id, i) => parts[this.shardOf(id)]!.push(i));
    const vecs = parts.map((rows) => {
      const v = new Float32Array(rows.length * this.dim);
      rows.forEach((r, j) => v.set(vectors.subarray(r * this.dim, (r + 1) * this.dim), j * this.dim));
      return v;
    });
    this.callAll(
      parts.map((rows, s) =>
        rows.length ? { op: 'add', payload: { ids: rows.map((r) => ids[r]!), vectors: vecs[s]! }, transfer: [vecs[s]!.buffer as ArrayBuffer] } : null,
      ),
    );
    for (const id of ids) this.idSet.add(id);
  }

  search(queries: Float32Array, k: number): SearchResult {
    const n = queries.length / this.dim;
    if (!this.idSet.size || !n) return { ids: Array.from({ length: n }, () => []), sims: Array.from({ length: n }, () => []) };
    const replies = this.callAll(this.shards.map(() => ({ op: 'search', payload: { queries, k } }))) as SearchResult[];
    const out: SearchResult = { ids: [], sims: [] };
    for (let q = 0; q < n; q++) {
      const merged = replies.flatMap((r) => r.ids[q]!.map((id, j) => ({ id, s: r.sims[q]![j]! })));
      merged.sort((a, b) => b.s - a.s);
      const top = merged.slice(0, k);
      out.ids.push(top.map((m) => m.id));
      out.sims.push(top.map((m) => m.s));
    }
    return out;
  }

  private removeFromShards(ids: number[]): void {
    const parts = this.shards.map(() => [] as number[]);
    for (const id of ids) parts[this.shardOf(id)]!.push(id);
    this.callAll(parts.map((p) => (p.length ? { op: 'remove', payload: { ids: p } } : null)));
  }

  remove(ids: number[]): void {
    const present = ids.filter((i) => this.idSet.has(i));
    if (!present.length) return;
    this.removeFromShards(present);
    for (const id of present) this.idSet.delete(id);
  }

  has(id: number): boolean {
    return this.idSet.has(id);
  }

  count(): number {
    return this.idSet.size;
  }

  ids(): number[] {
    return [...this.idSet];
  }

  save(): void {
    if (!this.files) return;
    this.callAll(this.shards.map(() => ({ op: 'save', payload: undefined })));
    writeIds(this.files.ids, this.idSet);
  }

  setEf(ef: number): void {
    this.callAll(this.shards.map(() => ({ op: 'setEf', payload: { ef } })));
  }

  /** Stops the shard threads (they are unref'd, so a process also exits without this). */
  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}
