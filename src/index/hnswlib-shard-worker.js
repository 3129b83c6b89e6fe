// One hnswlib-node shard in its own thread (plain JS: no TypeScript loader needed in the worker).
// Requests arrive on `port`; each reply is posted back on it, then `signal` is raised so the blocked caller wakes.
import { workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { existsSync, renameSync } from 'node:fs';

const require = createRequire(import.meta.url);
const { HierarchicalNSW } = require('hnswlib-node');
const { dim, M, efConstruction, efSearch, file, port, signal } = workerData;

let index = new HierarchicalNSW('cosine', dim);
const live = new Set();
const scratch = new Array(dim).fill(0);
const plain = (v, row) => {
  for (let d = 0, o = row * dim; d < dim; d++) scratch[d] = v[o + d];
  return scratch;
};

function open() {
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
}

function hide(id) {
  if (!live.has(id)) return;
  try {
    index.markDelete(id);
  } catch {
    // getIdsList() after a load also lists labels deleted before the save.
  }
  live.delete(id);
}

const ops = {
  open,
  add({ ids, vectors }) {
    const need = index.getCurrentCount() + ids.length;
    if (need > index.getMaxElements()) index.resizeIndex(Math.max(need, 2 * index.getMaxElements()));
    for (let i = 0; i < ids.length; i++) {
      hide(ids[i]);
      index.addPoint(plain(vectors, i), ids[i], true);
      live.add(ids[i]);
    }
    return {};
  },
  search({ queries, k }) {
    const n = queries.length / dim;
    const kk = Math.min(k, live.size);
    const ids = [], sims = [];
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
  remove({ ids }) {
    for (const id of ids) hide(id);
    return {};
  },
  save() {
    index.writeIndexSync(`${file}.tmp`);
    renameSync(`${file}.tmp`, file);
    return {};
  },
  setEf({ ef }) {
    index.setEf(ef);
    return {};
  },
};

port.on('message', (msg) => {
  let reply;
  try {
    reply = { ok: true, ...ops[msg.op](msg) };
  } catch (err) {
    reply = { ok: false, error: String(err && err.stack ? err.stack : err) };
  }
  port.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
