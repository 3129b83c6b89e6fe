// One hnswlib-node shard in its own thread, called synchronously by ShardedHnswIndex through the worker seam
// (src/workers.ts): the AnnIndex interface is synchronous.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { commitFile, tmpPath } from '../atomic.ts';
import { serve, workerInput } from '../workers.ts';
import type { SearchResult } from './ann.ts';

export type ShardWorkerData = { dim: number; M: number; efConstruction: number; efSearch: number; file: string };

const require = createRequire(import.meta.url);
type Hnswlib = typeof import('hnswlib-node');
const { HierarchicalNSW } = require('hnswlib-node') as Hnswlib;
const { dim, M, efConstruction, efSearch, file } = workerInput<ShardWorkerData>();

let index = new HierarchicalNSW('cosine', dim);
const live = new Set<number>();
const scratch = new Array<number>(dim).fill(0);
const plain = (v: Float32Array, row: number) => {
  for (let d = 0, o = row * dim; d < dim; d++) scratch[d] = v[o + d]!;
  return scratch;
};

function hide(id: number): void {
  if (!live.has(id)) return;
  try {
    index.markDelete(id);
  } catch {
    // getIdsList() after a load also lists labels deleted before the save.
  }
  live.delete(id);
}

const api = {
  open(): { ids: number[] } {
    let loaded = false;
    if (existsSync(file)) {
      try {
        index.readIndexSync(file, true);
        for (const id of index.getIdsList()) live.add(id);
        loaded = true;
      } catch {
        index = new HierarchicalNSW('cosine', dim);
        live.clear();
      }
    }
    if (!loaded) index.initIndex({ maxElements: 1024, m: M, efConstruction, allowReplaceDeleted: true });
    index.setEf(efSearch);
    return { ids: [...live] };
  },
  add({ ids, vectors }: { ids: number[]; vectors: Float32Array }): void {
    const need = index.getCurrentCount() + ids.length;
    if (need > index.getMaxElements()) index.resizeIndex(Math.max(need, 2 * index.getMaxElements()));
    for (let i = 0; i < ids.length; i++) {
      hide(ids[i]!);
      index.addPoint(plain(vectors, i), ids[i]!, true);
      live.add(ids[i]!);
    }
  },
  search({ queries, k }: { queries: Float32Array; k: number }): SearchResult {
    const n = queries.length / dim;
    const kk = Math.min(k, live.size);
    const ids: number[][] = [], sims: number[][] = [];
    for (let q = 0; q < n; q++) {
      if (!kk) {
        ids.push([]);
        sims.push([]);
        continue;
      }
      const r = index.searchKnn(plain(queries, q), kk);
      ids.push(r.neighbors);
      sims.push(r.distances.map((d) => 1 - d));
    }
    return { ids, sims };
  },
  remove({ ids }: { ids: number[] }): void {
    for (const id of ids) hide(id);
  },
  save(): void {
    const tmp = tmpPath(file);
    index.writeIndexSync(tmp);
    commitFile(tmp, file);
  },
  setEf({ ef }: { ef: number }): void {
    index.setEf(ef);
  },
};
export type ShardWorkerApi = typeof api;
serve(api);
