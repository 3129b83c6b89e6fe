// A workspace built by the real curate pipeline on a small local corpus (package photos, a resized copy, generated
// non-face images, hostile file names), plus run, metrics and eval rows written to the training and evaluation
// contracts, and the server over it on 127.0.0.1.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { defaults, type ProsConfig } from '../../src/config.ts';
import { openWorkspace, type Workspace } from '../../src/workspace.ts';
import { nonFaceImage } from '../../app/demo/corpus.ts';
import { packagePhotos } from '../../app/package-media.ts';
import { curate } from '../../retrieval/pipeline.ts';
import { serve, type Serving } from '../../web/server.ts';
import { VectorStore } from '../../src/index/index.ts';
import { openRunSpace } from '../../src/index/runs.ts';
import { DESCRIPTOR_DIM } from '../../retrieval/face-index.ts';
import { presets } from '../../training/config.ts';
import type { TrainConfig } from '../../src/contracts/config.ts';
import type {
  AuditReply, ErrorReply, EvalsReply, Face, FacePage, FilterChoices, ForgetPreviewReply, ImageDetail, ImagePage, LineageReply, Overview,
  RunCurves, RunsReply, SearchReply, SearchSpacesReply,
} from '../../src/contracts/api.ts';

export const photo = (name: string) => {
  const p = packagePhotos().find((x) => x.endsWith(`/${name}`));
  if (!p) throw new Error(`package photo ${name} not found`);
  return p;
};

/** A file name a hostile site could serve an image under (no "/" — it must be a legal file name). */
export const HOSTILE_NAME = '<img src=x onerror=window.__xss=1>.jpg';
export const HOSTILE_CAPTION = '<script>window.__xss=2</script><img src=x onerror="window.__xss=3"> caption';

export async function makeCorpus(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'pros-web-corpus-'));
  for (const n of ['audrey.jpg', 'franck_01829.jpg', 'franck_03909.jpg', 'cage.jpg', 'SeanConnery.jpg']) {
    copyFileSync(photo(n), join(dir, n));
  }
  copyFileSync(photo('faces.jpg'), join(dir, 'three-faces.jpg'));
  copyFileSync(photo('kim1_crop.jpg'), join(dir, HOSTILE_NAME));
  // A re-encoded smaller copy: a near-duplicate for the detail page.
  const meta = await sharp(photo('audrey.jpg')).metadata();
  await sharp(photo('audrey.jpg')).resize(Math.round(meta.width! * 0.8)).jpeg({ quality: 80 }).toFile(join(dir, 'audrey-copy.jpg'));
  // Pixels stored turned a quarter, with EXIF orientation 6 saying how to show them upright: boxes are in upright
  // pixels, so thumbnails and overlays must apply the orientation too.
  await sharp(photo('SeanConnery.jpg')).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 90 })
    .toFile(join(dir, 'connery-exif6.jpg'));
  for (let i = 0; i < 2; i++) writeFileSync(join(dir, `nonface-${i}.jpg`), await nonFaceImage(i));
  writeFileSync(join(dir, 'notes.jpg'), 'not an image at all');
  return dir;
}

export interface Fixture {
  ws: Workspace;
  config: ProsConfig;
  corpus: string;
  server: Serving;
  url: string;
  close(): Promise<void>;
}

/** Curates the corpus into a fresh workspace, adds contract rows for runs and evals, and serves it. */
export async function buildFixture(): Promise<Fixture> {
  const corpus = await makeCorpus();
  const root = mkdtempSync(join(tmpdir(), 'pros-web-ws-'));
  const config: ProsConfig = { ...defaults, workspace: root, faces: { ...defaults.faces, workers: 1 } };
  const ws = openWorkspace(root);
  await curate({ ws, config, sources: [corpus], set: 'people', quiet: true });
  // A crawled caption is whatever the source row said; a folder has none, so give one image a hostile caption.
  ws.db.prepare(`UPDATE images SET caption = ?, licence = 'CC-BY-4.0' WHERE origin LIKE '%audrey.jpg'`).run(HOSTILE_CAPTION);
  addRun(ws, 'demo-run', 40);
  // Its index left unsaved, as by a killed `pros embed`: the web reconciles it from the table when it opens the space.
  await addRunEmbeddings(ws, config, 'demo-run', 64, { indexSaved: false });
  addEvals(ws);
  const server = await serve({ ws, config, port: 0 });
  return {
    ws,
    config,
    corpus,
    server,
    url: server.url,
    close: async () => {
      await server.close();
      ws.close();
      rmSync(root, { recursive: true, force: true });
      rmSync(corpus, { recursive: true, force: true });
    },
  };
}

/** Rows as the trainer writes them (runs + metrics.values_json per step). */
export function addRun(ws: Workspace, name: string, steps: number): void {
  ws.db.prepare(`INSERT INTO runs (name, data, config, backend, status, step) VALUES (?, 'curated/people', ?, 'wasm', 'done', ?)`)
    .run(name, JSON.stringify({ ...presets.tiny!, steps } satisfies TrainConfig), steps);
  const add = ws.db.prepare('INSERT INTO metrics (run, step, values_json) VALUES (?, ?, ?)');
  for (let s = 0; s < steps; s++) {
    const distill = 6 * Math.exp(-s / 15) + 1;
    const proto = 2 * Math.exp(-s / 20) + 0.5;
    // The trainer's LoggedMetrics names (training/trainer.ts StepMetrics + imgPerSec).
    add.run(name, s, JSON.stringify({ step: s, loss: distill + proto, distill, proto, protoCe: proto * 0.9,
      protoMeanEntropy: 3 - s / 30, lr: 1e-3 * Math.min(1, (s + 1) / 10), weightDecay: 0.04 + s / 1000, momentum: 0.996,
      teacherTemp: 0.04, teacherEntropy: 4 - s / 20, teacherStudentKl: 0.5, protosUsed: 100 + s, protosUsedStudent: 90 + s,
      featureStd: 0.3, gradNorm: 1 + 1 / (s + 1), imgPerSec: 50 + (s % 5), collapse: s === 3 ? 'one output dominates' : undefined }));
  }
}

