// `pros forget`: remove a person (or the images of some URLs, or a set) from every place a face lives, as a
// journaled sequence of idempotent steps recorded in the database. The plan is committed first, in one transaction
// with the opt-out entries and the faces marked `forgetting` (so search and export drop them at once); each step
// then records itself done. Killed anywhere, the next `pros forget` finishes every unfinished request before it
// does anything else, and the same command resumes its own request instead of starting another. When done, the
// plan rows are deleted and the request row stays as the audit: what was asked, by whom, counts and run names.
import type { ProsConfig } from '../../src/config.ts';
import type { Workspace } from '../../src/workspace.ts';
import type { ForgetRequestRow } from '../../src/contracts/rows.ts';
import type { ForgetRequest } from '../../src/contracts/api.ts';
import { AskedRecord, ForgetCounts, ForgetRuns, jsonColumn } from '../../src/contracts/columns.ts';
import { InputError } from '../../src/errors.ts';
import { addOptOut, appendOptOutDescriptor, scrubOptOutFile } from './optout.ts';
import { normaliseAsk, planForget, requestKey, type ForgetAsk, type ForgetPlan, type PlannedFace } from './plan.ts';
import { STEP_FNS, STEPS, type Step } from './steps.ts';

export type { ForgetCounts, ForgetRequest } from '../../src/contracts/api.ts';

/** One row of the audit log. Holds no biometric data: counts, run names and what was asked. */

export interface ForgetResult {
  dryRun: boolean;
  /** The request (null for a dry run). */
  request: ForgetRequest | null;
  /** This command's request had been interrupted and was finished now. */
  resumed: boolean;
  /** Other interrupted requests finished first. */
  finishedEarlier: number[];
  /** The faces found (dry run: to be removed). */
  faces: PlannedFace[];
  counts: ForgetCounts;
  runs: Array<{ run: string; faces: number }>;
}

/** Test hook for crash safety: `PROS_FAULT_FORGET=<point>` kills the process (SIGKILL) at that point. */
function faultPoint(point: string): void {
  if (process.env.PROS_FAULT_FORGET === point) process.kill(process.pid, 'SIGKILL');
}

/** The audit row, read strictly: it is the record of what was removed, so damage is an error, not a default. */
function parseRequest(r: ForgetRequestRow): ForgetRequest {
  const where = (column: string) => `forget_requests.${column} of request ${r.id}`;
  const asked = jsonColumn(AskedRecord, r.asked, where('asked'));
  if (!asked) throw new InputError(`${where('asked')} is empty: the workspace database was damaged or edited`);
  return {
    id: r.id,
    who: r.who,
    asked,
    step: r.step,
    counts: jsonColumn(ForgetCounts, r.counts, where('counts')),
    runs: jsonColumn(ForgetRuns, r.runs, where('runs')) ?? [],
    createdAt: r.created_at,
    finishedAt: r.finished_at,
  };
}

export function listForgetRequests(ws: Workspace): ForgetRequest[] {
  return ws.db.prepare<[], ForgetRequestRow>('SELECT * FROM forget_requests ORDER BY id').all().map(parseRequest);
}

export function forgetRequest(ws: Workspace, id: number): ForgetRequest | undefined {
  const r = ws.db.prepare<[number], ForgetRequestRow>('SELECT * FROM forget_requests WHERE id = ?').get(id);
  return r && parseRequest(r);
}

function countsOf(plan: ForgetPlan, optouts: number): ForgetCounts {
  return {
    faces: plan.faces.length,
    images: plan.images.filter((i) => i.whole).length,
    imagesKept: plan.images.filter((i) => !i.whole).length,
    descriptors: plan.faces.filter((f) => f.descriptorRow !== null).length,
    embeddings: plan.embeddings.length,
    files: plan.files.length,
    optouts,
  };
}

/** The journal's first entry: plan, opt-outs and the faces marked `forgetting`, in one transaction. */
function commitPlan(ws: Workspace, plan: ForgetPlan, key: string, who: string, optoutRows: Array<() => void>): number {
  const { db } = ws;
  return db.transaction(() => {
    const id = Number(
      db.prepare('INSERT INTO forget_requests(key, who, asked, step, runs) VALUES (?, ?, ?, ?, ?)').run(key, who, JSON.stringify(plan.asked), 'planned', JSON.stringify(plan.runs)).lastInsertRowid,
    );
    const addFace = db.prepare('INSERT INTO forget_faces(request_id, face_id, image_sha256, descriptor_row) VALUES (?, ?, ?, ?)');
    for (const f of plan.faces) addFace.run(id, f.faceId, f.image, f.descriptorRow);
    const addImage = db.prepare('INSERT INTO forget_images(request_id, sha256, blob_path, whole) VALUES (?, ?, ?, ?)');
    for (const im of plan.images) addImage.run(id, im.sha256, im.blobPath, im.whole ? 1 : 0);
    const addEmb = db.prepare('INSERT INTO forget_embeddings(request_id, run, face_id, row) VALUES (?, ?, ?, ?)');
    for (const e of plan.embeddings) addEmb.run(id, e.run, e.faceId, e.row);
    db.prepare("UPDATE faces SET status = 'forgetting', reason = 'forget' WHERE id IN (SELECT face_id FROM forget_faces WHERE request_id = ?)").run(id);
    for (const add of optoutRows) add();
    db.prepare("UPDATE optouts SET request_id = ? WHERE request_id = -1").run(id);
    db.prepare('UPDATE forget_requests SET counts = ? WHERE id = ?').run(
      JSON.stringify(countsOf(plan, db.prepare<[number], number>('SELECT count(*) FROM optouts WHERE request_id = ?').pluck().get(id)!)),
      id,
    );
    return id;
  })();
}

