// Thumbnails made by sharp and cached on disk under workspace/thumbs/. Images are found only by id (face id or image
// sha256) through the database; the stored blob path is confined to workspace/images/ before it is read, and every
// thumbnail is a fresh JPEG encode, so whatever bytes a crawl brought in are never sent to the browser as they came.
import sharp from 'sharp';
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';
import type { Workspace } from '../src/workspace.ts';
import { writeFileAtomicAsync } from '../src/atomic.ts';
import { clip } from '../src/input.ts';
import { facesByIds } from './queries/faces.ts';
import { imageBlob } from './queries/images.ts';
import { cropFace } from '../retrieval/crop.ts';

/** Sizes a page may ask for; a fixed list keeps the cache bounded. */
export const THUMB_SIZES = [96, 160, 256, 512, 1024] as const;
export type ThumbSize = (typeof THUMB_SIZES)[number];

/** The stored blob is not an image sharp can decode (a workspace edited by hand, a blob replaced): a 422. */
export class UndecodableImage extends Error {
  readonly status = 422;
}

export class Thumbs {
  private readonly inFlight = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly ws: Workspace,
    private readonly cropScale: number,
  ) {}

  /**
   * A face thumbnail: the export's crop of the face (the square `face.crop`, padded black where it reaches past the
   * image, as the crops training reads are), as a cached JPEG file; undefined when unknown.
   */
  face(id: number, size: ThumbSize): Promise<string | undefined> {
    return this.once(join('face', `${id}-${size}.jpg`), async () => {
      const face = facesByIds(this.ws, [id], this.cropScale).get(id);
      if (!face) return undefined;
      const bytes = await this.blob(face.image);
      if (!bytes) return undefined;
      const [left, top, side] = face.crop;
      return decodable(face.image, cropFace(bytes, { left, top, side, size }, 'jpeg', 82));
    });
  }

  /** The whole image, its longer side at most `size`, as a cached JPEG file. */
  image(sha: string, size: ThumbSize): Promise<string | undefined> {
    return this.once(join('image', `${sha}-${size}.jpg`), async () => {
      const bytes = await this.blob(sha);
      if (!bytes) return undefined;
      return decodable(sha, sharp(bytes, { failOn: 'none' })
        .rotate()
        .resize(size, size, { fit: 'inside', withoutEnlargement: true })
        .flatten({ background: '#fff' })
        .jpeg({ quality: 85 })
        .toBuffer());
    });
  }

  private async once(rel: string, make: () => Promise<Buffer | undefined>): Promise<string | undefined> {
    const file = join(this.ws.paths.thumbs, rel);
    const pending = this.inFlight.get(file);
    if (pending) return pending;
    const job = (async () => {
      if (await exists(file)) return file;
      const data = await make();
      if (!data) return undefined;
      // A reader never sees half a thumbnail, even if two servers share the workspace.
      await writeFileAtomicAsync(file, data);
      return file;
    })();
    this.inFlight.set(file, job);
    try {
      return await job;
    } finally {
      this.inFlight.delete(file);
    }
  }

  /** The source bytes of an image, only from inside workspace/images/. */
  private async blob(sha: string): Promise<Buffer | undefined> {
    const row = imageBlob(this.ws, sha);
    if (!row?.blobPath) return undefined;
    const path = isAbsolute(row.blobPath) ? row.blobPath : resolve(this.ws.root, row.blobPath);
    let real: string;
    let root: string;
    try {
      real = await realpath(path);
      root = await realpath(this.ws.paths.images);
    } catch {
      return undefined;
    }
    if (!real.startsWith(root + sep)) return undefined;
    try {
      return await readFile(real);
    } catch {
      return undefined;
    }
  }
}

/** sharp's work on a stored blob; its failure to decode becomes UndecodableImage. */
async function decodable<T>(sha: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw new UndecodableImage(`image ${sha.slice(0, 12)}… cannot be decoded (${clip((err as Error).message, 80)})`);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).size > 0;
  } catch {
    return false;
  }
}
