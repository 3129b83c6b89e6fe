// Privacy from the pages: "forget this person" on a face (a dry-run preview first, then the forget itself, which
// the page sends only after the curator confirms the listed faces), the audit log of forget requests and opt-outs,
// and a run's lineage. Thin over retrieval/privacy/, which `pros forget` uses; same-origin and Host checks apply to
// the POST as to every state change (server.ts).
import { Router } from 'express';
import { badRequest, faceIdParam, h, notFound, qFloat, runParam } from '../security.ts';
import { affectedRuns, lineageOf } from '../../src/lineage.ts';
import { forget, listForgetRequests } from '../../retrieval/privacy/forget.ts';
import { listOptOuts } from '../../retrieval/privacy/optout.ts';
import type { ApiDeps } from './deps.ts';
import type { AuditReply, ForgetPreviewReply, ForgetReply, LineageReply } from '../../src/contracts/api.ts';

interface ForgetBody {
  face?: unknown;
  threshold?: unknown;
  confirm?: unknown;
  who?: unknown;
}

export function privacyRouter({ ws, config, search }: ApiDeps): Router {
  const faceExists = ws.db.prepare('SELECT 1 FROM faces WHERE id = ?');
  return Router()
    .get(
      '/privacy/forget/preview',
      h(async (req, res) => {
        const face = faceIdParam(typeof req.query.face === 'string' ? req.query.face : undefined);
        if (!faceExists.get(face)) throw notFound(`no face ${face}`);
        const threshold = qFloat(req.query, 'threshold', 0, 1);
        const r = await forget(ws, config, { faces: [face], threshold }, { dryRun: true });
        res.json({ face, threshold: threshold ?? config.privacy.samePerson, faces: r.faces, counts: r.counts, runs: r.runs } satisfies ForgetPreviewReply);
      }),
    )
    .post(
      '/privacy/forget',
      h(async (req, res) => {
        const body = req.body as ForgetBody | undefined;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('expected a JSON object body: {face, confirm: true, threshold?, who?}');
        if (body.confirm !== true) throw badRequest('"confirm" must be true: preview the faces first (GET /api/privacy/forget/preview)');
        const face = faceIdParam(typeof body.face === 'number' ? String(body.face) : undefined);
        const threshold = body.threshold === undefined ? undefined : Number(body.threshold);
        if (threshold !== undefined && !(typeof body.threshold === 'number' && threshold >= 0 && threshold <= 1)) throw badRequest('"threshold" must be a number in [0, 1]');
        const who = body.who === undefined || body.who === '' ? 'web' : body.who;
        if (typeof who !== 'string' || who.length > 64) throw badRequest('"who" must be a string of at most 64 characters');
        if (!faceExists.get(face)) throw notFound(`no face ${face}; nothing was changed`);
        const r = await forget(ws, config, { faces: [face], threshold }, { who });
        search.refresh?.();
        res.json({ request: r.request, counts: r.counts, runs: r.runs } satisfies ForgetReply);
      }),
    )
    .get(
      '/privacy/audit',
      h((_req, res) => res.json({ requests: listForgetRequests(ws), optouts: listOptOuts(ws.db), affected: affectedRuns(ws.db) } satisfies AuditReply)),
    )
    .get(
      '/runs/:name/lineage',
      h((req, res) => res.json(lineageOf(ws.db, runParam(req.params.name as string)) satisfies LineageReply)),
    );
}
