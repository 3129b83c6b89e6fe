// `pros embed`: the teacher's normalised CLS embeddings of a curated set's crops, appended to index/runs/<run>.f32
// (rows in the `embeddings` table) and added to a second ANN index named by the run, so retrieval can use the learned
// representation beside human's descriptors. Resumable: faces already embedded for the run are skipped.
import { join } from 'node:path';
import sharp from 'sharp';
import type { Tensor2D } from '@tensorflow/tfjs';
import { loadBackend } from '../src/backend.ts';
import { InputError } from '../src/errors.ts';
import { defaults, type Backend, type IndexConfig } from '../src/config.ts';
import { progress } from '../src/progress.ts';
import { openWorkspace } from '../src/workspace.ts';
import { openIndex, VectorStore } from '../src/index/index.ts';
import { recordEmbeddingWidth } from '../src/index/run-width.ts';
import { loadBackbone, type Backbone } from './backbone.ts';
import { l2normalise } from './head.ts';
import { hasCheckpoint } from './checkpoint.ts';
import { installKernels } from './kernels-hook.ts';
import { readManifest } from './manifest.ts';

export interface EmbedOptions {
  run: string;
  /** A set name under <workspace>/curated/, or a curated set folder. */
  set: string;
  workspace: string;
  backend?: Backend;
  index?: IndexConfig;
  batch?: number;
  quiet?: boolean;
}

export interface EmbedSummary {
  run: string;
  set: string;
  dim: number;
  embedded: number;
  alreadyEmbedded: number;
  /** Manifest lines whose id is not a face of this workspace (no row to attach an embedding to). */
  notInWorkspace: number;
  vectors: string;
  index: string;
  indexCount: number;
}

/** Teacher CLS embeddings, L2-normalised, of image files (row-major [n, dim]). */
export async function embedFiles(backbone: Backbone, tf: typeof import('@tensorflow/tfjs'), files: string[], batch = 32): Promise<Float32Array> {
  const size = backbone.inputSize;
  const out = new Float32Array(files.length * backbone.dim);
  for (let i = 0; i < files.length; i += batch) {
    const chunk = files.slice(i, i + batch);
    const pixels = new Int32Array(chunk.length * size * size * 3);
    await Promise.all(
      chunk.map(async (f, j) => {
        const raw = await sharp(f).removeAlpha().resize(size, size, { fit: 'cover' }).raw().toBuffer();
        pixels.set(raw, j * size * size * 3);
      }),
    );
    const emb = tf.tidy(() => {
      const x = backbone.normalise(tf.tensor4d(pixels, [chunk.length, size, size, 3], 'int32'));
      const cls = backbone.forward(x, false).cls as Tensor2D;
      return l2normalise(tf, cls);
    });
    out.set((await emb.data()) as Float32Array, i * backbone.dim);
    emb.dispose();
  }
  return out;
}

export async function embedSet(opts: EmbedOptions): Promise<EmbedSummary> {
  const ws = openWorkspace(opts.workspace);
  try {
    const runDir = join(ws.paths.runs, opts.run);
    if (!hasCheckpoint(runDir)) throw new InputError(`--run ${opts.run}: no trained run in ${runDir}`);
    const set = readManifest(opts.set, ws.paths.curated);
    const { tf } = await loadBackend(opts.backend ?? 'auto', { quiet: opts.quiet });
    await installKernels(tf);
    const backbone = await loadBackbone(runDir, tf);

    const faceExists = ws.db.prepare('SELECT 1 FROM faces WHERE id = ?');
    const done = ws.db.prepare('SELECT 1 FROM embeddings WHERE run = ? AND face_id = ?');
    const todo: Array<{ faceId: number; file: string }> = [];
    let notInWorkspace = 0;
    let alreadyEmbedded = 0;
    for (const item of set.items) {
      const faceId = Number(item.id);
      if (!Number.isInteger(faceId) || !faceExists.get(faceId)) notInWorkspace++;
      else if (done.get(opts.run, faceId)) alreadyEmbedded++;
      else todo.push({ faceId, file: item.file });
    }

    const vectorsFile = join(ws.paths.index, 'runs', `${opts.run}.f32`);
    const store = VectorStore.open(vectorsFile, backbone.dim);
    recordEmbeddingWidth(ws.db, opts.run, backbone.dim);
    const index = await openIndex(join(ws.paths.index, 'runs'), opts.run, backbone.dim, opts.index ?? defaults.index);
    const insert = ws.db.prepare('INSERT OR REPLACE INTO embeddings(run, face_id, row) VALUES (?, ?, ?)');
    const bar = progress({ label: `embed ${opts.run}`, total: todo.length, unit: 'crops', silent: opts.quiet });
    const batch = opts.batch ?? 32;
    try {
      for (let i = 0; i < todo.length; i += batch) {
        const chunk = todo.slice(i, i + batch);
        const vecs = await embedFiles(backbone, tf, chunk.map((c) => c.file), batch);
        const first = store.append(vecs);
        store.sync();
        ws.db.transaction(() => chunk.forEach((c, j) => insert.run(opts.run, c.faceId, first + j)))();
        index.add(chunk.map((c) => c.faceId), vecs);
        bar.tick(chunk.length);
      }
      index.save();
    } finally {
      bar.stop();
      store.close();
      backbone.dispose();
    }
    return {
      run: opts.run,
      set: set.dir,
      dim: backbone.dim,
      embedded: todo.length,
      alreadyEmbedded,
      notInWorkspace,
      vectors: vectorsFile,
      index: join(ws.paths.index, 'runs', opts.run),
      indexCount: index.count(),
    };
  } finally {
    ws.close();
  }
}
