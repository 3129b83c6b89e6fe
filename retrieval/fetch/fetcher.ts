// Fetches one URL politely and robustly: global and per-host concurrency, retries with backoff on transient errors
// only, manual redirects, robots.txt, X-Robots-Tag opt-outs, and a recorded reason for every way it can end.
import http from 'node:http';
import https from 'node:https';
import type { FetchConfig } from '../../src/config.ts';
import { failed, type FetchOutcome, type FetchReason } from './outcome.ts';
import { HostLimiter } from './limiter.ts';
import { request, type RawResponse } from './request.ts';
import { RobotsCache } from './robots.ts';
import { HostResolver } from './resolver.ts';

export interface FetcherOptions {
  /** Longest Retry-After we honour; a longer one is waited only this long. */
  retryAfterCapMs?: number;
  /** A robots.txt larger than this is ignored (allow all). */
  robotsMaxBytes?: number;
  /** Origins whose robots.txt rules are kept (least recently used dropped first). */
  robotsCacheSize?: number;
  /** Told of each wait between two tries of a URL, before it starts: how long, and whether Retry-After set it. */
  onWait?: (wait: { url: string; ms: number; retryAfter: boolean }) => void;
}

const TRANSIENT: ReadonlySet<string> = new Set(['timeout', 'connect_timeout', 'reset', 'http_429', 'http_500', 'http_502', 'http_503', 'http_504']);
const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** True when an X-Robots-Tag value opts out of AI use: `noai` or `noimageai`, for any bot, in any list form. */
export function optsOutOfAI(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  const text = Array.isArray(header) ? header.join(',') : header;
  return /(^|[\s,:;])(noai|noimageai)(?=$|[\s,;])/i.test(text);
}

