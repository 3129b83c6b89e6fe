import { Router } from 'express';
import { h } from '../security.ts';
import { evalTable, reportGroups, type SkippedRow } from '../../src/evals.ts';
import type { ApiDeps } from './deps.ts';
import type { EvalsReply } from '../../src/contracts/api.ts';

export function evalsRouter({ ws }: ApiDeps): Router {
  return Router().get(
    '/evals',
    // groups: the table `pros report` prints (main metric per task, latest value per seed, best first);
    // results: every metric logged, averaged over seeds; skipped: stored rows that could not be read.
    h((_req, res) => {
      const skipped: SkippedRow[] = [];
      const groups = reportGroups(ws, skipped);
      res.json({ groups, results: evalTable(ws), skipped } satisfies EvalsReply);
    }),
  );
}
