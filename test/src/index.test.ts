import test from 'ava';
import { appendFileSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaults, type IndexConfig } from '../../src/config.ts';
import { exactSearch, exactSearchVectors, openIndex, reconcileIndex, VectorStore } from '../../src/index/index.ts';

const dim = 128;

// Clustered vectors (a centre per "person" plus noise), like descriptors: neighbours are meaningful.
function clustered(n: number, clusters: number, seed = 1): Float32Array {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const centres = Float32Array.from({ length: clusters * dim }, gauss);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    for (let d = 0; d < dim; d++) out[i * dim + d] = centres[c * dim + d]! + 0.6 * gauss();
  }
  return out;
}

const tmp = () => mkdtempSync(join(tmpdir(), 'pros-index-'));

const engines: [string, IndexConfig][] = [
  ['usearch', { ...defaults.index, engine: 'usearch' }],
  ['hnswlib (2 shard threads)', { ...defaults.index, engine: 'hnswlib', threads: 2 }],
  ['hnswlib (1 thread)', { ...defaults.index, engine: 'hnswlib', threads: 1 }],
];
for (const [engine, cfg] of engines) {

  test(`${engine}: add, search, remove, save, load, count`, async (t) => {
    const dir = tmp();
    const vecs = clustered(500, 50);
    const ids = Array.from({ length: 500 }, (_, i) => 1000 + i);
    const index = await openIndex(dir, 'faces', dim, cfg);
    t.is(index.count(), 0);
    t.deepEqual(index.search(vecs.subarray(0, dim), 5), { ids: [[]], sims: [[]] });
    index.add(ids, vecs);
    t.is(index.count(), 500);
    const r = index.search(vecs.subarray(0, 3 * dim), 5);
    t.is(r.ids.length, 3);
    t.deepEqual([r.ids[0]![0], r.ids[1]![0], r.ids[2]![0]], [1000, 1001, 1002]);
    t.true(Math.abs(r.sims[0]![0]! - 1) < 0.02, `self similarity ${r.sims[0]![0]}`);
    t.true(r.sims[0]![1]! <= r.sims[0]![0]!);

    index.remove([1000, 1001]);
    t.false(index.has(1000));
    t.true(index.has(1002));
    t.is(index.count(), 498);
    t.false(index.search(vecs.subarray(0, dim), 10).ids[0]!.includes(1000));
    index.save();

    const again = await openIndex(dir, 'faces', dim, cfg);
    t.is(again.count(), 498);
    t.false(again.has(1000));
    t.is(again.search(vecs.subarray(2 * dim, 3 * dim), 1).ids[0]![0], 1002);
    t.deepEqual(again.ids().sort((a, b) => a - b), ids.slice(2));
  });

  test(`${engine}: adding an id again replaces its vector`, async (t) => {
    const vecs = clustered(100, 10, 5);
    const index = await openIndex(tmp(), 'faces', dim, cfg);
    index.add(Array.from({ length: 100 }, (_, i) => i), vecs);
    // Id 0 takes row 55's vector: a search with row 55 now finds 0 and 55 both at similarity ~1.
    index.add([0], vecs.slice(55 * dim, 56 * dim));
    t.is(index.count(), 100);
    const r = index.search(vecs.slice(55 * dim, 56 * dim), 2);
    t.deepEqual([...r.ids[0]!].sort((a, b) => a - b), [0, 55]);
    t.false(index.search(vecs.slice(0, dim), 3).ids[0]!.includes(0));
  });

  test(`${engine}: recall@10 against exact search on structured vectors`, async (t) => {
    const n = 3000, nq = 100;
    const vecs = clustered(n + nq, 300, 7);
    const base = vecs.subarray(0, n * dim), queries = vecs.subarray(n * dim);
    const ids = Array.from({ length: n }, (_, i) => i);
    const index = await openIndex(tmp(), 'r', dim, cfg);
    index.add(ids, base);
    const truth = exactSearchVectors(base, ids, queries, dim, 10);
    const got = index.search(queries, 10);
    let hit = 0;
    for (let q = 0; q < nq; q++) hit += got.ids[q]!.filter((id) => truth.ids[q]!.includes(id)).length;
    const recall = hit / (nq * 10);
    t.log(`${engine} recall@10 = ${recall.toFixed(3)}`);
    t.true(recall >= 0.9, `recall ${recall}`);
  });

  test(`${engine}: reconcile adds the missing from the store and removes the extra`, async (t) => {
    const dir = tmp();
    const store = VectorStore.open(join(dir, 'descriptors.f32'), dim);
    const vecs = clustered(200, 20, 3);
    const first = store.append(vecs);
    t.is(first, 0);
    const index = await openIndex(dir, 'faces', dim, cfg);
    index.add([1, 2, 3, 999], store.readRows([0, 1, 2, 3]));
    const expected = Array.from({ length: 200 }, (_, i) => ({ id: i + 1, row: i }));
    t.deepEqual(reconcileIndex(index, store, expected), { added: 197, removed: 1 });
    t.is(index.count(), 200);
    t.false(index.has(999));
    t.deepEqual(reconcileIndex(index, store, expected), { added: 0, removed: 0 });
    // It was saved: a fresh open agrees.
    t.is((await openIndex(dir, 'faces', dim, cfg)).count(), 200);
  });
}

