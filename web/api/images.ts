// The detail of one image (all its faces, where it came from, its near-duplicates, the decisions on it) and the
// image itself, re-encoded at a bounded size. Images are named only by sha256.
import { Router } from 'express';
import { h, notFound, qEnum, qInt, qText, shaParam } from '../security.ts';
import { IMAGE_SORTS, IMAGE_STATUSES, imageDetail, imagePage } from '../queries/images.ts';
import { thumbSize } from './faces.ts';
import type { ApiDeps } from './deps.ts';
import type { ImageDetail, ImagePage } from '../../src/contracts/api.ts';

export function imagesRouter({ ws, config, thumbs }: ApiDeps): Router {
  return Router()
    .get(
      '/images',
      h((req, res) => {
        const q = req.query;
        res.json(
          imagePage(ws, {
            status: qEnum(q, 'status', IMAGE_STATUSES),
            reason: qText(q, 'reason'),
            sort: qEnum(q, 'sort', IMAGE_SORTS, 'newest')!,
            order: qEnum(q, 'order', ['asc', 'desc'] as const, 'desc')!,
            offset: qInt(q, 'offset', 0, 10_000_000, 0),
            limit: qInt(q, 'limit', 1, 500, 60),
          }) satisfies ImagePage,
        );
      }),
    )
    .get(
      '/images/:sha',
      h((req, res) => {
        const sha = shaParam(req.params.sha as string);
        const detail = imageDetail(ws, sha, config.export.scale);
        if (!detail) throw notFound(`no image ${sha}`);
        res.json(detail satisfies ImageDetail);
      }),
    )
    .get(
      '/images/:sha/thumb',
      h(async (req, res) => {
        const sha = shaParam(req.params.sha as string);
        const file = await thumbs.image(sha, thumbSize(req, 1024));
        if (!file) throw notFound(`no image ${sha}`);
        res.sendFile(file, { maxAge: '1h', dotfiles: 'deny' });
      }),
    );
}
