// The opt-out registry: domains, URL prefixes, URLs and example faces that every later crawl skips with reason
// `opted_out`, alongside robots.txt and X-Robots-Tag noai. URLs are matched before anything is fetched; faces are
// matched by descriptor after analysis and before anything of the image is stored. A face opt-out keeps the
// example's descriptor (index/optout.f32): matching a person needs it, and it is the one biometric datum kept on
// purpose; removing the entry overwrites it.
import { existsSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import type { Workspace, DB } from '../../src/workspace.ts';
import { InputError } from '../../src/errors.ts';
import { VectorStore } from '../../src/index/index.ts';
import { cosine, DESCRIPTOR_DIM } from '../face-index.ts';import { OptOutKind } from '../../src/contracts/rows.ts';
import type { OptOut } from '../../src/contracts/api.ts';


export const OPTOUT_KINDS = OptOutKind.options;
export type { OptOutKind };

export type { OptOut };

export function optoutFile(ws: Workspace): string {
  return join(ws.paths.index, 'optout.f32');
}

/** A domain as entered ("Example.org", "https://example.org/x") reduced to its lowercase host name. */
export function normaliseDomain(raw: string): string {
  let host = raw.trim().toLowerCase();
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(host)) {
    try {
      host = new URL(host).hostname;
    } catch {
      throw new InputError(`${raw}: not a domain`);
    }
  }
  host = host.replace(/\.$/, '');
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host) && !/^\[?[0-9a-f:.]+\]?$/.test(host)) {
    throw new InputError(`${raw}: not a domain`);
  }
  return host;
}

