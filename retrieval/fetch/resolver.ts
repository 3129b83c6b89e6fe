// Where the crawler may connect: a host name resolved once (cacheable-lookup: c-ares with a TTL cache and a short
// negative cache, so a host's many URLs cost one lookup), every address classified with ipaddr.js, and only public
// unicast addresses let through unless fetch.allowPrivate (or fetch.allowAddresses names the range). The request then
// connects to exactly the addresses that were checked (the `lookup` handed to the socket), so a DNS answer that
// changes between check and connect (rebinding) has nothing to change. Pages, images, robots.txt and every redirect
// hop go through `resolve` (retrieval/fetch/fetcher.ts).
import CacheableLookup from 'cacheable-lookup';
import ipaddr from 'ipaddr.js';
import { isIP, type LookupFunction } from 'node:net';
import type { lookup as dnsLookup, promises as dnsPromises } from 'node:dns';
import { ConfigError } from '../../src/config.ts';

export interface Address {
  address: string;
  family: 4 | 6;
}

export type Resolution =
  | { ok: true; addresses: Address[]; lookup: LookupFunction }
  | { ok: false; reason: 'private_address' | 'dns'; detail: string };

export interface ResolverOptions {
  /** Let every address through (loopback, private, link-local...): for crawling one's own machine or intranet. */
  allowPrivate: boolean;
  /** CIDR ranges let through even when not public (e.g. an intranet gallery at 10.1.2.0/24). */
  allowAddresses?: readonly string[];
  /** Longest time a DNS answer is kept, seconds (the record's TTL when shorter). */
  maxTtlS?: number;
  /** How long "no such host" is remembered, seconds. */
  errorTtlS?: number;
  /** The c-ares resolver to ask (default: Node's, with the system's servers); tests and the bench point it elsewhere. */
  dns?: { resolver?: dnsPromises.Resolver; lookup?: typeof dnsLookup };
}

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

/** ipaddr.js's name for the range an address is in; IPv4-mapped IPv6 (::ffff:a.b.c.d) is classified as its IPv4. */
export function addressRange(ip: string): string {
  let a: Parsed;
  try {
    a = ipaddr.parse(ip);
  } catch {
    return 'invalid';
  }
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
  return a.range();
}

/**
 * True only for public unicast addresses. Everything else is refused: loopback, private (RFC 1918), unique-local,
 * link-local (169.254.169.254, cloud metadata), carrier-grade NAT, multicast, broadcast, unspecified, reserved and
 * documentation ranges, and the IPv6 forms that embed an IPv4 address (NAT64, 6to4, Teredo).
 */
export function isPublicAddress(ip: string): boolean {
  return addressRange(ip) === 'unicast';
}

/** Parses fetch.allowAddresses ("10.1.2.0/24", "fd00::/8", or one address); a bad entry is a ConfigError. */
export function parseCidrs(list: readonly string[]): Array<[Parsed, number]> {
  return list.map((text) => {
    try {
      if (text.includes('/')) return ipaddr.parseCIDR(text);
      if (!isIP(text)) throw new Error('not an address');
      const a = ipaddr.parse(text);
      return [a, a.kind() === 'ipv4' ? 32 : 128] as [Parsed, number];
    } catch {
      throw new ConfigError(`config fetch.allowAddresses: not an IP address or CIDR range: "${String(text).slice(0, 60)}"`);
    }
  });
}

function inRanges(ip: string, ranges: Array<[Parsed, number]>): boolean {
  let a: Parsed = ipaddr.parse(ip);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
  return ranges.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits));
}

/** A `lookup` for net.connect that answers with the given (already checked) addresses and never asks DNS. */
function fixedLookup(addresses: Address[]): LookupFunction {
  return ((_hostname: string, options: { all?: boolean; family?: number }, callback: (...args: unknown[]) => void) => {
    const wanted = options?.family === 4 || options?.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    const list = wanted.length ? wanted : addresses;
    if (options?.all) callback(null, list.map((a) => ({ address: a.address, family: a.family })));
    else callback(null, list[0]!.address, list[0]!.family);
  }) as unknown as LookupFunction;
}

// How long a name that did not resolve stays dead. cacheable-lookup's 0.15 s default (and the 5 s used before) let a
// dead host's later URLs look it up again whenever they come more than that apart, and each lookup of a dead name
// can cost seconds (c-ares, then getaddrinfo on libuv's 4-thread pool): 1,000 URLs on 100 dead hosts took 258 s
// against 15 s for their 100 names alone. A crawl does not wait for a dead host to come back within minutes.
export const DEAD_HOST_TTL_S = 600;

export class HostResolver {
  private readonly dns: CacheableLookup;
  private readonly allowed: Array<[Parsed, number]>;

  constructor(private readonly opts: ResolverOptions) {
    this.dns = new CacheableLookup({ maxTtl: opts.maxTtlS ?? 300, errorTtl: opts.errorTtlS ?? DEAD_HOST_TTL_S, resolver: opts.dns?.resolver, lookup: opts.dns?.lookup });
    this.allowed = parseCidrs(opts.allowAddresses ?? []);
  }

  /** Why an address may not be fetched, or undefined when it may. */
  refusal(ip: string): string | undefined {
    if (this.opts.allowPrivate) return undefined;
    const range = addressRange(ip);
    if (range === 'unicast' || (range !== 'invalid' && inRanges(ip, this.allowed))) return undefined;
    return range;
  }

  /** The addresses to connect to for a URL's hostname (`url.hostname`: IPv6 literals in brackets), or why none. */
  async resolve(hostname: string): Promise<Resolution> {
    const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
    let addresses: Address[];
    const literal = isIP(host);
    if (literal) {
      addresses = [{ address: host, family: literal === 4 ? 4 : 6 }];
    } else {
      try {
        const entries = await this.dns.lookupAsync(host, { all: true });
        addresses = entries.map((e) => ({ address: e.address, family: e.family === 6 ? 6 : 4 }));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return { ok: false, reason: 'dns', detail: `${host}: ${code ?? (err as Error).message}` };
      }
      if (addresses.length === 0) return { ok: false, reason: 'dns', detail: `${host}: no address` };
    }
    // A name with one private address among public ones is refused too: which one a client connects to is not ours
    // to guess, and a public site has no reason to publish an internal address.
    for (const a of addresses) {
      const why = this.refusal(a.address);
      if (why !== undefined) {
        const shown = a.address === host ? host : `${host} → ${a.address}`;
        return { ok: false, reason: 'private_address', detail: `${shown} (${why})` };
      }
    }
    return { ok: true, addresses, lookup: fixedLookup(addresses) };
  }
}
