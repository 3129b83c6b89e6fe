// The per-item pipeline, one function for a local run (retrieval/pipeline.ts) and a worker (retrieval/queue/worker.ts):
// fetch → decode → exact-copy check → face analysis (cascade and policy) → the caller's writer. What the writer does
// with the result differs (a local run writes the workspace, a worker returns it to the coordinator), what it is
// handed does not, so a local and a distributed run cannot drift apart.
import type { DecodeConfig, FetchConfig } from '../src/config.ts';
import { readLocalFile, type Fetcher, type FetchOutcome } from './fetch/index.ts';
import { decodeImage } from './decode.ts';
import type { FacePool } from './faces/pool.ts';
import type { ImageAnalysis } from './faces/types.ts';
import type { ItemOutcome } from './store.ts';
import { join } from 'node:path';
import { storedExtension } from '../src/image-formats.ts';
import { ItemMeta, jsonColumnOr } from '../src/contracts/columns.ts';
import type { ItemRow } from '../src/contracts/rows.ts';

export interface ItemInput {
  uri: string;
  /** A path on this machine rather than an http(s) URL. */
  local: boolean;
}

export interface ItemDeps {
  fetcher: Fetcher;
  pool: FacePool;
  fetch: FetchConfig;
  decode: DecodeConfig;
  /** Times a stage when profiling (pros curate --profile); absent: the stage just runs. */
  timed?: <T>(stage: string, fn: () => Promise<T> | T) => Promise<T> | T;
}

type OkOutcome = Extract<ItemOutcome, { status: 'ok' }>;

/** What an item came to. */
export type ItemResult =
  /** Fetching or decoding failed (or the fetcher skipped it): the outcome says why. */
  | { kind: 'failed'; outcome: Exclude<ItemOutcome, OkOutcome> }
  /** An exact copy of an image already analysed (`ImageClaims.known`): not analysed again. */
  | { kind: 'copy'; outcome: OkOutcome & { sha256: string } }
  | {
      kind: 'analysed';
      outcome: OkOutcome & { sha256: string };
      /** The source bytes as fetched. */
      bytes: Buffer;
      image: { sha256: string; width: number; height: number; format: string };
      analysis: ImageAnalysis;
    };

/**
 * Exact copies arriving together: the first item with a given hash analyses it and holds the hash until its writer
 * is done; the others wait, then ask `known` (true: a copy, not analysed again; false, e.g. the first failed: analyse).
 */
export class ImageClaims {
  private readonly held = new Map<string, Promise<void>>();

  constructor(private readonly known: (sha256: string) => boolean) {}

  async claim(sha256: string): Promise<{ copy: true } | { copy: false; release: () => void }> {
    // A loop: several waiters wake together and only the first may take the hash.
    for (let p = this.held.get(sha256); p; p = this.held.get(sha256)) await p;
    if (this.known(sha256)) return { copy: true };
    let done!: () => void;
    this.held.set(sha256, new Promise<void>((r) => (done = r)));
    return {
      copy: false,
      release: () => {
        this.held.delete(sha256);
        done();
      },
    };
  }
}

/**
 * Runs one item through the pipeline and hands the result to `write`. Nothing is written for an item whose run is
 * aborted (it stays pending for the rerun). Bugs throw: the caller records the item as `internal_error`.
 */
export async function runItem(
  item: ItemInput,
  deps: ItemDeps,
  claims: ImageClaims,
  write: (result: ItemResult) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const timed = deps.timed ?? (<T>(_: string, fn: () => Promise<T> | T) => fn());
  const fetched: FetchOutcome = await timed('fetch', () => item.local
    ? readLocalFile(item.uri, deps.fetch.maxBytes)
    : deps.fetcher.fetch(item.uri, { signal }));
  if (signal?.aborted) return;
  if (!fetched.ok) {
    await write({ kind: 'failed', outcome: { status: fetched.status, reason: fetched.reason, httpStatus: fetched.httpStatus, attempts: fetched.attempts } });
    return;
  }
  const base = { httpStatus: fetched.httpStatus, attempts: fetched.attempts, bytes: fetched.bytes.length, contentType: fetched.contentType };
  const decoded = await timed('decode + resize (sha256, header, libvips)', () => decodeImage(fetched.bytes, deps.decode));
  if (!decoded.ok) {
    await write({ kind: 'failed', outcome: { status: 'failed', reason: decoded.reason, ...base, sha256: decoded.sha256 } });
    return;
  }
  const sha256 = decoded.sha256;
  const outcome = { status: 'ok' as const, ...base, sha256 };
  const claim = await claims.claim(sha256);
  if (claim.copy) {
    await write({ kind: 'copy', outcome });
    return;
  }
  try {
    const analysis = await timed('face analysis, wall (queue + worker)', () => deps.pool.analyse({
      rgb: decoded.rgb, aw: decoded.aw, ah: decoded.ah, scale: decoded.scale, width: decoded.width, height: decoded.height,
    }));
    if (signal?.aborted) return;
    await write({
      kind: 'analysed',
      outcome,
      bytes: fetched.bytes,
      image: { sha256, width: decoded.width, height: decoded.height, format: decoded.format },
      analysis,
    });
  } finally {
    claim.release();
  }
}

/** Where an image's bytes live in the workspace, relative to its root: by content hash, with the stored extension. */
export function blobPathOf(sha256: string, format: string): string {
  return join('images', sha256.slice(0, 2), `${sha256}.${storedExtension(format)}`);
}

/**
 * Licence and caption from an item's stored metadata (the items.meta JSON column). A workspace may have been edited
 * or shared: unreadable metadata means none (logged), not a crash.
 */
export function itemProvenance(item: Pick<ItemRow, 'id' | 'meta'>): { licence?: string; caption?: string } {
  const m = jsonColumnOr(ItemMeta, item.meta, {}, `items.meta of item ${item.id}`);
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  return { licence: text(m.licence ?? m.license), caption: text(m.caption ?? m.text) };
}
