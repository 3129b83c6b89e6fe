// The ANN store's public surface: float32 truth, the engine-neutral index, exact search and reconciliation. The
// store stands on the floor because all three rooms use it: curation's face index, `pros embed`'s run spaces, and
// the web's search in them.
import type { IndexConfig } from '../config.ts';
import type { AnnIndex } from './ann.ts';

export { VectorStore } from './store.ts';
export type { AnnIndex, SearchResult } from './ann.ts';
export { exactSearch, exactSearchVectors, reconcileIndex, rebuildIndex, type Candidate } from './exact.ts';

/** Opens (or creates) the named index under `dir` with the engine `cfg.engine` chooses. */
export async function openIndex(dir: string, name: string, dim: number, cfg: IndexConfig): Promise<AnnIndex> {
  if (cfg.engine === 'usearch') return (await import('./usearch.ts')).UsearchIndex.open(dir, name, dim, cfg);
  // hnswlib-node is single-threaded per index: with threads > 1 it runs one shard per worker thread.
  if (cfg.engine === 'hnswlib' && cfg.threads > 1) return (await import('./hnswlib.ts')).ShardedHnswIndex.open(dir, name, dim, cfg);
  if (cfg.engine === 'hnswlib') return (await import('./hnswlib.ts')).HnswIndex.open(dir, name, dim, cfg);
  throw new Error(`unknown index engine ${String(cfg.engine)}`);
}
