// `npm run bench:web`: latency of the web UI's grid and similarity-search endpoints over loopback, with N faces in
// the workspace (default 100k). Faces are synthetic rows with structured 1024-d descriptors (identities = cluster
// centres, photos = noisy copies), stored in the descriptor file and the ANN index exactly as `pros curate` stores
// them, and served by the real server. The workspace is built once under .bench/ and reused.
//
//   npm run bench:web -- [--n 100000] [--requests 300] [--only grid|search] [--fresh]
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaults, type ProsConfig } from '../src/config.ts';
import { openWorkspace, type Workspace } from '../src/workspace.ts';
import { openIndex, VectorStore } from '../src/index/index.ts';
import { DESCRIPTOR_DIM } from '../retrieval/face-index.ts';
import { serve } from '../web/server.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    requests: { type: 'string', default: '300' },
    only: { type: 'string' },
    fresh: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const REQUESTS = Number(values.requests);
if (!Number.isInteger(N) || N < 100 || !Number.isInteger(REQUESTS) || REQUESTS < 10) {
  console.error('usage: web.bench.ts --n <faces ≥ 100> --requests <≥ 10> [--only grid|search] [--fresh]');
  process.exit(2);
}
const withSearch = values.only !== 'grid';
const withGrid = values.only !== 'search';

/** Seeded, so every run builds the same workspace. */
function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  return { u, normal: () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) };
}

const REASONS = ['too_small', 'low_score', 'pose', 'blurry', 'too_many_faces'];

function build(ws: Workspace, config: ProsConfig, n: number): Promise<void> {
  const r = rng(42);
  const identities = Math.max(10, Math.round(n / 50));
  const centres = new Float32Array(identities * DESCRIPTOR_DIM).map(() => r.normal());
  const vectors = VectorStore.open(join(ws.paths.index, 'descriptors.f32'), DESCRIPTOR_DIM);
  const db = ws.db;
  db.prepare(`INSERT INTO sources (kind, uri, done) VALUES ('folder', 'bench://synthetic', 1)`).run();
  db.prepare(`INSERT OR IGNORE INTO sets (name, kind) VALUES ('bench', 'curated')`).run();
  const item = db.prepare(`INSERT INTO items (source_id, uri, status, image_sha256) VALUES (1, ?, 'ok', ?)`);
  const image = db.prepare(
    `INSERT INTO images (sha256, width, height, format, bytes, origin, status, reason, n_faces, face_ratio)
     VALUES (?, 640, 480, 'jpeg', 50000, ?, ?, ?, 1, ?)`,
  );
  const face = db.prepare(
    `INSERT INTO faces (id, image_sha256, idx, x, y, w, h, score, face_ratio, landmarks, yaw, pitch, roll, sharpness,
       dhash, descriptor_row, status, reason, dup_of)
     VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const member = db.prepare(`INSERT INTO set_members (set_name, face_id, added_by) VALUES ('bench', ?, 'bench')`);
  const accepted: number[] = [];
  const points = (k: number) => JSON.stringify(Array.from({ length: k }, () => [+(100 + r.u() * 300).toFixed(4), +(100 + r.u() * 300).toFixed(4)]));
  const mesh468 = points(468);
  const mesh6 = points(6);
  const BATCH = 5000;
  return (async () => {
    const index = await openIndex(ws.paths.index, 'faces', DESCRIPTOR_DIM, config.index);
    for (let start = 0; start < n; start += BATCH) {
      const m = Math.min(BATCH, n - start);
      // Grid-only runs skip the descriptors: the grid never reads them.
      const batch = new Float32Array(withSearch ? m * DESCRIPTOR_DIM : 0);
      for (let j = 0; j < (withSearch ? m : 0); j++) {
        const c = Math.floor(r.u() * identities);
        let norm = 0;
        for (let d = 0; d < DESCRIPTOR_DIM; d++) {
          const v = centres[c * DESCRIPTOR_DIM + d] + 0.6 * r.normal();
          batch[j * DESCRIPTOR_DIM + d] = v;
          norm += v * v;
        }
        norm = Math.sqrt(norm);
        for (let d = 0; d < DESCRIPTOR_DIM; d++) batch[j * DESCRIPTOR_DIM + d] /= norm;
      }
      const firstRow = withSearch ? vectors.append(batch) : null;
      const batchAccepted: number[] = [];
      const batchRows: number[] = [];
      db.transaction(() => {
        for (let j = 0; j < m; j++) {
          const id = start + j + 1;
          const sha = id.toString(16).padStart(64, '0');
          const p = r.u();
          const status = p < 0.7 ? 'accepted' : p < 0.9 ? 'rejected' : 'duplicate';
          const reason = status === 'rejected' ? REASONS[Math.floor(r.u() * REASONS.length)] : status === 'duplicate' ? 'near_duplicate' : null;
          const w = 60 + r.u() * 300;
          const ratio = Math.min(1, (w * w) / (640 * 480));
          item.run(`bench://synthetic/${id}.jpg`, sha);
          // Described faces carry the 468-point mesh (~6 KB of JSON, as curate stores it); its size is what makes
          // a scan of the faces table expensive, so the bench must have it.
          const landmarks = status === 'rejected' && r.u() < 0.5 ? mesh6 : mesh468;
          image.run(sha, `https://example.org/bench/${id}.jpg`, status === 'rejected' ? 'rejected' : 'accepted', reason, ratio);
          face.run(id, sha, r.u() * 100, r.u() * 100, w, w * 1.1, 0.5 + r.u() * 0.5, ratio, landmarks, r.normal() * 20, r.normal() * 15,
            r.normal() * 10, r.u() * 500, null, firstRow === null ? null : firstRow + j, status, reason, status === 'duplicate' && id > 1 ? id - 1 : null);
          if (status === 'accepted') {
            member.run(id);
            batchAccepted.push(id);
            batchRows.push(j);
          }
        }
      })();
      if (withSearch) {
        const acc = new Float32Array(batchAccepted.length * DESCRIPTOR_DIM);
        batchRows.forEach((j, k) => acc.set(batch.subarray(j * DESCRIPTOR_DIM, (j + 1) * DESCRIPTOR_DIM), k * DESCRIPTOR_DIM));
        index.add(batchAccepted, acc);
      }
      accepted.push(...batchAccepted);
      process.stderr.write(`\rbuilding: ${start + m}/${n} faces`);
    }
    vectors.sync();
    vectors.close();
    if (withSearch) index.save();
    process.stderr.write('\n');
  })();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(url: string, paths: () => string, n: number) {
  for (let i = 0; i < Math.min(20, n); i++) await (await fetch(url + paths())).arrayBuffer();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const path = paths();
    const t0 = performance.now();
    const res = await fetch(url + path);
    await res.arrayBuffer();
    times.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95), max: times[times.length - 1], n };
}

