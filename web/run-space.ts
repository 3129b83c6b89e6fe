// Search in a trained run's ProS embedding space, opened through the floor (src/index/runs.ts): the header `pros embed`
// wrote gives the width, and opening reconciles the run's index with the `embeddings` table (a crashed embed may have
// committed rows its index never saved). A new photo is embedded with the model the space keeps beside its index
// (index/runs/<run>.model/, written by `pros embed`): a tfjs GraphModel loaded on first use, so the server needs no
// training code.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ProsConfig } from '../src/config.ts';
import type { Workspace } from '../src/workspace.ts';
import { InputError } from '../src/errors.ts';
import { loadBackend } from '../src/backend.ts';
import { loadGraphEmbedder, type Embedder } from '../src/model/embedder.ts';
import { MODEL_CONFIG } from '../src/model/folder.ts';
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
  private readonly models = new Map<string, Promise<Embedder>>();

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

  /** k nearest faces of an embedding (L2-normalised, the space's width), best first. */
  async byVector(run: string, vector: Float32Array, k: number): Promise<Neighbour[]> {
    const s = await this.space(run);
    if (s.index.count() === 0) return [];
    const res = s.index.search(vector, Math.min(s.index.count(), k));
    return res.ids[0].map((id, i) => ({ faceId: id, similarity: res.sims[0][i] }));
  }

  /** The model that made the space, loaded once. */
  embedder(run: string): Promise<Embedder> {
    const dir = join(this.ws.paths.index, 'runs', `${run}.model`);
    if (!existsSync(join(dir, MODEL_CONFIG))) {
      return Promise.reject(new RunSpaceError(
        `run "${run}" has no model kept beside its embeddings (it was embedded by an older pros): run \`pros embed --run ${run} --set SET\` again to search it by upload`,
      ));
    }
    let m = this.models.get(run);
    if (!m) {
      m = loadBackend(this.config.backend, { quiet: true }).then(({ tf }) => loadGraphEmbedder(dir, tf));
      this.models.set(run, m);
      m.catch(() => this.models.delete(run));
    }
    return m;
  }

  close(): void {
    for (const p of this.open.values()) void p.then((s) => s.store.close()).catch(() => undefined);
    this.open.clear();
    for (const m of this.models.values()) void m.then((e) => e.dispose()).catch(() => undefined);
    this.models.clear();
  }
}