/**
 * Embeddings as `pros embed` writes them (index/runs/<run>.f32, `embeddings` rows, an ANN index named by the run),
 * here a fixed random projection of the human descriptors of accepted faces to 64 dimensions, so that neighbours
 * in the run's space are still meaningful.
 */
export async function addRunEmbeddings(ws: Workspace, config: ProsConfig, run: string, dim = 64, opts: { indexSaved?: boolean } = {}): Promise<void> {
  const human = VectorStore.open(join(ws.paths.index, 'descriptors.f32'), DESCRIPTOR_DIM);
  const faces = ws.db.prepare<[], { id: number; row: number }>(`SELECT id, descriptor_row AS row FROM faces WHERE status = 'accepted' AND descriptor_row IS NOT NULL`)
    .all();
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296) - 0.5;
  const proj = Float32Array.from({ length: DESCRIPTOR_DIM * dim }, rand);
  const out = new Float32Array(faces.length * dim);
  faces.forEach((f, i) => {
    const d = human.read(f.row);
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      let v = 0;
      for (let k = 0; k < DESCRIPTOR_DIM; k++) v += d[k] * proj[k * dim + j];
      out[i * dim + j] = v;
      norm += v * v;
    }
    for (let j = 0; j < dim; j++) out[i * dim + j] /= Math.sqrt(norm);
  });
  human.close();
  const { store, index } = await openRunSpace(ws, run, config.index, { dim, checkpointStep: 0 });
  const first = store.append(out);
  store.close();
  const add = ws.db.prepare('INSERT INTO embeddings (run, face_id, row) VALUES (?, ?, ?)');
  ws.db.transaction(() => faces.forEach((f, i) => add.run(run, f.id, first + i)))();
  // As after a `pros embed` killed before it saved its index: the rows are committed, the index never saw them. The
  // web must reconcile when it opens the space (the search test finds neighbours only if it does).
  if (opts.indexSaved ?? true) {
    index.add(faces.map((f) => f.id), out);
    index.save();
  }
}

export function addEvals(ws: Workspace): void {
  const add = ws.db.prepare(
    'INSERT INTO evals (run, task, dataset, protocol, shots, seed, metric, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  // Rows as training/downstream/evaluate.ts writes them: the task's main metric plus others.
  for (const [run, v] of [['random', 0.5], ['human', 0.7], ['demo-run', 0.75]] as const) {
    for (const seed of [0, 1]) {
      add.run(run, 'attributes', 'synthetic', 'linear', null, seed, 'mean_accuracy', v + seed * 0.01);
      add.run(run, 'attributes', 'synthetic', 'linear', null, seed, 'mean_f1', v - 0.1);
    }
    add.run(run, 'landmarks', 'synthetic', 'linear', 10, 0, 'nme', 0.2 - v / 10);
  }
  // The random init of another ViT (a depth-2 copy) on the same setting: a baseline of its own, not a re-run.
  ws.db.prepare("INSERT INTO evals (run, task, dataset, protocol, shots, seed, metric, value, extra) VALUES ('random', 'landmarks', 'synthetic', 'linear', 10, 0, 'nme', 0.3, ?)")
    .run(JSON.stringify({ initSeed: 0, architecture: SHALLOW_VIT }));
  // A probe of demo-run at the cosine schedule beside its constant-rate rows (stored before schedules were recorded).
  ws.db.prepare("INSERT INTO evals (run, task, dataset, protocol, shots, seed, metric, value, extra) VALUES ('demo-run', 'attributes', 'synthetic', 'linear', NULL, 2, 'mean_accuracy', 0.8, ?)")
    .run(JSON.stringify({ schedule: 'cosine' }));
}

export const SHALLOW_VIT = 'ViT 64/8, width 192, depth 2, 3 heads, mlp ×4';

/** A same-origin JSON POST, as our pages send it. */
export function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: url, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/**
 * The reply type of a GET path, from the API's one set of reply types (src/contracts/api.ts): a test reads a reply
 * through it, so a key renamed on the server side fails the typecheck here. More specific paths come first.
 */
export type Reply<P extends string> =
  P extends `/api/overview${string}` ? Overview
  : P extends `/api/faces/${string}` ? Face
  : P extends `/api/faces${string}` ? FacePage
  : P extends `/api/filters${string}` ? FilterChoices
  : P extends `/api/images/${string}` ? ImageDetail
  : P extends `/api/images${string}` ? ImagePage
  : P extends `/api/search/spaces${string}` ? SearchSpacesReply
  : P extends `/api/search${string}` ? SearchReply
  : P extends `/api/runs/${string}/metrics${string}` ? RunCurves
  : P extends `/api/runs/${string}/lineage${string}` ? LineageReply
  : P extends `/api/runs${string}` ? RunsReply
  : P extends `/api/evals${string}` ? EvalsReply
  : P extends `/api/privacy/forget/preview${string}` ? ForgetPreviewReply
  : P extends `/api/privacy/audit${string}` ? AuditReply
  : unknown;

/** GET a JSON reply, typed by its path; an error reply's `error` is there too. */
export async function getJson<P extends string>(base: string, path: P): Promise<{ status: number; body: Reply<P> & Partial<ErrorReply> }> {
  const r = await fetch(base + path);
  return { status: r.status, body: (await r.json()) as Reply<P> & Partial<ErrorReply> };
}
