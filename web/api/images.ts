// The detail of one image (all its faces, where it came from, its near-duplicates, the decisions on it) and the
// image itself, re-encoded at a bounded size. Images are named only by sha256.
import { Router } from 'express';
import { h, notFound, shaParam } from '../security.ts';
import { imageDetail } from '../queries/faces.ts';
import { thumbSize } from './faces.ts';
import type { ApiDeps } from './deps.ts';

export function imagesRouter({ ws, config, thumbs }: ApiDeps): Router {
  return Router()
    .get(
      '/images/:sha',
      h((req, res) => {
        const sha = shaParam(req.params.sha as string);
        const detail = imageDetail(ws, sha, config.export.scale);
        if (!detail) throw notFound(`no image ${sha}`);
        res.json(detail);
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
