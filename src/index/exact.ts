// Exact cosine search over the float32 truth, for re-ranking ANN candidates and for measuring recall; and the
// start-of-run consistency check that makes an index agree with the database after a crash.
import type { AnnIndex, SearchResult } from './ann.ts';
import type { VectorStore } from './store.ts';

export interface Candidate {
  id: number;
  /** Row in the VectorStore. */
  row: number;
}

/** Brute-force cosine k-NN of each query among `vectors` (n × dim, any norm). */
export function exactSearchVectors(vectors: Float32Array, ids: ArrayLike<number>, queries: Float32Array, dim: number, k: number): SearchResult {
  const n = ids.length;
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0, o = i * dim; d < dim; d++) s += vectors[o + d]! * vectors[o + d]!;
    norms[i] = Math.sqrt(s) || 1;
  }
  const out: SearchResult = { ids: [], sims: [] };
  const sims = new Float32Array(n);
  for (let q = 0; q < queries.length / dim; q++) {
    let qn = 0;
    for (let d = 0, o = q * dim; d < dim; d++) qn += queries[o + d]! * queries[o + d]!;
    qn = Math.sqrt(qn) || 1;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let d = 0, a = i * dim, b = q * dim; d < dim; d++) s += vectors[a + d]! * queries[b + d]!;
      sims[i] = s / (norms[i]! * qn);
    }
    const order = topK(sims, k);
    out.ids.push(order.map((i) => ids[i]!));
    out.sims.push(order.map((i) => sims[i]!));
  }
  return out;
}

function topK(s: Float32Array, k: number): number[] {
  const kk = Math.min(k, s.length);
  const best: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (best.length < kk) {
      best.push(i);
      if (best.length === kk) best.sort((a, b) => s[b]! - s[a]!);
    } else if (s[i]! > s[best[kk - 1]!]!) {
      let j = kk - 1;
      while (j > 0 && s[best[j - 1]!]! < s[i]!) j--;
      best.splice(j, 0, i);
      best.pop();
    }
  }
  if (best.length < kk || kk === best.length) best.sort((a, b) => s[b]! - s[a]!);
  return best;
}

/** Exact k-NN of the queries among the candidates' stored vectors: re-ranks ANN results on the float32 truth. */
export function exactSearch(store: VectorStore, candidates: Candidate[], queries: Float32Array, k: number): SearchResult {
  const vectors = store.readRows(candidates.map((c) => c.row));
  return exactSearchVectors(vectors, candidates.map((c) => c.id), queries, store.dim, k);
}

/**
 * Makes the index hold exactly `expected` (the database's described faces): adds the missing from the store and
 * removes the extra, then saves if anything changed. Call at start; cheap when they already agree.
 */
export function reconcileIndex(index: AnnIndex, store: VectorStore, expected: Candidate[], batch = 4096): { added: number; removed: number } {
  const want = new Set(expected.map((c) => c.id));
  const extra = index.ids().filter((id) => !want.has(id));
  if (extra.length) index.remove(extra);
  const missing = expected.filter((c) => !index.has(c.id));
  for (let i = 0; i < missing.length; i += batch) {
    const part = missing.slice(i, i + batch);
    index.add(part.map((c) => c.id), store.readRows(part.map((c) => c.row)));
  }
  if (extra.length || missing.length) index.save();
  return { added: missing.length, removed: extra.length };
}

/** Drops whatever the index holds and builds it again from the store. */
export function rebuildIndex(index: AnnIndex, store: VectorStore, expected: Candidate[]): { added: number; removed: number } {
  const removed = index.count();
  index.remove(index.ids());
  const r = reconcileIndex(index, store, expected);
  return { added: r.added, removed };
}
