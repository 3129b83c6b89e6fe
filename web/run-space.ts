// Search in a trained run's ProS embedding space, read through the contract `pros embed` writes (training/embed.ts):
// rows of index/runs/<run>.f32 named by the `embeddings` table, and an ANN index named by the run under index/runs/.
// The embedding width comes from src/index/run-width.ts (recorded, or inferred from the file).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { ProsConfig } from '../src/config.ts';
import type { Workspace } from '../src/workspace.ts';
import { InputError } from '../src/errors.ts';
import { openIndex, VectorStore, type AnnIndex } from '../src/index/index.ts';
import type { Neighbour } from '../src/contracts/geometry.ts';
import { embeddingWidth, runEmbeddingWidth } from '../src/index/run-width.ts';

/** The query cannot be answered in this run's space (no embedding file, a face it never embedded): an input error. */
export class RunSpaceError extends InputError {}

export { embeddingWidth };

interface Space {
  version: number;
  store: VectorStore;
  index: AnnIndex;
}

/** Open run spaces, reopened when the database has changed since (a `pros embed` may have added rows). */
export class RunSpaces {
  private readonly open = new Map<string, Promise<Space>>();

  constructor(
    private readonly ws: Workspace,
    private readonly config: ProsConfig,
  ) {}

  private async space(run: string): Promise<Space> {
    const version = this.ws.db.pragma('data_version', { simple: true }) as number;
    const cached = this.open.get(run);
    if (cached) {
      const s = await cached.catch(() => undefined);
      if (s && s.version === version) return s;
      s?.store.close();
      this.open.delete(run);
    }
    const made = (async (): Promise<Space> => {
      const dir = join(this.ws.paths.index, 'runs');
      const file = join(dir, `${run}.f32`);
      try {
        statSync(file);
      } catch {
        throw new RunSpaceError(`run "${run}" has no embedding file (${file})`);
      }
      const dim = runEmbeddingWidth(this.ws.db, this.ws.paths.index, run);
      if (!dim) throw new RunSpaceError(`run "${run}": cannot tell the embedding width of ${file}`);
      const store = VectorStore.open(file, dim);
      const index = await openIndex(dir, run, dim, this.config.index);
      return { version, store, index };
    })();
    this.open.set(run, made);
    made.catch(() => this.open.delete(run));
    return made;
  }

  /** k nearest faces of a face in the run's space, best first, without the face itself. */
  async byFace(run: string, faceId: number, k: number): Promise<Neighbour[]> {
    const row = this.ws.db.prepare('SELECT row FROM embeddings WHERE run = ? AND face_id = ?').pluck().get(run, faceId) as
      | number
      | undefined;
    if (row === undefined) throw new RunSpaceError(`face ${faceId} has no embedding in run "${run}" (pros embed)`);
    const s = await this.space(run);
    if (s.index.count() === 0) return [];
    const res = s.index.search(s.store.read(row), Math.min(s.index.count(), k + 1));
    const out: Neighbour[] = [];
    res.ids[0].forEach((id, i) => {
      if (id !== faceId) out.push({ faceId: id, similarity: res.sims[0][i] });
    });
    return out.slice(0, k);
  }

  close(): void {
    for (const p of this.open.values()) void p.then((s) => s.store.close()).catch(() => undefined);
    this.open.clear();
  }
}
