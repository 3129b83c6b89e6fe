import { Router } from 'express';
import { h, notFound, qInt, runParam } from '../security.ts';
import { listRuns, runCurves } from '../queries/stats.ts';
import type { ApiDeps } from './deps.ts';
import type { RunCurves, RunsReply } from '../../src/contracts/api.ts';

export function runsRouter({ ws }: ApiDeps): Router {
  return Router()
    .get(
      '/runs',
      h((_req, res) => res.json({ runs: listRuns(ws) } satisfies RunsReply)),
    )
    .get(
      '/runs/:name/metrics',
      h((req, res) => {
        const name = runParam(req.params.name as string);
        const curves = runCurves(ws, name, qInt(req.query, 'points', 10, 20_000, 2000));
        if (!curves) throw notFound(`no run named "${name}"`);
        res.json(curves satisfies RunCurves);
      }),
    );
}
