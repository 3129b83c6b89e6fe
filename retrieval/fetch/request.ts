// One HTTP request, no retries and no redirects: connect and total timeouts, a byte cap, and errors mapped to
// stable reasons. The Fetcher builds retries, redirects, robots and politeness on top.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import zlib from 'node:zlib';
import type { FetchReason } from './outcome.ts';

export interface RequestLimits {
  connectTimeoutMs: number;
  totalTimeoutMs: number;
  maxBytes: number;
  userAgent: string;
}

export type RawResponse =
  | { kind: 'response'; status: number; headers: http.IncomingHttpHeaders; body?: Buffer }
  | { kind: 'error'; reason: FetchReason; detail?: string; status?: number; headers?: http.IncomingHttpHeaders };

export interface RequestOptions {
  agent: http.Agent;
  /** Resolves the host for the socket (the checked addresses of retrieval/fetch/resolver.ts). */
  lookup?: LookupFunction;
  signal?: AbortSignal;
  /** Called with the response headers before the body is read; returning a value ends the request with it. */
  inspect?: (status: number, headers: http.IncomingHttpHeaders) => RawResponse | undefined;
}

const NETWORK_REASONS: Record<string, FetchReason> = {
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_NONAME: 'dns',
  ECONNREFUSED: 'refused',
  EHOSTUNREACH: 'unreachable',
  ENETUNREACH: 'unreachable',
  ETIMEDOUT: 'connect_timeout',
};

function reasonOf(err: NodeJS.ErrnoException): FetchReason {
  const code = err.code ?? '';
  if (Object.hasOwn(NETWORK_REASONS, code)) return NETWORK_REASONS[code]!;
  if (/CERT|SSL|TLS/.test(code) || /certificate|ssl|tls/i.test(err.message)) return 'tls';
  if (/socket hang up|aborted/i.test(err.message)) return 'reset';
  return 'network';
}

export function request(url: URL, limits: RequestLimits, opts: RequestOptions): Promise<RawResponse> {
  return new Promise((resolve) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (r: RawResponse) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(r);
      if (!req.destroyed) req.destroy();
    };
    const onAbort = () => finish({ kind: 'error', reason: 'aborted' });

    const lib = url.protocol === 'https:' ? https : http;
    const req = lib.request(url, {
      method: 'GET',
      agent: opts.agent,
      lookup: opts.lookup,
      headers: { 'user-agent': limits.userAgent, accept: '*/*', 'accept-encoding': 'gzip, deflate, br' },
    });

    // Total timeout: from the request's start to the body's last byte, so a slow drip ends too.
    timers.push(setTimeout(() => finish({ kind: 'error', reason: 'timeout' }), limits.totalTimeoutMs));
    req.on('socket', (socket) => {
      // A reused keep-alive socket is already connected.
      if (!socket.connecting) return;
      const t = setTimeout(() => finish({ kind: 'error', reason: 'connect_timeout' }), limits.connectTimeoutMs);
      timers.push(t);
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(t));
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'error', reason: reasonOf(err), detail: err.code ?? err.message }));
    if (opts.signal) {
      if (opts.signal.aborted) return onAbort();
      opts.signal.addEventListener('abort', onAbort, { once: true });
    }

    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const early = opts.inspect?.(status, res.headers);
      if (early) return finish(early);
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBytes) {
        return finish({ kind: 'error', reason: 'too_large', status, detail: `content-length ${declared}` });
      }
      // Decompress if the server compressed; the cap applies to the decompressed bytes (a gzip bomb is too_large).
      const enc = String(res.headers['content-encoding'] ?? '').toLowerCase().trim();
      const decoder =
        enc === 'gzip' || enc === 'x-gzip' ? zlib.createGunzip()
        : enc === 'deflate' ? zlib.createInflate()
        : enc === 'br' ? zlib.createBrotliDecompress()
        : undefined;
      const stream: NodeJS.ReadableStream = decoder ? res.pipe(decoder) : res;
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxBytes) {
          // Settle first: destroying the response emits 'aborted', which would otherwise read as a reset.
          finish({ kind: 'error', reason: 'too_large', status, detail: `more than ${limits.maxBytes} bytes` });
          res.destroy();
          decoder?.destroy();
          return;
        }
        chunks.push(chunk);
      });
      stream.on('end', () => {
        // A body shorter than its Content-Length is a broken connection, not a short image.
        if (!decoder && Number.isFinite(declared) && size < declared) {
          return finish({ kind: 'error', reason: 'reset', status, detail: `body ended at ${size} of ${declared} bytes` });
        }
        finish({ kind: 'response', status, headers: res.headers, body: Buffer.concat(chunks) });
      });
      stream.on('error', (err: NodeJS.ErrnoException) =>
        finish({ kind: 'error', reason: decoder && !err.code?.startsWith('E') ? 'network' : reasonOf(err), status, detail: err.code ?? err.message }),
      );
      res.on('aborted', () => finish({ kind: 'error', reason: 'reset', status, detail: 'response aborted' }));
    });
    req.end();
  });
}
