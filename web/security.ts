// What keeps the UI safe to run next to a browser that also visits the open web: a strict CSP, same-origin checks on
// every state change, a Host allow-list (DNS rebinding), strict parsing of ids and query values, and errors that are
// a clear 4xx JSON message rather than a stack trace.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { InputError } from '../src/errors.ts';
import { hasUnsafeText, parseFaceId } from '../src/input.ts';
import type { ErrorReply } from '../src/contracts/api.ts';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (msg: string) => new HttpError(400, msg);
export const notFound = (msg: string) => new HttpError(404, msg);

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function securityHeaders(): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    next();
  };
}

/**
 * Only Host names the server was bound to (and loopback names) are served: a page on another site that rebinds its
 * DNS name to 127.0.0.1 then gets 421 instead of the curator's data.
 */
export function hostCheck(allowed: () => Set<string>): RequestHandler {
  return (req, _res, next) => {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowed().has(host)) return next(new HttpError(421, `host "${host}" is not served here`));
    next();
  };
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A state-changing request must come from our own pages: its Origin must be this server's origin, or (for clients
 * that omit Origin) Sec-Fetch-Site must say same-origin. Requests with neither are refused.
 */
export function sameOrigin(): RequestHandler {
  return (req, _res, next) => {
    if (SAFE.has(req.method)) return next();
    const origin = req.headers.origin;
    const expected = `${req.protocol}://${req.headers.host}`;
    if (typeof origin === 'string') {
      if (origin === expected) return next();
      return next(new HttpError(403, `cross-origin request refused (Origin ${origin})`));
    }
    if (req.headers['sec-fetch-site'] === 'same-origin') return next();
    next(new HttpError(403, 'state-changing request without a same-origin Origin header refused'));
  };
}

// ---- parsing request values: every value from a request is untrusted text -------------------------------------

type Query = Request['query'];

function single(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw badRequest(`query "${name}" must be given once, as plain text`);
  return v;
}

export function qInt(q: Query, name: string, min: number, max: number, dflt: number): number;
export function qInt(q: Query, name: string, min: number, max: number): number | undefined;
export function qInt(q: Query, name: string, min: number, max: number, dflt?: number): number | undefined {
  const v = single(q, name);
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v)) throw badRequest(`query "${name}" must be an integer, got "${v.slice(0, 40)}"`);
  const n = Number(v);
  if (n < min || n > max) throw badRequest(`query "${name}" must be in [${min}, ${max}], got ${n}`);
  return n;
}

export function qFloat(q: Query, name: string, min: number, max: number): number | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(v) || !Number.isFinite(n)) {
    throw badRequest(`query "${name}" must be a number, got "${v.slice(0, 40)}"`);
  }
  if (n < min || n > max) throw badRequest(`query "${name}" must be in [${min}, ${max}], got ${n}`);
  return n;
}

export function qEnum<T extends string>(q: Query, name: string, values: readonly T[], dflt?: T): T | undefined {
  const v = single(q, name);
  if (v === undefined) return dflt;
  if (!values.includes(v as T)) throw badRequest(`query "${name}" must be one of ${values.join(', ')}`);
  return v as T;
}

/** Free text such as a reason or tag: bounded, printable. */
export function qText(q: Query, name: string, maxLen = 64): string | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  if (v.length > maxLen || hasUnsafeText(v)) {
    throw badRequest(`query "${name}" must be at most ${maxLen} printable characters (no controls or bidi overrides)`);
  }
  return v;
}

export function faceIdParam(raw: string | undefined): number {
  const id = raw === undefined ? undefined : parseFaceId(raw);
  if (id === undefined) throw badRequest('face id must be a positive integer below 2^53');
  return id;
}

/** Images are named by their sha256: 64 lowercase hex digits and nothing else (no path can ride along). */
export function shaParam(raw: string | undefined): string {
  if (raw === undefined || !/^[0-9a-f]{64}$/.test(raw)) throw badRequest('image id must be a sha256 (64 hex digits)');
  return raw;
}

/** Run names come from the database; anything else is refused before it gets near a query or a path. */
export function runParam(raw: string | undefined): string {
  if (raw === undefined || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(raw) || raw.includes('..')) {
    throw badRequest('run name must be 1–128 of A-Z a-z 0-9 _ . - (no "..")');
  }
  return raw;
}

/** Wraps an async handler so its rejection reaches the error handler. */
export function h(fn: (req: Request, res: Response) => unknown): RequestHandler {
  return (req, res, next) => {
    Promise.resolve()
      .then(() => fn(req, res))
      .catch(next);
  };
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  code?: string;
}

/** Last middleware: known errors become their status with a one-line JSON message; the rest a 500 without detail. */
export function errorHandler(onInternal: (err: unknown) => void) {
  return (err: BodyParserError, req: Request, res: Response, _next: NextFunction) => {
    let status = 500;
    let message = 'internal error';
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (err instanceof InputError) {
      // The web's one mapping of the project's input error: a well-formed request the libraries refuse
      // (an unknown set name, a face a run never embedded, an upload that does not decode).
      status = 422;
      message = err.message;
    } else if (err.type === 'entity.parse.failed') {
      status = 400;
      message = `malformed JSON body: ${err.message}`;
    } else if (err.type === 'entity.too.large') {
      status = 413;
      message = 'request body too large';
    } else if (err.name === 'MulterError' && err.code === 'LIMIT_FILE_SIZE') {
      status = 413;
      message = 'upload too large';
    } else if (err.name === 'MulterError') {
      status = 400;
      message = `bad upload: ${err.message}`;
    } else if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
      status = err.status;
      message = err.message;
    } else {
      onInternal(err);
    }
    if (res.headersSent) return;
    if (req.path.startsWith('/api/') || status !== 404) res.status(status).json({ error: message } satisfies ErrorReply);
    else res.status(status).type('text/plain').send(message);
  };
}