function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const secs = Number(value.trim());
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class Fetcher {
  private readonly limiter: HostLimiter;
  private readonly robots: RobotsCache;
  private readonly resolver: HostResolver;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly retryAfterCapMs: number;
  private readonly robotsMaxBytes: number;
  private readonly onWait: NonNullable<FetcherOptions['onWait']>;

  constructor(private readonly cfg: FetchConfig, opts: FetcherOptions = {}) {
    this.limiter = new HostLimiter(cfg.concurrency, cfg.perHost);
    this.resolver = new HostResolver({ allowPrivate: cfg.allowPrivate, allowAddresses: cfg.allowAddresses });
    // Idle keep-alive sockets close after a few seconds: a list spanning many hosts must not pile up open sockets.
    const agentOpts = { keepAlive: true, maxSockets: cfg.perHost, maxFreeSockets: cfg.perHost, timeout: 4_000, scheduling: 'lifo' as const };
    this.httpAgent = new http.Agent(agentOpts);
    this.httpsAgent = new https.Agent(agentOpts);
    this.retryAfterCapMs = opts.retryAfterCapMs ?? 30_000;
    this.robotsMaxBytes = opts.robotsMaxBytes ?? 512 * 1024;
    this.onWait = opts.onWait ?? (() => {});
    this.robots = new RobotsCache(cfg.userAgent, (u) => this.loadRobots(u), opts.robotsCacheSize);
  }

  async fetch(url: string, opts: { signal?: AbortSignal } = {}): Promise<FetchOutcome> {
    let current: URL;
    try {
      current = new URL(url);
    } catch {
      return failed('bad_url', 0, { detail: url });
    }
    const visited = new Set<string>();
    let attempts = 0;
    for (let hop = 0; ; hop++) {
      if (opts.signal?.aborted) return failed('aborted', attempts);
      if (current.protocol !== 'http:' && current.protocol !== 'https:') {
        return failed('unsupported_scheme', attempts, { detail: current.protocol });
      }
      current.hash = '';
      visited.add(current.href);
      // The address policy before robots.txt, so a refused host gets no request at all and the reason names the URL.
      const target = await this.resolver.resolve(current.hostname);
      if (!target.ok) return failed(target.reason, attempts, { detail: target.detail });
      if (this.cfg.respectRobots) {
        const verdict = await this.robots.check(current);
        if (!verdict.allowed) return failed(verdict.reason, attempts, { detail: verdict.detail ?? current.href });
        if (opts.signal?.aborted) return failed('aborted', attempts);
      }
      const { res, tries } = await this.withRetries(current, opts.signal);
      attempts += tries;
      if (res.kind === 'error') return failed(res.reason, attempts, { httpStatus: res.status, detail: res.detail });
      if (REDIRECTS.has(res.status)) {
        const location = res.headers.location;
        if (location === undefined) return failed('bad_redirect', attempts, { httpStatus: res.status });
        let next: URL;
        try {
          next = new URL(location, current);
        } catch {
          return failed('bad_redirect', attempts, { httpStatus: res.status, detail: location });
        }
        next.hash = '';
        if (visited.has(next.href)) return failed('redirect_loop', attempts, { httpStatus: res.status, detail: next.href });
        if (hop + 1 > this.cfg.maxRedirects) return failed('too_many_redirects', attempts, { httpStatus: res.status, detail: next.href });
        current = next;
        continue;
      }
      if (res.status < 200 || res.status >= 300) {
        return failed(`http_${res.status}`, attempts, { httpStatus: res.status });
      }
      const type = res.headers['content-type'];
      return { ok: true, bytes: res.body ?? Buffer.alloc(0), contentType: type, httpStatus: res.status, finalUrl: current.href, attempts };
    }
  }

  /** One hop, retried on transient failures with exponential backoff and jitter (or the server's Retry-After). */
  private async withRetries(url: URL, signal?: AbortSignal): Promise<{ res: RawResponse; tries: number }> {
    for (let tries = 1; ; tries++) {
      const res = await this.once(url, signal);
      const reason = res.kind === 'error' ? res.reason : res.status >= 400 ? `http_${res.status}` : undefined;
      if (!reason || !TRANSIENT.has(reason) || tries > this.cfg.retries || signal?.aborted) {
        if (res.kind === 'response' && res.status >= 400) return { res: { kind: 'error', reason: reason as FetchReason, status: res.status }, tries };
        return { res, tries };
      }
      const backoff = this.cfg.backoffMs * 2 ** (tries - 1) * (0.5 + Math.random());
      const retryAfter = res.kind === 'response' ? parseRetryAfter(res.headers['retry-after']) : undefined;
      const ms = retryAfter !== undefined ? Math.min(retryAfter, this.retryAfterCapMs) : backoff;
      this.onWait({ url: url.href, ms, retryAfter: retryAfter !== undefined });
      await sleep(ms, signal);
    }
  }

  /** One request to one URL. Every request (page, image, robots.txt, each redirect hop) passes the address policy here. */
  private async once(url: URL, signal?: AbortSignal, maxBytes = this.cfg.maxBytes, checkNoAI = this.cfg.respectNoAI): Promise<RawResponse> {
    const target = await this.resolver.resolve(url.hostname);
    if (!target.ok) return { kind: 'error', reason: target.reason, detail: target.detail };
    const release = await this.limiter.acquire(url.host);
    try {
      return await request(
        url,
        { connectTimeoutMs: this.cfg.connectTimeoutMs, totalTimeoutMs: this.cfg.totalTimeoutMs, maxBytes, userAgent: this.cfg.userAgent },
        {
          agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
          // The socket connects to the addresses just checked: no second DNS lookup for rebinding to change.
          lookup: target.lookup,
          signal,
          // Decide on headers alone where we can, so a refused body is never downloaded.
          inspect: (status, headers) => {
            if (status !== 200 && (status < 200 || status >= 300)) return { kind: 'response', status, headers };
            if (checkNoAI && optsOutOfAI(headers['x-robots-tag'])) {
              return { kind: 'error', reason: 'noai', status, detail: String(headers['x-robots-tag']) };
            }
            return undefined;
          },
        },
      );
    } finally {
      release();
    }
  }

  private async loadRobots(robotsUrl: string): Promise<{ status?: number; body?: string; reason?: FetchReason }> {
    let url = new URL(robotsUrl);
    for (let hop = 0; hop <= this.cfg.maxRedirects; hop++) {
      const { res } = await this.withRetriesRobots(url);
      if (res.kind === 'error') {
        if (res.reason === 'too_large') return { status: 200, body: '' };
        return res.status !== undefined ? { status: res.status } : { reason: res.reason };
      }
      if (REDIRECTS.has(res.status) && res.headers.location) {
        url = new URL(String(res.headers.location), url);
        continue;
      }
      return { status: res.status, body: res.body?.toString('utf8') };
    }
    return { status: 404 }; // a redirect chain without end: treated as no robots.txt
  }

  private async withRetriesRobots(url: URL): Promise<{ res: RawResponse }> {
    for (let tries = 1; ; tries++) {
      const res = await this.once(url, undefined, this.robotsMaxBytes, false);
      const reason = res.kind === 'error' ? res.reason : `http_${res.status}`;
      if (!TRANSIENT.has(reason) || tries > this.cfg.retries) return { res };
      await sleep(this.cfg.backoffMs * 2 ** (tries - 1) * (0.5 + Math.random()));
    }
  }

  /** Frees the keep-alive sockets; in-flight requests end with `reset`. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
