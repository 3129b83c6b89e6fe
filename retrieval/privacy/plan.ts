// What a forget request removes, worked out before anything is touched: the faces (by example: every face whose
// descriptor is within the same-person threshold of an example, found by an exact scan of the descriptor file, so
// rejected and duplicate faces are found as well as accepted ones; by source: every face of the images met at the
// URLs or domains; by set: its members), the images that no kept face needs, the run embeddings of those faces, the
// files that hold them, and the runs that trained on them. `pros forget --dry-run` prints this plan.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ProsConfig } from '../../src/config.ts';
import type { Workspace } from '../../src/workspace.ts';
import { InputError } from '../../src/errors.ts';
import { VectorStore } from '../../src/index/index.ts';
import { runsThatSaw } from '../../src/lineage.ts';
import { cosine, DESCRIPTOR_DIM } from '../face-index.ts';
import { describeImage } from '../search.ts';
import { inDomain, normaliseDomain } from './optout.ts';import type { FaceRow, ImageRow } from '../../src/contracts/rows.ts';
import type { AskedRecord, PlannedFace } from '../../src/contracts/api.ts';


/** What a person asked to forget. Several kinds may be combined; the plan is their union. */
export interface ForgetAsk {
  /** Example photos of the person (files). The largest face of each is the example. */
  images?: string[];
  /** Example faces of the person, by id. */
  faces?: number[];
  /** Every face of the images met at these URLs (or file paths). */
  urls?: string[];
  /** Every face of the images met on these domains (and their subdomains). */
  domains?: string[];
  /** Every member of this set. */
  set?: string;
  /** Same-person threshold for examples (default config.privacy.samePerson). */
  threshold?: number;
  who?: string;
}

/** The request as recorded in the audit: what was asked, never a descriptor or a photo. */
export type { AskedRecord, PlannedFace } from '../../src/contracts/api.ts';


export interface PlannedImage {
  sha256: string;
  blobPath: string | null;
  /** No kept face needs it: the image row, its blob and its items go too. */
  whole: boolean;
}

