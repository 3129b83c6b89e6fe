// The grid: a page of faces with filters and sorting, all done in SQL; and face thumbnails by face id.
import { Router, type Request } from 'express';
import { faceIdParam, h, notFound, qEnum, qFloat, qInt, qText, shaParam, badRequest } from '../security.ts';
import { FACE_STATUSES, SORTS, filterChoices, GridQueries, facesByIds, type GridQuery } from '../queries/faces.ts';
import { validSetName } from '../../retrieval/curation.ts';
import { THUMB_SIZES, type ThumbSize } from '../thumbs.ts';
import type { ApiDeps } from './deps.ts';
import type { Face, FacePage, FilterChoices } from '../../src/contracts/api.ts';

export function parseGridQuery(req: Request): GridQuery {
  const q = req.query;
  const set = qText(q, 'set');
  if (set !== undefined && !validSetName(set)) throw badRequest('query "set" is not a valid set name');
  const image = q.image === undefined ? undefined : shaParam(qText(q, 'image'));
  return {
    set,
    image,
    status: qEnum(q, 'status', FACE_STATUSES),
    reason: qText(q, 'reason'),
    tag: qText(q, 'tag'),
    minScore: qFloat(q, 'minScore', 0, 1),
    maxScore: qFloat(q, 'maxScore', 0, 1),
    minRatio: qFloat(q, 'minRatio', 0, 1),
    maxRatio: qFloat(q, 'maxRatio', 0, 1),
    maxYaw: qFloat(q, 'maxYaw', 0, 180),
    maxPitch: qFloat(q, 'maxPitch', 0, 180),
    minSharpness: qFloat(q, 'minSharpness', 0, 1e9),
    sort: qEnum(q, 'sort', SORTS, 'id')!,
    order: qEnum(q, 'order', ['asc', 'desc'] as const, 'desc')!,
    offset: qInt(q, 'offset', 0, 10_000_000, 0),
    limit: qInt(q, 'limit', 1, 500, 60),
  };
}

export function thumbSize(req: Request, dflt: ThumbSize): ThumbSize {
  const size = qInt(req.query, 'size', 1, 4096, dflt);
  if (!(THUMB_SIZES as readonly number[]).includes(size)) {
    throw badRequest(`query "size" must be one of ${THUMB_SIZES.join(', ')}`);
  }
  return size as ThumbSize;
}

export function facesRouter({ ws, config, thumbs }: ApiDeps): Router {
  const scale = config.export.scale;
  const grid = new GridQueries(ws, scale);
  return Router()
    .get(
      '/faces',
      h((req, res) => res.json(grid.page(parseGridQuery(req)) satisfies FacePage)),
    )
    .get(
      '/filters',
      h((_req, res) => res.json(filterChoices(ws) satisfies FilterChoices)),
    )
    .get(
      '/faces/:id',
      h((req, res) => {
        const id = faceIdParam(req.params.id as string);
        const face = facesByIds(ws, [id], scale).get(id);
        if (!face) throw notFound(`no face ${id}`);
        res.json(face satisfies Face);
      }),
    )
    .get(
      '/faces/:id/thumb',
      h(async (req, res) => {
        const id = faceIdParam(req.params.id as string);
        const file = await thumbs.face(id, thumbSize(req, 160));
        if (!file) throw notFound(`no thumbnail for face ${id}`);
        res.sendFile(file, { maxAge: '1h', dotfiles: 'deny' });
      }),
    );
}