/** Runs the remaining steps of a request, each recorded as done when it is. */
async function finish(ws: Workspace, config: ProsConfig, id: number): Promise<void> {
  const setStep = ws.db.prepare('UPDATE forget_requests SET step = ? WHERE id = ?');
  let step = ws.db.prepare<[number], Step>('SELECT step FROM forget_requests WHERE id = ?').pluck().get(id)!;
  for (let i = STEPS.indexOf(step) + 1; i < STEPS.length; i++) {
    const next = STEPS[i]!;
    if (next === 'done') {
      ws.db.transaction(() => {
        for (const t of ['forget_faces', 'forget_images', 'forget_embeddings']) ws.db.prepare(`DELETE FROM ${t} WHERE request_id = ?`).run(id);
        ws.db.prepare("UPDATE forget_requests SET step = 'done', finished_at = datetime('now') WHERE id = ?").run(id);
      })();
    } else {
      await STEP_FNS[next as keyof typeof STEP_FNS]({ ws, config, requestId: id });
      faultPoint(`in:${next}`);
      setStep.run(next, id);
    }
    step = next;
    faultPoint(`after:${step}`);
  }
}

/**
 * Forgets what `ask` names. Finishes interrupted requests first; a request with the same key as this one is
 * resumed rather than planned again, so rerunning a killed command completes it exactly once.
 */
export async function forget(
  ws: Workspace,
  config: ProsConfig,
  ask: ForgetAsk,
  /** once: a request already done with the same key is reported, not made again (the demo's rerun). */
  opts: { dryRun?: boolean; who?: string; once?: boolean } = {},
): Promise<ForgetResult> {
  const asked = normaliseAsk(ask, config);
  const key = requestKey(asked, ask.images ?? []);
  const finishedEarlier: number[] = [];
  let resumedId: number | undefined;
  if (!opts.dryRun) {
    const open = ws.db.prepare<[], Pick<ForgetRequestRow, 'id' | 'key'>>("SELECT id, key FROM forget_requests WHERE step != 'done' ORDER BY id").all();
    for (const r of open) {
      await finish(ws, config, r.id);
      if (r.key === key) resumedId = r.id;
      else finishedEarlier.push(r.id);
    }
  }
  if (resumedId === undefined && opts.once && !opts.dryRun) {
    resumedId = ws.db.prepare<[string], number>("SELECT id FROM forget_requests WHERE key = ? AND step = 'done' ORDER BY id DESC").pluck().get(key);
  }
  if (resumedId !== undefined) {
    const request = forgetRequest(ws, resumedId)!;
    return { dryRun: false, request, resumed: true, finishedEarlier, faces: [], counts: request.counts!, runs: request.runs };
  }

  const plan = await planForget(ws, config, ask);
  if (opts.dryRun) {
    return { dryRun: true, request: null, resumed: false, finishedEarlier, faces: plan.faces, counts: countsOf(plan, 0), runs: plan.runs };
  }
  scrubOptOutFile(ws);
  // Opt-outs that keep the person out of later crawls: the examples' descriptors, and the URLs and domains asked.
  // A face descriptor is appended (and synced) before the transaction that names it; a kill in between leaves an
  // unnamed row that the next forget's scrub overwrites.
  const optoutRows: Array<() => void> = [];
  const examples = plan.examples.map((d) => addOptOutLater(ws, 'face', d));
  faultPoint('after:examples');
  optoutRows.push(...examples);
  for (const u of plan.asked.urls) optoutRows.push(addOptOutLater(ws, 'url', u));
  for (const d of plan.asked.domains) optoutRows.push(addOptOutLater(ws, 'domain', d));
  const id = commitPlan(ws, plan, key, opts.who ?? 'cli', optoutRows);
  faultPoint('after:planned');
  await finish(ws, config, id);
  const request = forgetRequest(ws, id)!;
  return { dryRun: false, request, resumed: false, finishedEarlier, faces: plan.faces, counts: request.counts!, runs: request.runs };
}

/**
 * An opt-out entry to add inside the plan's transaction (request_id -1 is replaced by the request's id there). A
 * face's descriptor is appended and synced now, outside the transaction, as addOptOut does.
 */
function addOptOutLater(ws: Workspace, kind: 'face' | 'url' | 'domain', value: string | Float32Array): () => void {
  if (kind === 'face') {
    const row = appendOptOutDescriptor(ws, value as Float32Array);
    return () => {
      ws.db.prepare("INSERT INTO optouts(kind, value, descriptor_row, request_id, note) VALUES ('face', NULL, ?, -1, 'forget by example')").run(row);
    };
  }
  return () => {
    addOptOut(ws, kind, value as string, { requestId: -1, note: 'forget by source' });
  };
}