export interface ForgetPlan {
  asked: AskedRecord;
  faces: PlannedFace[];
  images: PlannedImage[];
  embeddings: Array<{ run: string; faceId: number; row: number }>;
  /** Files that hold the faces (crops, thumbnails, blobs), relative to the workspace. */
  files: string[];
  runs: Array<{ run: string; faces: number }>;
  /** Example descriptors, kept only to add the face opt-outs; never written to the audit. */
  examples: Float32Array[];
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * The canonical request: the same command (the same example bytes) gives the same key, so a rerun finds its own
 * interrupted request before any face model loads.
 */
export function requestKey(asked: AskedRecord, images: string[]): string {
  const hashes = images.map((f) => {
    if (!existsSync(f)) throw new InputError(`--image ${f}: no such file`);
    return sha256(readFileSync(f));
  });
  return sha256(JSON.stringify({ ...asked, images: hashes.sort() }));
}

export function normaliseAsk(ask: ForgetAsk, config: ProsConfig): AskedRecord {
  const faces = [...new Set(ask.faces ?? [])].sort((a, b) => a - b);
  const hasExample = faces.length > 0 || (ask.images?.length ?? 0) > 0;
  const asked: AskedRecord = {
    examples: { images: ask.images?.length ?? 0, faces },
    // File sources are recorded by absolute path: a relative --url names the same file.
    urls: [...new Set((ask.urls ?? []).map((u) => u.trim()).filter(Boolean).map((u) => (/^https?:\/\//i.test(u) ? u : resolve(u))))].sort(),
    domains: [...new Set((ask.domains ?? []).map(normaliseDomain))].sort(),
    set: ask.set ?? null,
    threshold: hasExample ? (ask.threshold ?? config.privacy.samePerson) : null,
  };
  if (!hasExample && !asked.urls.length && !asked.domains.length && !asked.set) {
    throw new InputError('nothing to forget: give --image, --face, --url, --domain or --set');
  }
  return asked;
}

/** The example descriptors: the largest face of each example image, and the stored descriptor of each face id. */
async function exampleDescriptors(ws: Workspace, config: ProsConfig, ask: ForgetAsk, store: VectorStore): Promise<Float32Array[]> {
  const descriptors: Float32Array[] = [];
  for (const file of ask.images ?? []) {
    if (!existsSync(file)) throw new InputError(`--image ${file}: no such file`);
    const bytes = readFileSync(file);
    const faces = await describeImage(config, bytes);
    if (faces.length === 0) throw new InputError(`--image ${file}: no face with a descriptor found in it`);
    descriptors.push(faces[0]!.descriptor!);
  }
  const rowOf = ws.db.prepare<[number], Pick<FaceRow, 'descriptor_row'>>('SELECT descriptor_row FROM faces WHERE id = ?');
  for (const id of ask.faces ?? []) {
    const r = rowOf.get(id);
    if (!r) throw new InputError(`--face ${id}: no such face in ${ws.root}`);
    if (r.descriptor_row == null || r.descriptor_row >= store.count()) throw new InputError(`--face ${id}: the face has no descriptor (it was stopped before the descriptor stage); forget it by --url`);
    descriptors.push(store.read(r.descriptor_row));
  }
  return descriptors;
}

type PlanRow = Pick<FaceRow, 'id' | 'image_sha256' | 'descriptor_row' | 'status'> & Pick<ImageRow, 'origin'>;

export async function planForget(ws: Workspace, config: ProsConfig, ask: ForgetAsk): Promise<ForgetPlan> {
  const asked = normaliseAsk(ask, config);
  if (asked.set && !ws.db.prepare('SELECT 1 FROM sets WHERE name = ?').get(asked.set)) throw new InputError(`--set ${asked.set}: no such set`);
  const store = VectorStore.open(join(ws.paths.index, 'descriptors.f32'), DESCRIPTOR_DIM);
  try {
    const descriptors = await exampleDescriptors(ws, config, ask, store);
    const all = ws.db
      .prepare<[], PlanRow>('SELECT f.id, f.image_sha256, f.descriptor_row, f.status, i.origin FROM faces f JOIN images i ON i.sha256 = f.image_sha256 ORDER BY f.id')
      .all();
    const chosen = new Map<number, number | null>();
    const choose = (id: number, sim: number | null) => {
      const had = chosen.get(id);
      if (!chosen.has(id) || (sim !== null && (had === null || had === undefined || sim > had))) chosen.set(id, sim);
    };

    // By example: an exact scan of every described face, a chunk of rows at a time.
    if (descriptors.length) {
      const threshold = asked.threshold!;
      const described = all.filter((f) => f.descriptor_row !== null && f.descriptor_row < store.count());
      for (let i = 0; i < described.length; i += 512) {
        const chunk = described.slice(i, i + 512);
        const vecs = store.readRows(chunk.map((f) => f.descriptor_row!));
        chunk.forEach((f, j) => {
          const v = vecs.subarray(j * DESCRIPTOR_DIM, (j + 1) * DESCRIPTOR_DIM);
          const best = Math.max(...descriptors.map((d) => cosine(d, v)));
          if (best >= threshold) choose(f.id, best);
        });
      }
      for (const id of asked.examples.faces) choose(id, 1);
    }

    // By source: every face of every image met at the URLs or on the domains (whatever item brought it).
    const sourceImages = new Set<string>();
    if (asked.urls.length || asked.domains.length) {
      const urls = new Set(asked.urls);
      const items = ws.db.prepare<[], { uri: string; image_sha256: string }>("SELECT uri, image_sha256 FROM items WHERE image_sha256 IS NOT NULL AND kind = 'image'").all();
      for (const it of items) if (urls.has(it.uri) || asked.domains.some((d) => inDomain(it.uri, d))) sourceImages.add(it.image_sha256);
      const origins = ws.db.prepare<[], Pick<ImageRow, 'sha256' | 'origin'>>('SELECT sha256, origin FROM images').all();
      for (const im of origins) if (urls.has(im.origin) || asked.domains.some((d) => inDomain(im.origin, d))) sourceImages.add(im.sha256);
      for (const f of all) if (sourceImages.has(f.image_sha256)) choose(f.id, null);
    }
    if (asked.set) {
      const members = ws.db.prepare<[string], number>('SELECT face_id FROM set_members WHERE set_name = ?').pluck().all(asked.set);
      for (const id of members) choose(id, null);
    }

    const byId = new Map(all.map((f) => [f.id, f]));
    const faces: PlannedFace[] = [...chosen.entries()]
      .filter(([id]) => byId.has(id))
      .map(([id, sim]) => {
        const f = byId.get(id)!;
        return { faceId: id, image: f.image_sha256, descriptorRow: f.descriptor_row, similarity: sim, status: f.status, origin: f.origin, thumb: `/api/faces/${id}/thumb` };
      })
      .sort((a, b) => (b.similarity ?? 2) - (a.similarity ?? 2) || a.faceId - b.faceId);
    const ids = new Set(faces.map((f) => f.faceId));

    // Images: whole when none of their faces is kept (or the request named their source).
    const touched = new Set([...faces.map((f) => f.image), ...sourceImages]);
    const facesOf = ws.db.prepare<[string], number>('SELECT id FROM faces WHERE image_sha256 = ?').pluck();
    const blobOf = ws.db.prepare<[string], string | null>('SELECT blob_path FROM images WHERE sha256 = ?').pluck();
    const images: PlannedImage[] = [...touched].sort().map((sha) => ({
      sha256: sha,
      blobPath: blobOf.get(sha) ?? null,
      whole: sourceImages.has(sha) || facesOf.all(sha).every((id) => ids.has(id)),
    }));

    const idList = [...ids];
    const embeddings = ws.db.prepare<[], { run: string; faceId: number; row: number }>('SELECT run, face_id AS faceId, row FROM embeddings ORDER BY run, row').all()
      .filter((e) => ids.has(e.faceId));
    return {
      asked,
      faces,
      images,
      embeddings,
      files: filesOf(ws, idList, images),
      runs: runsThatSaw(ws.db, idList),
      examples: descriptors,
    };
  } finally {
    store.close();
  }
}

/** Files holding the faces: exported crops in every curated set, cached thumbnails, and the blobs of whole images. */
function filesOf(ws: Workspace, faceIds: number[], images: PlannedImage[]): string[] {
  const out: string[] = [];
  const ids = new Set(faceIds);
  const shas = new Set(images.map((i) => i.sha256));
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  for (const set of list(ws.paths.curated)) {
    for (const f of list(join(ws.paths.curated, set, 'crops'))) {
      const m = /^(\d+)\./.exec(f);
      if (m && ids.has(Number(m[1]))) out.push(join('curated', set, 'crops', f));
    }
  }
  for (const f of list(join(ws.paths.thumbs, 'face'))) {
    const m = /^(\d+)-/.exec(f);
    if (m && ids.has(Number(m[1]))) out.push(join('thumbs', 'face', f));
  }
  for (const f of list(join(ws.paths.thumbs, 'image'))) {
    const m = /^([0-9a-f]{64})-/.exec(f);
    if (m && shas.has(m[1]!)) out.push(join('thumbs', 'image', f));
  }
  for (const im of images) if (im.whole && im.blobPath && existsSync(join(ws.root, im.blobPath))) out.push(im.blobPath);
  return out.sort();
}
