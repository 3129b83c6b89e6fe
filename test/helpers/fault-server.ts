// A loopback HTTP server of faults for the fetch tests and the curate end-to-end test: every way a download can
// go wrong, each on its own route, with the outcome the FETCH stage should record for it (decode failures such as
// a truncated JPEG are fetch `ok`: the decode stage rejects them).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import sharp from 'sharp';
import type { FetchConfig } from '../../src/config.ts';
import { defaults } from '../../src/config.ts';

export interface FaultExpect {
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
}

export interface FaultServer {
  /** Absolute URL of a path on 127.0.0.1. */
  url(path: string): string;
  /** The same path on `localhost`: another host name for the same server (same-host filtering, per-host limits). */
  otherHostUrl(path: string): string;
  close(): Promise<void>;
  routes: Array<{ path: string; expect: FaultExpect }>;
  /** Requests seen per path (without the query). */
  hits(path: string): number;
  /** Largest number of requests in flight at once for one Host header (e.g. `127.0.0.1:PORT`), or on the server. */
  maxConcurrent(host?: string): number;
  /** The bytes served at /good.jpg (a real JPEG made with sharp). */
  goodJpeg: Buffer;
}

export interface FaultServerOptions {
  /** Time to send the whole slow body, kept below the client's total timeout. */
  slowBodyMs?: number;
  /** Interval between single bytes of the drip, which never ends. */
  dripIntervalMs?: number;
  /** Size of the oversized body; keep it above the client's maxBytes. */
  oversizeBytes?: number;
  /** Time each /slow/<n> request is held, to measure concurrency. */
  holdMs?: number;
}

/**
 * A fetch config matched to the server's defaults: fast timeouts, a 1 MiB cap, one retry; and, since the server is on
 * loopback, the private-address policy opted out of (test/retrieval/private-address.test.ts tests the default).
 */
export const FAULT_FETCH_CONFIG: FetchConfig = {
  ...defaults.fetch,
  allowPrivate: true,
  concurrency: 8,
  perHost: 3,
  connectTimeoutMs: 300,
  totalTimeoutMs: 1_500,
  retries: 1,
  backoffMs: 20,
  maxBytes: 1024 * 1024,
  maxRedirects: 5,
};

const ROUTES: Array<{ path: string; expect: FaultExpect }> = [
  { path: '/good.jpg', expect: { status: 'ok' } },
  { path: '/hang', expect: { status: 'failed', reason: 'timeout' } },
  { path: '/reset', expect: { status: 'failed', reason: 'reset' } },
  { path: '/404', expect: { status: 'failed', reason: 'http_404' } },
  { path: '/500', expect: { status: 'failed', reason: 'http_500' } },
  { path: '/flaky.jpg', expect: { status: 'ok' } },
  { path: '/slow.jpg', expect: { status: 'ok' } },
  { path: '/drip.jpg', expect: { status: 'failed', reason: 'timeout' } },
  { path: '/truncated.jpg', expect: { status: 'ok' } },
  { path: '/html-as.jpg', expect: { status: 'ok' } },
  { path: '/bomb.png', expect: { status: 'ok' } },
  { path: '/oversize.jpg', expect: { status: 'failed', reason: 'too_large' } },
  { path: '/oversize-chunked.jpg', expect: { status: 'failed', reason: 'too_large' } },
  { path: '/gzip.jpg', expect: { status: 'ok' } },
  { path: '/gzip-bomb.jpg', expect: { status: 'failed', reason: 'too_large' } },
  { path: '/redirect.jpg', expect: { status: 'ok' } },
  { path: '/loop/a', expect: { status: 'failed', reason: 'redirect_loop' } },
  { path: '/chain/0', expect: { status: 'failed', reason: 'too_many_redirects' } },
  { path: '/private/face.jpg', expect: { status: 'skipped', reason: 'robots' } },
  { path: '/noai.jpg', expect: { status: 'skipped', reason: 'noai' } },
  { path: '/noimageai.jpg', expect: { status: 'skipped', reason: 'noai' } },
  { path: '/site/index.html', expect: { status: 'ok' } },
];

