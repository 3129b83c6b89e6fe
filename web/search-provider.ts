// The similarity search the pages use, over the retrieval subsystem's search functions (retrieval/search.ts:
// `searchByFace` through the ANN index, `searchByImage` for a new image). Loaded lazily, so the UI still serves the
// rest of the workspace, with an empty state for search, where those functions or the index cannot load.
// An upload searched in a run's ProS space has its faces found by human, cut out with the export's crop geometry
// and embedded by the model that made the space (web/run-space.ts).
import sharp from 'sharp';
import type { ProsConfig } from '../src/config.ts';
import type { Workspace } from '../src/workspace.ts';
import type { Neighbour } from '../src/contracts/geometry.ts';
import type { UploadFace, UploadResult } from '../src/contracts/api.ts';
import { RunSpaces } from './run-space.ts';
import { inputPixels } from '../src/model/embedder.ts';

export interface SearchProvider {
  /** Null when search works; otherwise why not, for the page's empty state. */
  unavailable(): Promise<string | null>;
  /** 'human' first, then every run with embeddings of this workspace's faces. */
  spaces(): string[];
  byFace(faceId: number, k: number, space: string): Promise<Neighbour[]>;
  byUpload(bytes: Buffer, k: number, space: string): Promise<UploadResult>;
  /** Tells the provider the curation changed (accept/reject), so its index follows. */
  refresh?(): void;
  close?(): Promise<void>;
}

type SearchModule = typeof import('../retrieval/search.ts');
type FaceIndexModule = typeof import('../retrieval/face-index.ts');
type PoolModule = typeof import('../retrieval/faces/pool.ts');
type CropModule = typeof import('../retrieval/crop.ts');
type FaceIndex = import('../retrieval/face-index.ts').FaceIndex;
type FacePool = import('../retrieval/faces/pool.ts').FacePool;

export class SearchUnavailable extends Error {}

interface Loaded {
  search: SearchModule;
  faceIndex: FaceIndexModule;
  pool: PoolModule;
  crop: CropModule;
}

/**
 * Search over the workspace's human descriptors with retrieval/search.ts, the functions `pros search` uses. The
 * ANN index is held open; it is reopened when another process (a `pros curate` beside the server) has committed to
 * the workspace, and reconciled after this server's own accept/reject, so search always sees the current curation.
 * The face models for uploads start on the first upload and stay loaded.
 */
export function retrievalSearch(ws: Workspace, config: ProsConfig): SearchProvider & { refresh(): void; close(): Promise<void> } {
  let mods: Promise<Loaded | string> | undefined;
  let index: Promise<FaceIndex> | undefined;
  let indexVersion = -1;
  let pool: Promise<FacePool> | undefined;
  let stale = false;
  const dataVersion = () => ws.db.pragma('data_version', { simple: true }) as number;

  const load = () =>
    (mods ??= Promise.all([
      import('../retrieval/search.ts'),
      import('../retrieval/face-index.ts'),
      import('../retrieval/faces/pool.ts'),
      import('../retrieval/crop.ts'),
    ]).then(
      ([search, faceIndex, pool, crop]) => ({ search, faceIndex, pool, crop }),
      (e: Error) => `similarity search could not load (${e.message})`,
    ));
  const need = async (): Promise<Loaded> => {
    const m = await load();
    if (typeof m === 'string') throw new SearchUnavailable(m);
    return m;
  };
  const openIndex = async (): Promise<FaceIndex> => {
    const m = await need();
    const v = dataVersion();
    if (index && v !== indexVersion) {
      const old = await index.catch(() => undefined);
      old?.vectors.close();
      index = undefined;
    }
    if (!index) {
      indexVersion = v;
      index = m.faceIndex.FaceIndex.open(ws, config);
      index.catch(() => (index = undefined));
      stale = false;
    }
    if (stale) {
      stale = false;
      (await index).reconcile();
    }
    return index;
  };
  const runSpaces = new RunSpaces(ws, config);

  return {
    async unavailable() {
      const m = await load();
      return typeof m === 'string' ? m : null;
    },
    spaces() {
      // The workspace's own runs first, then exported models embedded here (such as the shipped models/pros-tiny).
      const runs = ws.db
        .prepare<[], string>('SELECT DISTINCT e.run FROM embeddings e LEFT JOIN runs r ON r.name = e.run ORDER BY r.name IS NULL, e.run')
        .pluck()
        .all();
      return ['human', ...runs];
    },
    async byFace(faceId, k, space) {
      if (space !== 'human') return await runSpaces.byFace(space, faceId, k);
      const m = await need();
      const fi = await openIndex();
      const q = await m.search.searchByFace(ws, fi, faceId, k);
      return q.neighbours.map(neighbour);
    },
    async byUpload(bytes, k, space) {
      const m = await need();
      pool ??= m.pool.FacePool.start(m.search.queryConfig(config));
      pool.catch(() => (pool = undefined));
      let found: UploadFace[];
      if (space === 'human') {
        found = (await m.search.searchByImage(ws, config, await openIndex(), bytes, k, await pool)).map((f) => ({
          box: f.box, score: f.score, landmarks: f.landmarks, neighbours: f.neighbours.map(neighbour),
        }));
      } else {
        // A space without its model, or a face id unknown to it, is an InputError (a 422 with the reason).
        const embedder = await runSpaces.embedder(space);
        const faces = await m.search.describeImage(config, bytes, await pool);
        const { size, scale, quality } = config.export;
        const out: UploadFace[] = [];
        for (const f of faces) {
          // The crop `pros export` would cut (without jitter), then the input `pros embed` would make of it.
          const crop = await m.crop.cropFace(bytes, m.crop.cropSpec(f.box, scale, size), 'jpeg', quality);
          const vec = await embedder.embed(await inputPixels(crop, embedder.inputSize), 1);
          out.push({ box: f.box, score: f.score, landmarks: f.landmarks, neighbours: await runSpaces.byVector(space, vec, k) });
        }
        found = out;
      }
      const meta = await sharp(bytes, { failOn: 'none' }).metadata().catch(() => undefined);
      return {
        width: meta?.autoOrient?.width ?? meta?.width ?? null,
        height: meta?.autoOrient?.height ?? meta?.height ?? null,
        faces: found,
      };
    },
    refresh() {
      // Our own writes do not move data_version: the open index is reconciled with the database before next use.
      stale = true;
    },
    async close() {
      runSpaces.close();
      const p = await pool?.catch(() => undefined);
      await p?.close();
      (await index?.catch(() => undefined))?.vectors.close();
    },
  };
}

/** A neighbour as the API carries it, without retrieval's extra fields (the router joins the face row itself). */
const neighbour = ({ faceId, similarity }: Neighbour): Neighbour => ({ faceId, similarity });