function hostOf(uri: string): string | undefined {
  if (!/^https?:\/\//i.test(uri)) return undefined;
  try {
    return new URL(uri).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Is the URI's host the domain or one of its subdomains? */
export function inDomain(uri: string, domain: string): boolean {
  const host = hostOf(uri);
  return host !== undefined && (host === domain || host.endsWith(`.${domain}`));
}

export function listOptOuts(db: DB): OptOut[] {
  return db
    .prepare<[], OptOut>('SELECT id, kind, value, request_id AS requestId, note, added_at AS addedAt FROM optouts ORDER BY id')
    .all();
}

/**
 * Adds an entry (an existing identical domain, prefix or URL entry is returned as it is). A face entry takes the
 * example's descriptor, appended to index/optout.f32 and synced before the row that names it commits.
 */
export function addOptOut(
  ws: Workspace,
  kind: OptOutKind,
  value: string | Float32Array,
  opts: { requestId?: number; note?: string } = {},
): OptOut {
  const { db } = ws;
  let text: string | null = null;
  let row: number | null = null;
  if (kind === 'face') {
    if (!(value instanceof Float32Array) || value.length !== DESCRIPTOR_DIM) throw new Error('a face opt-out takes a descriptor');
    row = appendOptOutDescriptor(ws, value);
  } else {
    if (typeof value !== 'string' || !value.trim()) throw new InputError(`an opt-out ${kind} needs a value`);
    text = kind === 'domain' ? normaliseDomain(value) : value.trim();
    if (kind !== 'domain' && !/^(https?:\/\/|\/)/i.test(text)) throw new InputError(`${value}: a ${kind} opt-out is an http(s) URL or an absolute path`);
  }
  db.prepare('INSERT OR IGNORE INTO optouts(kind, value, descriptor_row, request_id, note) VALUES (?, ?, ?, ?, ?)').run(
    kind, text, row, opts.requestId ?? null, opts.note ?? null,
  );
  const id = kind === 'face'
    ? db.prepare<[number | null], number>('SELECT id FROM optouts WHERE descriptor_row = ?').pluck().get(row)
    : db.prepare<[string, string | null], number>('SELECT id FROM optouts WHERE kind = ? AND value = ?').pluck().get(kind, text);
  return listOptOuts(db).find((o) => o.id === id)!;
}

/** Appends a face opt-out's descriptor to index/optout.f32, synced; returns its row. */
export function appendOptOutDescriptor(ws: Workspace, d: Float32Array): number {
  const store = VectorStore.open(optoutFile(ws), DESCRIPTOR_DIM);
  try {
    const row = store.append(d);
    store.sync();
    return row;
  } finally {
    store.close();
  }
}

/** Removes an entry; a face entry's descriptor row is overwritten. Returns the removed entry. */
export function removeOptOut(ws: Workspace, id: number): OptOut {
  const entry = listOptOuts(ws.db).find((o) => o.id === id);
  if (!entry) throw new InputError(`no opt-out with id ${id}`);
  ws.db.prepare('DELETE FROM optouts WHERE id = ?').run(id);
  scrubOptOutFile(ws);
  return entry;
}

/**
 * Overwrites rows of index/optout.f32 that no entry names (a descriptor appended by a forget or `optout add` that
 * was killed before its row committed, or one whose entry was removed), and cuts unnamed rows off the end.
 */
export function scrubOptOutFile(ws: Workspace): number {
  const file = optoutFile(ws);
  if (!existsSync(file)) return 0;
  const named = new Set(ws.db.prepare<[], number>("SELECT descriptor_row FROM optouts WHERE kind = 'face'").pluck().all());
  const store = VectorStore.open(file, DESCRIPTOR_DIM);
  let keep = 0;
  let scrubbed = 0;
  try {
    const stale: number[] = [];
    const zero = (v: Float32Array) => v.every((x) => x === 0);
    for (let r = 0; r < store.count(); r++) {
      if (named.has(r)) keep = r + 1;
      else if (!zero(store.read(r))) stale.push(r);
    }
    scrubbed = store.zero(stale);
  } finally {
    store.close();
  }
  if (statSync(file).size > keep * DESCRIPTOR_DIM * 4) truncateSync(file, keep * DESCRIPTOR_DIM * 4);
  return scrubbed;
}

/** The registry as a crawl consults it: loaded once per `pros curate`, matched per item and per analysed image. */
export class OptOutMatcher {
  private constructor(
    private readonly urls: Set<string>,
    private readonly prefixes: string[],
    private readonly domains: string[],
    private readonly faces: Float32Array[],
    private readonly threshold: number,
  ) {}

  static load(ws: Workspace, samePerson: number): OptOutMatcher {
    const entries = listOptOuts(ws.db);
    const faceRows = ws.db.prepare<[], number>("SELECT descriptor_row FROM optouts WHERE kind = 'face' ORDER BY id").pluck().all();
    let faces: Float32Array[] = [];
    if (faceRows.length) {
      const store = VectorStore.open(optoutFile(ws), DESCRIPTOR_DIM);
      try {
        faces = faceRows.filter((r) => r < store.count()).map((r) => store.read(r));
      } finally {
        store.close();
      }
    }
    const values = (k: OptOutKind) => entries.filter((e) => e.kind === k).map((e) => e.value!);
    return new OptOutMatcher(new Set(values('url')), values('prefix'), values('domain'), faces, samePerson);
  }

  get size(): number {
    return this.urls.size + this.prefixes.length + this.domains.length + this.faces.length;
  }

  /** Is this URL or path opted out (exactly, by prefix, or by its domain)? */
  matchesUri(uri: string): boolean {
    if (this.urls.has(uri)) return true;
    if (this.prefixes.some((p) => uri.startsWith(p))) return true;
    return this.domains.some((d) => inDomain(uri, d));
  }

  /** Does any of these descriptors look like an opted-out person (same-person threshold)? */
  matchesFaces(descriptors: Array<Float32Array | undefined>): boolean {
    if (this.faces.length === 0) return false;
    return descriptors.some((d) => d !== undefined && this.faces.some((f) => cosine(d, f) >= this.threshold));
  }
}
