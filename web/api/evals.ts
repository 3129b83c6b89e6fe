import { Router } from 'express';
import { h } from '../security.ts';
import { evalTable, reportGroups } from '../../src/evals.ts';
import type { ApiDeps } from './deps.ts';

export function evalsRouter({ ws }: ApiDeps): Router {
  return Router().get(
    '/evals',
    // groups: the table `pros report` prints (main metric per task, latest value per seed, best first);
    // results: every metric logged, averaged over seeds.
    h((_req, res) => res.json({ groups: reportGroups(ws), results: evalTable(ws) })),
  );
}
