// usearch engine: prebuilt SIMD binaries picked at run time, multi-threaded batch add and search, quantised storage
// (i8 by default: a quarter of float32's memory). Keys are bigint; our ids are numbers.
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { IndexConfig } from '../config.ts';
import { engineFiles, readIds, saveEngineFiles, type AnnIndex, type EngineFiles, type SearchResult } from './ann.ts';
import { log } from '../log.ts';

const require = createRequire(import.meta.url);
type Usearch = typeof import('usearch');
// CommonJS build: its native binding loads through node-gyp-build in require().
const usearch = require('usearch') as Usearch;

export class UsearchIndex implements AnnIndex {
  readonly engine = 'usearch' as const;
  private index: InstanceType<Usearch['Index']>;
  private readonly idSet = new Set<number>();
  private ef: number;

  private constructor(
    readonly dim: number,
    private readonly cfg: IndexConfig,
    private readonly files: EngineFiles | null,
  ) {
    this.ef = cfg.efSearch;
    this.index = this.make(this.ef);
  }

  private make(ef: number): InstanceType<Usearch['Index']> {
    return new usearch.Index({
      dimensions: this.dim,
      metric: usearch.MetricKind.Cos,
      quantization: this.cfg.quantization as never,
      connectivity: this.cfg.M,
      expansion_add: this.cfg.efConstruction,
      expansion_search: ef,
      multi: false,
    });
  }

  /** An index under dir (loaded when its files agree), or in memory only when dir is null. */
  static open(dir: string | null, name: string, dim: number, cfg: IndexConfig): UsearchIndex {
    const files = dir ? engineFiles(dir, name, 'usearch') : null;
    const idx = new UsearchIndex(dim, cfg, files);
    if (files && existsSync(files.index)) {
      const ids = readIds(files.ids);
      let why = '';
      try {
        idx.index.load(files.index);
      } catch (err) {
        why = `unreadable (${(err as Error).message})`;
        idx.index = idx.make(idx.ef);
      }
      // An ids file that does not match the index (a crash between the two renames): start empty, reconcile refills.
      if (!why && ids && ids.length === idx.index.size() && idx.index.dimensions() === dim) ids.forEach((i) => idx.idSet.add(i));
      else {
        why ||= ids ? `its ids file names ${ids.length} vectors, the index holds ${idx.index.size()} of ${idx.index.dimensions()}-d` : 'its ids file is missing or unreadable';
        log.warn(`${files.index}: discarded, ${why}; it is rebuilt from the stored vectors`);
        idx.index = idx.make(idx.ef);
      }
    }
    return idx;
  }

  add(ids: number[], vectors: Float32Array): void {
    if (vectors.length !== ids.length * this.dim) throw new Error(`add: ${ids.length} ids but ${vectors.length / this.dim} vectors`);
    if (!ids.length) return;
    const present = ids.filter((i) => this.idSet.has(i));
    if (present.length) this.remove(present);
    this.index.add(BigUint64Array.from(ids, BigInt), vectors, this.cfg.threads);
    for (const i of ids) this.idSet.add(i);
  }

  search(queries: Float32Array, k: number): SearchResult {
    const n = queries.length / this.dim;
    const ids: number[][] = [], sims: number[][] = [];
    if (!n) return { ids, sims };
    if (!this.idSet.size) return { ids: Array.from({ length: n }, () => []), sims: Array.from({ length: n }, () => []) };
    const m = this.index.search(queries, k, n > 1 ? this.cfg.threads : 1);
    // One query gives Matches, several BatchMatches: read both as flat arrays with per-query counts.
    const counts: BigUint64Array = m instanceof usearch.BatchMatches ? m.counts : BigUint64Array.of(BigInt(m.keys.length));
    for (let q = 0; q < n; q++) {
      const c = Number(counts[q]);
      const qi: number[] = [], qs: number[] = [];
      for (let j = 0; j < c; j++) {
        qi.push(Number(m.keys[q * k + j]));
        qs.push(1 - m.distances[q * k + j]!);
      }
      ids.push(qi);
      sims.push(qs);
    }
    return { ids, sims };
  }

  remove(ids: number[]): void {
    const present = ids.filter((i) => this.idSet.has(i));
    if (!present.length) return;
    this.index.remove(BigUint64Array.from(present, BigInt));
    for (const i of present) this.idSet.delete(i);
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
    saveEngineFiles(this.files, (path) => this.index.save(path), this.idSet);
  }

  /** usearch fixes the search breadth at construction: round-trip through a file to change it. */
  setEf(ef: number): void {
    if (ef === this.ef) return;
    const tmp = join(tmpdir(), `pros-usearch-${process.pid}-${Date.now()}.tmp`);
    try {
      this.index.save(tmp);
      const next = this.make(ef);
      next.load(tmp);
      this.index = next;
      this.ef = ef;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
}
