// robots.txt per origin: fetched once (concurrent callers share the one request), parsed with robots-parser, and
// matched with our user agent. 2xx → its rules; 4xx → allow all (no robots.txt); 5xx or unreachable → disallow all,
// as Google does (the host is not answering for its rules, so we do not assume consent).
import robotsParserModule from 'robots-parser';

interface Robot {
  isAllowed(url: string, ua?: string): boolean | undefined;
}
// robots-parser is CommonJS with a typing that NodeNext does not see as callable.
const robotsParser = robotsParserModule as unknown as (url: string, body: string) => Robot;

export type RobotsVerdict = { allowed: true } | { allowed: false; reason: 'robots' | 'robots_unavailable'; detail?: string };

interface Rules {
  isAllowed(url: string): boolean;
  unavailable?: string;
}

/** Fetches `/robots.txt` of an origin; `undefined` status means no answer at all (network error, timeout). */
export type RobotsLoader = (url: string) => Promise<{ status?: number; body?: string; detail?: string }>;

export class RobotsCache {
  private readonly byOrigin = new Map<string, Promise<Rules>>();
  constructor(private readonly userAgent: string, private readonly load: RobotsLoader) {}

  /** Product token of the user agent ("pros" of "pros/0.1.0 (...)"), which robots.txt groups name. */
  private get token(): string {
    return this.userAgent.split(/[\s/]/)[0] || this.userAgent;
  }

  async check(url: URL): Promise<RobotsVerdict> {
    let rules = this.byOrigin.get(url.origin);
    if (!rules) this.byOrigin.set(url.origin, (rules = this.fetchRules(url.origin)));
    const r = await rules;
    if (r.unavailable) return { allowed: false, reason: 'robots_unavailable', detail: r.unavailable };
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
    const why = res.status !== undefined ? `robots.txt http_${res.status}` : `robots.txt ${res.detail ?? 'unreachable'}`;
    return { isAllowed: () => false, unavailable: why };
  }
}
