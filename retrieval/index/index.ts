// The ANN store's public surface: float32 truth, the engine-neutral index, exact search and reconciliation.
export { VectorStore } from './store.ts';
export { openIndex, type AnnIndex, type SearchResult } from './ann.ts';
export { exactSearch, exactSearchVectors, reconcileIndex, rebuildIndex, type Candidate } from './exact.ts';