async function makeJpeg(): Promise<Buffer> {
  // A gradient rather than a flat colour, so the JPEG has real entropy-coded data to truncate.
  const w = 96, h = 96;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    raw[i] = (x * 255) / w; raw[i + 1] = (y * 255) / h; raw[i + 2] = ((x ^ y) * 4) & 255;
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A 1×1 PNG whose header is rewritten to declare 100 000 × 100 000 pixels (CRC fixed so it parses). */
async function makeBomb(): Promise<Buffer> {
  const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#888' } }).png().toBuffer();
  const out = Buffer.from(png);
  // Signature (8) + IHDR length (4) + "IHDR" (4): width at 16, height at 20, CRC over type+data at 29.
  out.writeUInt32BE(100_000, 16);
  out.writeUInt32BE(100_000, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

function page(body: string): string {
  return `<!doctype html><html><head><title>fault site</title></head><body>${body}</body></html>`;
}

export async function startFaultServer(opts: FaultServerOptions = {}): Promise<FaultServer> {
  const slowBodyMs = opts.slowBodyMs ?? 300;
  const dripIntervalMs = opts.dripIntervalMs ?? 100;
  const oversizeBytes = opts.oversizeBytes ?? 2 * 1024 * 1024;
  const holdMs = opts.holdMs ?? 100;
  const goodJpeg = await makeJpeg();
  const bomb = await makeBomb();
  const gzipBomb = zlib.gzipSync(Buffer.alloc(oversizeBytes, 0));
  const hits = new Map<string, number>();
  const seen = new Set<string>();
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let port = 0;
  let total = 0;
  let maxTotal = 0;

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
    timers.add(t);
  };
  const jpeg = (res: http.ServerResponse, body: Buffer, extra: http.OutgoingHttpHeaders = {}) => {
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length, ...extra });
    res.end(body);
  };
  const html = (res: http.ServerResponse, body: string) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page(body));
  };

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const path = u.pathname;
    const host = req.headers.host ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const n = (inFlight.get(host) ?? 0) + 1;
    inFlight.set(host, n);
    maxInFlight.set(host, Math.max(maxInFlight.get(host) ?? 0, n));
    total++;
    maxTotal = Math.max(maxTotal, total);
    let counted = true;
    const done = () => {
      if (counted) {
        inFlight.set(host, (inFlight.get(host) ?? 1) - 1);
        total--;
      }
      counted = false;
    };
    res.on('close', done);

    if (path === '/robots.txt') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('User-agent: *\nDisallow: /private/\n\nUser-agent: otherbot\nDisallow: /\n');
    }
    if (path === '/good.jpg' || path === '/photo.jpg') return jpeg(res, goodJpeg);
    if (path === '/hang') return; // never answers; close() ends the socket
    if (path === '/reset') return req.socket.destroy();
    if (path === '/404') { res.writeHead(404); return res.end('not found'); }
    if (path === '/500') { res.writeHead(500); return res.end('boom'); }
    if (path === '/flaky.jpg' || path === '/throttled.jpg') {
      // Fails the first request for each distinct URL (query included), then serves the image.
      const key = req.url ?? path;
      if (!seen.has(key)) {
        seen.add(key);
        if (path === '/throttled.jpg') res.writeHead(429, { 'retry-after': u.searchParams.get('after') ?? '1' });
        else res.writeHead(503);
        return res.end();
      }
      return jpeg(res, goodJpeg);
    }
    if (path === '/slow.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': goodJpeg.length });
      const parts = 5;
      const step = Math.ceil(goodJpeg.length / parts);
      for (let i = 0; i < parts; i++) {
        later((slowBodyMs / parts) * i, () => {
          const chunk = goodJpeg.subarray(i * step, (i + 1) * step);
          if (i === parts - 1) res.end(chunk);
          else res.write(chunk);
        });
      }
      return;
    }
    if (path === '/drip.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': 500_000 });
      const tick = () => {
        if (res.destroyed) return;
        res.write(Buffer.from([0xff]));
        later(dripIntervalMs, tick);
      };
      return tick();
    }
    if (path === '/truncated.jpg') return jpeg(res, goodJpeg.subarray(0, Math.floor(goodJpeg.length / 2)));
    if (path === '/html-as.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      return res.end(page('<p>this is not an image</p>'));
    }
    if (path === '/bomb.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': bomb.length });
      return res.end(bomb);
    }
    if (path === '/oversize.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': oversizeBytes });
      return res.end(Buffer.alloc(oversizeBytes, 0xab));
    }
    if (path === '/oversize-chunked.jpg') {
      // No Content-Length: the cap must trip while streaming.
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const chunk = Buffer.alloc(64 * 1024, 0xcd);
      let sent = 0;
      const pump = () => {
        while (sent < oversizeBytes && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      return pump();
    }
    if (path === '/gzip.jpg') {
      const z = zlib.gzipSync(goodJpeg);
      return jpeg(res, z, { 'content-encoding': 'gzip' });
    }
    if (path === '/gzip-bomb.jpg') {
      // A few KiB on the wire that inflate past the cap: the cap must apply to decoded bytes.
      return jpeg(res, gzipBomb, { 'content-encoding': 'gzip' });
    }
    if (path === '/redirect.jpg') { res.writeHead(302, { location: '/good.jpg' }); return res.end(); }
    if (path === '/loop/a') { res.writeHead(301, { location: '/loop/b' }); return res.end(); }
    if (path === '/loop/b') { res.writeHead(302, { location: `http://127.0.0.1:${port}/loop/a` }); return res.end(); }
    if (path.startsWith('/chain/')) {
      res.writeHead(302, { location: `/chain/${Number(path.slice(7)) + 1}` });
      return res.end();
    }
    if (path === '/private/face.jpg') return jpeg(res, goodJpeg);
    if (path === '/noai.jpg') return jpeg(res, goodJpeg, { 'x-robots-tag': 'noai' });
    if (path === '/noimageai.jpg') return jpeg(res, goodJpeg, { 'x-robots-tag': 'index, otherbot: noimageai' });
    if (path.startsWith('/slow/')) { later(holdMs, () => jpeg(res, goodJpeg)); return; }
    // A small site for crawling: index → a → c (depth 2), index → b on another host name.
    if (path === '/site/index.html') {
      return html(res, `
        <img src="/good.jpg" alt="a">
        <img src="../slow.jpg" srcset="/flaky.jpg?w=1 1x, /truncated.jpg 2x,/bomb.png 3x">
        <picture><source srcset="/gzip.jpg 480w, /noai.jpg 800w"><img src="/good.jpg"></picture>
        <a href="a.html#top">A</a> <a href="/site/a.html">A again</a> <a href="#self">self</a>
        <a href="/photo.jpg">a photo</a> <a href="mailto:x@example.com">mail</a> <a href="javascript:void(0)">js</a>
        <a href="http://localhost:${port}/site/b.html">B on another host</a>
        <a href="/private/page.html">private</a>`);
    }
    if (path === '/site/a.html') {
      return html(res, `<img src="/noimageai.jpg"><a href="c.html">C</a><a href="/site/index.html">home</a><a href="/404">gone</a>`);
    }
    if (path === '/site/b.html') return html(res, `<img src="/html-as.jpg">`);
    if (path === '/site/c.html') return html(res, `<img src="/redirect.jpg">`);
    if (path === '/site/optout.html') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(`<html><head><meta name="robots" content="noimageai"></head><body><img src="/good.jpg"><img src="/photo.jpg"></body></html>`);
    }
    res.writeHead(404);
    res.end('not found');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;

  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    otherHostUrl: (p) => `http://localhost:${port}${p}`,
    routes: ROUTES.map((r) => ({ ...r, expect: { ...r.expect } })),
    hits: (p) => hits.get(p) ?? 0,
    maxConcurrent: (host) => (host ? (maxInFlight.get(host) ?? 0) : maxTotal),
    goodJpeg,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
