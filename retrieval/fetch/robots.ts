// robots.txt per origin: fetched once (concurrent callers share the one request), parsed with robots-parser, and
// matched with our user agent. 2xx → its rules; 4xx → allow all (no robots.txt); 5xx or unreachable → disallow all,
// as Google does (the host is not answering for its rules, so we do not assume consent). No answer at all (DNS,
// refused, timeout after retries) → every URL of the origin fails with that network reason, without a request:
// the host is down for this run, and recording it as an opt-out would be wrong.
import robotsParserModule from 'robots-parser';
import type { FetchReason } from './outcome.ts';

interface Robot {
  isAllowed(url: string, ua?: string): boolean | undefined;
}
// robots-parser is CommonJS with a typing that NodeNext does not see as callable.
const robotsParser = robotsParserModule as unknown as (url: string, body: string) => Robot;

export type RobotsVerdict = { allowed: true } | { allowed: false; reason: FetchReason; detail?: string };

interface Rules {
  isAllowed(url: string): boolean;
  unavailable?: { reason: FetchReason; detail: string };
}

/** Fetches `/robots.txt` of an origin; without a status, `reason` says why there was no answer at all. */
export type RobotsLoader = (url: string) => Promise<{ status?: number; body?: string; reason?: FetchReason }>;

export class RobotsCache {
  private readonly byOrigin = new Map<string, Promise<Rules>>();
  /** `maxOrigins` bounds memory on lists spanning millions of hosts: the least recently used origin is dropped. */
  constructor(private readonly userAgent: string, private readonly load: RobotsLoader, private readonly maxOrigins = 10_000) {}

  /** Product token of the user agent ("pros" of "pros/0.1.0 (...)"), which robots.txt groups name. */
  private get token(): string {
    return this.userAgent.split(/[\s/]/)[0] || this.userAgent;
  }

  async check(url: URL): Promise<RobotsVerdict> {
    let rules = this.byOrigin.get(url.origin);
    if (rules) this.byOrigin.delete(url.origin); // re-inserted below: Map order is recency order
    else rules = this.fetchRules(url.origin);
    this.byOrigin.set(url.origin, rules);
    if (this.byOrigin.size > this.maxOrigins) this.byOrigin.delete(this.byOrigin.keys().next().value!);
    const r = await rules;
    if (r.unavailable) return { allowed: false, ...r.unavailable };
    return r.isAllowed(url.href) ? { allowed: true } : { allowed: false, reason: 'robots' };
  }

  private async fetchRules(origin: string): Promise<Rules> {
    const robotsUrl = `${origin}/robots.txt`;
    const res = await this.load(robotsUrl);
    if (res.status !== undefined && res.status >= 200 && res.status < 300) {
      const robot = robotsParser(robotsUrl, res.body ?? '');
      return { isAllowed: (u) => robot.isAllowed(u, this.token) !== false };
    }
    if (res.status !== undefined && res.status >= 400 && res.status < 500) return { isAllowed: () => true };
    const unavailable =
      res.status !== undefined
        ? { reason: 'robots_unavailable' as const, detail: `robots.txt http_${res.status}` }
        : { reason: res.reason ?? 'network', detail: `robots.txt ${res.reason ?? 'unreachable'}` };
    return { isAllowed: () => false, unavailable };
  }
}
