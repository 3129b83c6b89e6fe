// Search in a trained run's ProS embedding space, opened through the floor (src/index/runs.ts): the header `pros embed`
// wrote gives the width, and opening reconciles the run's index with the `embeddings` table (a crashed embed may have
// committed rows its index never saved).
import type { ProsConfig } from '../src/config.ts';
import type { Workspace } from '../src/workspace.ts';
import { InputError } from '../src/errors.ts';
import { openRunSpace, type RunSpace } from '../src/index/runs.ts';
import type { Neighbour } from '../src/contracts/geometry.ts';

/** The query cannot be answered in this run's space (no embedding file, a face it never embedded): an input error. */
export class RunSpaceError extends InputError {}

interface Space extends RunSpace {
  version: number;
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
      try {
        return { version, ...(await openRunSpace(this.ws, run, this.config.index)) };
      } catch (err) {
        if (err instanceof InputError) throw new RunSpaceError(err.message);
        throw err;
      }
    })();
    this.open.set(run, made);
    made.catch(() => this.open.delete(run));
    return made;
  }

  /** k nearest faces of a face in the run's space, best first, without the face itself. */
  async byFace(run: string, faceId: number, k: number): Promise<Neighbour[]> {
    const row = this.ws.db.prepare<[string, number], number>('SELECT row FROM embeddings WHERE run = ? AND face_id = ?').pluck().get(run, faceId);
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
