// hnswlib-node engine: float32 HNSW, one thread. Its addPoint and searchKnn take plain arrays, one vector a call.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { IndexConfig } from '../config.ts';
import { engineFiles, readIds, saveEngineFiles, type AnnIndex, type EngineFiles, type SearchResult } from './ann.ts';

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
        }
      } catch {
        loaded = false;
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
