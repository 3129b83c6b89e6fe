// Similarity search: a face's k nearest neighbours, or the faces of an uploaded image and theirs, in the chosen
// descriptor space (human's descriptors, or a trained run's ProS embeddings). The ANN index does the searching; this
// router checks input and joins the hits to face rows for display.
import { Router, type RequestHandler } from 'express';
import multer from 'multer';
import { clip } from '../../src/input.ts';
import { badRequest, faceIdParam, h, HttpError, notFound, qInt, qText } from '../security.ts';
import { facesByIds } from '../queries/faces.ts';
import type { Hit, SearchReply, SearchSpacesReply, UploadReply } from '../../src/contracts/api.ts';
import { SearchUnavailable } from '../search-provider.ts';
import type { Neighbour } from '../../src/contracts/geometry.ts';
import { sniffFormat } from '../../retrieval/decode.ts';
import type { ApiDeps } from './deps.ts';

/** Formats an upload may be, by its first bytes (the same sniffing and decodable set as curation). */
const UPLOAD_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'avif', 'heif', 'tiff']);

export function searchRouter({ ws, config, search, maxUploadBytes, maxConcurrentUploads }: ApiDeps): Router {
  const scale = config.export.scale;
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: { fileSize: maxUploadBytes, files: 1, fields: 8, fieldSize: 1024, parts: 10 },
  }).single('image');
  // Errors other than multer's own (limits) come from parsing the body: no boundary, a truncated body, a malformed
  // part header. They are the client's: a 400, not a 500 with a stack trace in the log.
  const parseUpload: RequestHandler = (req, res, next) =>
    upload(req, res, (err?: unknown) => {
      if (!err || err instanceof multer.MulterError) return next(err);
      next(badRequest(`malformed multipart body: ${clip((err as Error)?.message ?? String(err), 80)}`));
    });
  // Each upload holds up to maxUploadBytes in memory and then a face analysis: at most maxConcurrentUploads at once,
  // taken before the body is read and given back when the response ends (or the client goes away).
  let uploading = 0;
  const uploadSlot: RequestHandler = (_req, res, next) => {
    if (uploading >= maxConcurrentUploads) {
      res.setHeader('Retry-After', '2');
      return next(new HttpError(503, `busy: ${maxConcurrentUploads} uploads are being searched already; try again shortly`));
    }
    uploading++;
    // Given back when the response is sent, or when the connection goes first ('close' alone can wait for a
    // keep-alive socket whose request body was never read to end).
    let held = true;
    const release = () => {
      if (held) uploading--;
      held = false;
    };
    res.once('finish', release);
    res.once('close', release);
    next();
  };

  const params = (q: Record<string, unknown>) => {
    const k = qInt(q as never, 'k', 1, 100, 12);
    const space = qText(q as never, 'space', 130) ?? 'human';
    if (!search.spaces().includes(space)) throw badRequest(`unknown descriptor space "${space}"`);
    return { k, space };
  };
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    const why = await search.unavailable();
    if (why) throw new HttpError(503, why);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SearchUnavailable) throw new HttpError(503, err.message);
      throw err;
    }
  };
  const withRows = (hits: Neighbour[]): Hit[] => {
    const rows = facesByIds(ws, hits.map((n) => n.faceId), scale);
    return hits.flatMap((n) => {
      const r = rows.get(n.faceId);
      return r ? [{ ...r, similarity: n.similarity }] : [];
    });
  };

  return Router()
    .get(
      '/search/spaces',
      h(async (_req, res) => res.json({ spaces: search.spaces(), unavailable: await search.unavailable() } satisfies SearchSpacesReply)),
    )
    .get(
      '/search',
      h(async (req, res) => {
        const id = faceIdParam(qText(req.query, 'face', 20));
        const { k, space } = params(req.query);
        const query = facesByIds(ws, [id], scale).get(id);
        if (!query) throw notFound(`no face ${id}`);
        // One more than asked: the query face itself is usually its own nearest neighbour.
        const hits = await guard(() => search.byFace(id, k + 1, space));
        res.json({ space, k, query, neighbours: withRows(hits.filter((n) => n.faceId !== id)).slice(0, k) } satisfies SearchReply);
      }),
    )
    .post(
      '/search/upload',
      uploadSlot,
      parseUpload,
      h(async (req, res) => {
        const file = req.file;
        if (!file) throw badRequest('expected a multipart form with one file field named "image"');
        const type = sniffFormat(file.buffer);
        if (!type || !UPLOAD_FORMATS.has(type)) {
          throw new HttpError(415, 'the upload is not a JPEG, PNG, WebP, GIF, AVIF, HEIF or TIFF image');
        }
        const { k, space } = params(req.body ?? {});
        const result = await guard(() => search.byUpload(file.buffer, k, space));
        res.json({
          space,
          k,
          type,
          width: result.width,
          height: result.height,
          faces: result.faces.map((f) => ({ ...f, neighbours: withRows(f.neighbours).slice(0, k) })),
        } satisfies UploadReply);
      }),
    );
}
