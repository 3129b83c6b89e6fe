// A trained run's embedding space in the workspace: index/runs/<run>.f32 (rows named by the `embeddings` table), its
// header <run>.json (src/contracts/embeddings.ts) and an ANN index named by the run. Opened here by `pros embed` and by
// the web alike, and reconciled with the database on every open: `pros embed` commits rows per chunk but saves the
// index at the end, so after a crash the table names faces the saved index lacks; the float32 file is the truth.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IndexConfig } from '../config.ts';
import type { Workspace } from '../workspace.ts';
import { InputError } from '../errors.ts';
import { log } from '../log.ts';
import { writeFileAtomic } from '../atomic.ts';
import { RunEmbeddingHeader } from '../contracts/embeddings.ts';
import { describeIssues } from '../contracts/manifest.ts';
import { openIndex, reconcileIndex, type AnnIndex } from './index.ts';
import { VectorStore } from './store.ts';

export interface RunSpace {
  header: RunEmbeddingHeader;
  store: VectorStore;
  index: AnnIndex;
  /** What opening changed in the index to match the database. */
  reconciled: { added: number; removed: number };
}

export function runSpaceFiles(ws: Workspace, run: string): { dir: string; vectors: string; header: string } {
  const dir = join(ws.paths.index, 'runs');
  return { dir, vectors: join(dir, `${run}.f32`), header: join(dir, `${run}.json`) };
}

/** The run's header, or undefined when `pros embed` never ran for it; an InputError when the file is not one. */
export function readRunHeader(ws: Workspace, run: string): RunEmbeddingHeader | undefined {
  const file = runSpaceFiles(ws, run).header;
  if (!existsSync(file)) return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new InputError(`${file}: not valid JSON`);
  }
  const r = RunEmbeddingHeader.safeParse(obj);
  if (!r.success) throw new InputError(`${file}: ${describeIssues(r.error)}`);
  return r.data;
}

/**
 * Opens a run's space. `create` (from `pros embed`) writes the header when there is none and checks the width when
 * there is one; without it (readers) a run with no header is an InputError.
 */
export async function openRunSpace(
  ws: Workspace,
  run: string,
  indexConfig: IndexConfig,
  create?: { dim: number; checkpointStep: number },
): Promise<RunSpace> {
  const files = runSpaceFiles(ws, run);
  let header = readRunHeader(ws, run);
  if (!header) {
    if (!create) throw new InputError(`run "${run}" has no embeddings (${files.header} missing: run pros embed --run ${run})`);
    header = { format: 'pros-run-embeddings/1', run, dim: create.dim, checkpointStep: create.checkpointStep, createdAt: new Date().toISOString() };
    writeFileAtomic(files.header, JSON.stringify(header, null, 2) + '\n');
  } else if (create && create.dim !== header.dim) {
    throw new InputError(`run "${run}": its embeddings are ${header.dim}-d (${files.header}) but the checkpoint's are ${create.dim}-d; remove ${files.vectors} and ${files.header} to embed again`);
  } else if (create && create.checkpointStep !== header.checkpointStep) {
    log.warn(`run "${run}": embeddings so far were made at checkpoint step ${header.checkpointStep}, this checkpoint is at step ${create.checkpointStep}; the space mixes the two`);
  }
  const store = VectorStore.open(files.vectors, header.dim);
  const index = await openIndex(files.dir, run, header.dim, indexConfig);
  const rows = ws.db.prepare<[string], { id: number; row: number }>('SELECT face_id AS id, row FROM embeddings WHERE run = ? ORDER BY face_id').all(run);
  const usable = rows.filter((r) => r.row < store.count());
  if (usable.length < rows.length) log.warn(`run "${run}": ${rows.length - usable.length} embeddings named by the database are not in ${files.vectors}`);
  const reconciled = reconcileIndex(index, store, usable);
  if (reconciled.added || reconciled.removed) log.info(`run "${run}": index reconciled with the workspace: ${reconciled.added} added, ${reconciled.removed} removed`);
  return { header, store, index, reconciled };
}
