import { Router } from 'express';
import { h } from '../security.ts';
import { OverviewCache } from '../queries/stats.ts';
import type { ApiDeps } from './deps.ts';
import type { Overview } from '../../src/contracts/api.ts';

export function overviewRouter({ ws }: ApiDeps): Router {
  const cache = new OverviewCache(ws);
  return Router().get(
    '/overview',
    h((_req, res) => res.json(cache.get() satisfies Overview)),
  );
}