test('VectorStore: append, read, and a torn last row cut off on open', (t) => {
  const file = join(tmp(), 'd.f32');
  const store = VectorStore.open(file, 4);
  t.is(store.append(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8)), 0);
  t.is(store.append(Float32Array.of(9, 10, 11, 12)), 2);
  t.deepEqual([...store.read(1)], [5, 6, 7, 8]);
  t.deepEqual([...store.readRows([2, 0])], [9, 10, 11, 12, 1, 2, 3, 4]);
  t.throws(() => store.read(3));
  t.throws(() => store.append(Float32Array.of(1, 2, 3)));
  store.sync();
  store.close();
  // A kill -9 mid-write leaves part of a row.
  appendFileSync(file, Buffer.alloc(6));
  const reopened = VectorStore.open(file, 4);
  t.is(reopened.truncatedBytes, 6);
  t.is(reopened.count(), 3);
  t.is(statSync(file).size, 48);
  t.is(reopened.append(Float32Array.of(0, 0, 0, 1)), 3);
  t.deepEqual([...reopened.read(3)], [0, 0, 0, 1]);
});

test('VectorStore.zero overwrites rows in place (not appended at the end), and appending still works after', (t) => {
  const file = join(tmp(), 'z.f32');
  const store = VectorStore.open(file, 2);
  store.append(Float32Array.of(1, 2, 3, 4, 5, 6));
  t.is(store.zero([1, 7]), 1); // row 7 was never written: ignored
  t.is(statSync(file).size, 24);
  t.deepEqual([...store.readRange(0, 3)], [1, 2, 0, 0, 5, 6]);
  t.is(store.append(Float32Array.of(7, 8)), 3);
  store.close();
  const again = VectorStore.open(file, 2);
  t.deepEqual([...again.readRange(0, 4)], [1, 2, 0, 0, 5, 6, 7, 8]);
  again.close();
});

test('exactSearch re-ranks candidates on the stored vectors', (t) => {
  const store = VectorStore.open(join(tmp(), 'd.f32'), dim);
  const vecs = clustered(50, 5, 9);
  store.append(vecs);
  const cands = [10, 20, 30, 15].map((row) => ({ id: row + 100, row }));
  const r = exactSearch(store, cands, vecs.subarray(10 * dim, 11 * dim), 2);
  t.is(r.ids[0]![0], 110);
  // Row 20 and 30 belong to cluster 0 like row 10; row 15 to cluster 0 too (15 % 5): all candidates are sims ≤ 1.
  t.true(r.sims[0]![0]! > 0.999);
  t.true(r.sims[0]![1]! < r.sims[0]![0]!);
});
