// `pros embed`: the teacher's normalised CLS embeddings of a curated set's crops, appended to index/runs/<run>.f32
// (rows in the `embeddings` table) and added to a second ANN index named by the run, so retrieval can use the learned
// representation beside human's descriptors. Resumable: faces already embedded for the run are skipped.
// The space keeps the model that made it (index/runs/<run>.model/, config.json + tfjs files), so the web can embed
// an uploaded face the same way without loading training code, and training on afterwards does not change it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor2D } from '@tensorflow/tfjs';
import { loadBackend } from '../src/backend.ts';
import { InputError } from '../src/errors.ts';
import { defaults, type Backend, type IndexConfig } from '../src/config.ts';
import { progress } from '../src/progress.ts';
import { openWorkspace } from '../src/workspace.ts';
import { openRunSpace, runSpaceFiles } from '../src/index/runs.ts';
import { loadBackbone, resolveBackbone, type Backbone } from './backbone.ts';
import { l2normalise } from './head.ts';
import { checkpointState } from './checkpoint.ts';
import { inputPixels } from '../src/model/embedder.ts';
import { readModelConfig } from '../src/model/folder.ts';
import { exportModel } from './export/export.ts';
import { installKernels } from './kernels-hook.ts';
import { readManifest } from './manifest.ts';

export interface EmbedOptions {
  /** A run name of the workspace, or an exported model folder. */
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
  /** The space's name: the run's, or the model folder's. */
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
      chunk.map(async (f, j) => pixels.set(await inputPixels(f, size), j * size * size * 3)),
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
    const ref = resolveBackbone(opts.run, ws.paths.runs);
    const key = ref.name;
    if (ref.kind === 'model' && existsSync(join(ws.paths.runs, key))) {
      throw new InputError(`--run ${opts.run}: its name "${key}" is also a run of this workspace; export it again with another --name`);
    }
    const set = readManifest(opts.set, ws.paths.curated);
    const spaceModel = join(ws.paths.index, 'runs', `${key}.model`);
    if (!existsSync(spaceModel)) {
      const dtype = ref.kind === 'model' ? readModelConfig(ref.dir).weights.dtype : 'float16';
      await exportModel({ ws, run: opts.run, out: spaceModel, dtype, tfjsOnly: true });
    }
    const { tf } = await loadBackend(opts.backend ?? 'auto', { quiet: opts.quiet });
    await installKernels(tf);
    const backbone = await loadBackbone(ref, tf);

    const faceExists = ws.db.prepare('SELECT 1 FROM faces WHERE id = ?');
    const done = ws.db.prepare('SELECT 1 FROM embeddings WHERE run = ? AND face_id = ?');
    const todo: Array<{ faceId: number; file: string }> = [];
    let notInWorkspace = 0;
    let alreadyEmbedded = 0;
    for (const item of set.items) {
      const faceId = item.id;
      if (!faceExists.get(faceId)) notInWorkspace++;
      else if (done.get(key, faceId)) alreadyEmbedded++;
      else todo.push({ faceId, file: item.file });
    }

    // Opening reconciles the space's index with the table: rows a crashed run committed reach the index here.
    const vectorsFile = runSpaceFiles(ws, key).vectors;
    const checkpointStep = ref.kind === 'model' ? readModelConfig(ref.dir).source.step : checkpointState(join(ws.paths.runs, key)).step;
    const { store, index } = await openRunSpace(ws, key, opts.index ?? defaults.index, { dim: backbone.dim, checkpointStep });
    const insert = ws.db.prepare('INSERT OR REPLACE INTO embeddings(run, face_id, row) VALUES (?, ?, ?)');
    const bar = progress({ label: `embed ${key}`, total: todo.length, unit: 'crops', silent: opts.quiet });
    const batch = opts.batch ?? 32;
    try {
      for (let i = 0; i < todo.length; i += batch) {
        const chunk = todo.slice(i, i + batch);
        const vecs = await embedFiles(backbone, tf, chunk.map((c) => c.file), batch);
        const first = store.append(vecs);
        store.sync();
        ws.db.transaction(() => chunk.forEach((c, j) => insert.run(key, c.faceId, first + j)))();
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
      run: key,
      set: set.dir,
      dim: backbone.dim,
      embedded: todo.length,
      alreadyEmbedded,
      notInWorkspace,
      vectors: vectorsFile,
      index: join(ws.paths.index, 'runs', key),
      indexCount: index.count(),
    };
  } finally {
    ws.close();
  }
}
