import { Router } from 'express';
import { h } from '../security.ts';
import { overview } from '../queries/stats.ts';
import type { ApiDeps } from './deps.ts';

export function overviewRouter({ ws }: ApiDeps): Router {
  return Router().get(
    '/overview',
    h((_req, res) => res.json(overview(ws))),
  );
}