const dir = join(process.cwd(), '.bench', `web-${N}${withSearch ? '' : '-grid'}`);
if (values.fresh) rmSync(dir, { recursive: true, force: true });
const config: ProsConfig = { ...defaults, workspace: dir };
const done = join(dir, 'built');
const t0 = performance.now();
if (!existsSync(done)) {
  rmSync(dir, { recursive: true, force: true });
  const ws = openWorkspace(dir);
  await build(ws, config, N);
  ws.close();
  writeFileSync(done, new Date().toISOString());
}
const buildS = (performance.now() - t0) / 1000;

const ws = openWorkspace(dir);
const s = await serve({ ws, config, port: 0 });
const r = rng(7);
const pick = (n: number) => 1 + Math.floor(r.u() * n);
const total = ws.db.prepare<[], number>('SELECT COUNT(*) FROM faces').pluck().get()!;
const acceptedIds = ws.db.prepare<[], number>(`SELECT id FROM faces WHERE status = 'accepted'`).pluck().all();
const rows: Array<Record<string, unknown>> = [];
const report = (name: string, m: { p50: number; p95: number; max: number; n: number }) => {
  rows.push({ endpoint: name, p50_ms: +m.p50.toFixed(2), p95_ms: +m.p95.toFixed(2), max_ms: +m.max.toFixed(2), requests: m.n });
  console.log(`${name.padEnd(48)} p50 ${m.p50.toFixed(2).padStart(7)} ms   p95 ${m.p95.toFixed(2).padStart(7)} ms   max ${m.max.toFixed(1).padStart(7)} ms`);
};
console.log(`web bench: ${total} faces (${acceptedIds.length} accepted), ${REQUESTS} requests per endpoint, workspace ${dir} (ready in ${buildS.toFixed(1)} s)`);
try {
  if (withGrid) {
    const pages = Math.max(1, Math.floor(total / 60));
    report('grid: page, newest first', await measure(s.url, () => `/api/faces?offset=${(pick(pages) - 1) * 60}&limit=60`, REQUESTS));
    report('grid: accepted, by score', await measure(s.url, () => `/api/faces?status=accepted&sort=score&offset=${(pick(20) - 1) * 60}`, REQUESTS));
    report('grid: filters (score, ratio, yaw, sharpness)', await measure(s.url,
      () => `/api/faces?minScore=${(0.5 + r.u() * 0.4).toFixed(2)}&maxRatio=0.3&maxYaw=25&minSharpness=100&sort=sharpness`, REQUESTS));
    report('grid: set member, by ratio', await measure(s.url, () => `/api/faces?set=bench&sort=ratio&order=asc&offset=${(pick(20) - 1) * 60}`, REQUESTS));
    report('grid: rejected by reason', await measure(s.url, () => `/api/faces?status=rejected&reason=${REASONS[pick(REASONS.length) - 1]}`, REQUESTS));
  }
  // The other pages a curator opens every day, fewer requests each.
  const few = Math.max(10, Math.floor(REQUESTS / 5));
  const cold = performance.now();
  await (await fetch(`${s.url}/api/overview`)).arrayBuffer();
  const coldMs = performance.now() - cold;
  report('overview, first (computed)', { p50: coldMs, p95: coldMs, max: coldMs, n: 1 });
  report('overview', await measure(s.url, () => '/api/overview', few));
  report('filter menus', await measure(s.url, () => '/api/filters', few));
  report('image grid: a page, newest first', await measure(s.url, () => `/api/images?offset=${(pick(Math.max(1, Math.floor(total / 60))) - 1) * 60}`, REQUESTS));
  report('image detail', await measure(s.url, () => `/api/images/${pick(total).toString(16).padStart(64, '0')}`, REQUESTS));
  if (withSearch) {
    report('search: k=12 nearest of a face (human space)', await measure(s.url,
      () => `/api/search?face=${acceptedIds[pick(acceptedIds.length) - 1]}&k=12`, REQUESTS));
    report('search: k=50', await measure(s.url, () => `/api/search?face=${acceptedIds[pick(acceptedIds.length) - 1]}&k=50`, REQUESTS));
  }
  console.log(JSON.stringify({ bench: 'web', faces: total, date: new Date().toISOString(), results: rows }));
} finally {
  await s.close();
  ws.close();
}
