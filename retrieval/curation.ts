// Curation by people: accept, reject, tag and add faces to named sets. The web UI and the CLI both call these, so a
// decision made in one is what the other sees at once. Each call is one transaction: a `decisions` row per face
// (who, when, what) plus the effective change on faces / tags / set_members.
import type { Workspace } from '../src/workspace.ts';
import { InputError } from '../src/errors.ts';
import { hasUnsafeText, isPortableName } from '../src/input.ts';
import type { CurationAction, CurationResult, Decision } from '../src/contracts/api.ts';

export type { CurationAction, CurationResult, Decision } from '../src/contracts/api.ts';

/** The reason recorded on faces whose status a person set. */
export const CURATOR_REASON = 'curator';

/** Set names become folder names under curated/: portable names only (src/input.ts). */
export function validSetName(name: unknown): name is string {
  return isPortableName(name, 64);
}

export const SET_NAME_RULE = "1–64 of A-Z a-z 0-9 _ . - (no \"..\", no trailing '.', not a device name such as CON)";

function checkLabel(kind: string, value: unknown): string {
  if (typeof value !== 'string') throw new InputError(`${kind} must be a string`);
  const v = value.trim();
  // Control characters would corrupt terminal output of `pros` commands that print these; bidi overrides make a
  // label read differently from what it is.
  if (v.length === 0 || v.length > 64 || hasUnsafeText(v)) {
    throw new InputError(`${kind} must be 1–64 printable characters (no control characters or bidi overrides)`);
  }
  return v;
}

function checkIds(faceIds: readonly number[]): number[] {
  if (!Array.isArray(faceIds) || faceIds.length === 0) throw new InputError('faceIds must be a non-empty list');
  if (faceIds.length > 10_000) throw new InputError('at most 10000 faces per action');
  for (const id of faceIds) {
    if (!Number.isSafeInteger(id) || id < 1) throw new InputError(`face id must be a positive integer: ${id}`);
  }
  return [...new Set(faceIds)];
}

/** Runs `apply` for every face in one transaction, after checking that every id exists. */
function curate(
  ws: Workspace,
  action: CurationAction,
  faceIds: readonly number[],
  who: string,
  value: string | undefined,
  apply: (faceId: number, at: string) => void,
): CurationResult {
  const ids = checkIds(faceIds);
  const by = checkLabel('who', who);
  const exists = ws.db.prepare('SELECT 1 FROM faces WHERE id = ?').pluck();
  const record = ws.db.prepare('INSERT INTO decisions (face_id, action, value, who, at) VALUES (?, ?, ?, ?, ?)');
  return ws.db.transaction((): CurationResult => {
    const missing = ids.filter((id) => exists.get(id) === undefined);
    if (missing.length > 0) return { action, applied: 0, missing, value };
    const at = new Date().toISOString();
    for (const id of ids) {
      apply(id, at);
      record.run(id, action, value ?? null, by, at);
    }
    return { action, applied: ids.length, missing: [], value };
  })();
}

export function accept(ws: Workspace, faceIds: readonly number[], who: string): CurationResult {
  const set = ws.db.prepare(`UPDATE faces SET status = 'accepted', reason = ? WHERE id = ?`);
  return curate(ws, 'accept', faceIds, who, undefined, (id) => set.run(CURATOR_REASON, id));
}

export function reject(ws: Workspace, faceIds: readonly number[], who: string): CurationResult {
  const set = ws.db.prepare(`UPDATE faces SET status = 'rejected', reason = ? WHERE id = ?`);
  return curate(ws, 'reject', faceIds, who, undefined, (id) => set.run(CURATOR_REASON, id));
}

export function tag(ws: Workspace, faceIds: readonly number[], tagName: string, who: string): CurationResult {
  const t = checkLabel('tag', tagName);
  const add = ws.db.prepare('INSERT OR IGNORE INTO tags (face_id, tag) VALUES (?, ?)');
  return curate(ws, 'tag', faceIds, who, t, (id) => add.run(id, t));
}

export function untag(ws: Workspace, faceIds: readonly number[], tagName: string, who: string): CurationResult {
  const t = checkLabel('tag', tagName);
  const del = ws.db.prepare('DELETE FROM tags WHERE face_id = ? AND tag = ?');
  return curate(ws, 'untag', faceIds, who, t, (id) => del.run(id, t));
}

export function addToSet(ws: Workspace, faceIds: readonly number[], set: string, who: string): CurationResult {
  if (!validSetName(set)) throw new InputError(`set name must be ${SET_NAME_RULE}`);
  const by = checkLabel('who', who);
  const create = ws.db.prepare(`INSERT OR IGNORE INTO sets (name, kind) VALUES (?, 'manual')`);
  const add = ws.db.prepare(
    'INSERT OR IGNORE INTO set_members (set_name, face_id, added_at, added_by) VALUES (?, ?, ?, ?)',
  );
  // The set is created inside the transaction, so a call naming an unknown face leaves no empty set behind.
  return curate(ws, 'add_to_set', faceIds, by, set, (id, at) => {
    create.run(set);
    add.run(set, id, at, by);
  });
}

export function removeFromSet(ws: Workspace, faceIds: readonly number[], set: string, who: string): CurationResult {
  if (!validSetName(set)) throw new InputError(`set name must be ${SET_NAME_RULE}`);
  const del = ws.db.prepare('DELETE FROM set_members WHERE set_name = ? AND face_id = ?');
  return curate(ws, 'remove_from_set', faceIds, who, set, (id) => del.run(set, id));
}



/** Decisions on the given faces, newest first. */
export function decisionsFor(ws: Workspace, faceIds: readonly number[], limit = 200): Decision[] {
  if (faceIds.length === 0) return [];
  const marks = faceIds.map(() => '?').join(',');
  return ws.db
    .prepare<number[], Decision>(
      `SELECT id, face_id AS faceId, action, value, who, at FROM decisions WHERE face_id IN (${marks})
       ORDER BY at DESC, id DESC LIMIT ?`,
    )
    .all(...faceIds, limit);
}
