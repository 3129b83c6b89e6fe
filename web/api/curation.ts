// Curation actions from the pages, singly or for a selection: a thin layer over retrieval/curation.ts, which the
// CLI uses too. Same-origin is enforced for every POST by the server.
import { Router } from 'express';
import { badRequest, h, HttpError } from '../security.ts';
import {
  accept,
  addToSet,
  reject,
  removeFromSet,
  tag,
  untag,
  type CurationResult,
} from '../../retrieval/curation.ts';
import type { ApiDeps } from './deps.ts';

interface Body {
  action?: unknown;
  faceIds?: unknown;
  value?: unknown;
  who?: unknown;
}

export function curationRouter({ ws, search }: ApiDeps): Router {
  return Router().post(
    '/curation',
    h((req, res) => {
      const body = req.body as Body | undefined;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw badRequest('expected a JSON object body: {action, faceIds, value?, who?}');
      }
      const { action, faceIds, value } = body;
      const who = body.who === undefined || body.who === '' ? 'web' : body.who;
      if (!Array.isArray(faceIds)) throw badRequest('"faceIds" must be a list of face ids');
      if (typeof who !== 'string') throw badRequest('"who" must be a string');
      const ids = faceIds as number[];
      const text = () => {
        if (typeof value !== 'string') throw badRequest(`"value" must be a string for ${String(action)}`);
        return value;
      };
      let result: CurationResult;
      switch (action) {
        case 'accept': result = accept(ws, ids, who); break;
        case 'reject': result = reject(ws, ids, who); break;
        case 'tag': result = tag(ws, ids, text(), who); break;
        case 'untag': result = untag(ws, ids, text(), who); break;
        case 'add_to_set': result = addToSet(ws, ids, text(), who); break;
        case 'remove_from_set': result = removeFromSet(ws, ids, text(), who); break;
        default:
          throw badRequest('"action" must be one of accept, reject, tag, untag, add_to_set, remove_from_set');
      }
      if (result.missing.length > 0) {
        throw new HttpError(404, `no face with id ${result.missing.slice(0, 10).join(', ')}; nothing was changed`);
      }
      // Accepted faces are what the ANN index holds: keep search in step with the decision.
      if (action === 'accept' || action === 'reject') search.refresh?.();
      res.json(result satisfies CurationResult);
    }),
  );
}
