// Issue 10, item 3: a dead host costs one lookup for all its URLs. The fetcher's resolver (cacheable-lookup over
// c-ares) shares one in-flight query among concurrent URLs of a host and remembers "no such host" (negative cache);
// asked of a real DNS server on loopback that answers NXDOMAIN and counts the questions.
import test from 'ava';
import { lookup, promises as dnsPromises } from 'node:dns';
import { HostResolver } from '../../retrieval/fetch/resolver.ts';
import { startDeadDns } from '../helpers/dns-server.ts';

test('a dead host costs one query for all of its URLs, at once and later; each dead host costs its own', async (t) => {
  const dns = await startDeadDns();
  t.teardown(() => dns.close());
  const resolver = new dnsPromises.Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([dns.server]);
  // The getaddrinfo fallback cacheable-lookup tries after an empty c-ares answer: counted too, per name.
  const fallbacks = new Map<string, number>();
  const countingLookup = ((host: string, ...rest: unknown[]) => {
    fallbacks.set(host, (fallbacks.get(host) ?? 0) + 1);
    return (lookup as (...a: unknown[]) => void)(host, ...rest);
  }) as typeof lookup;
  const hosts = new HostResolver({ allowPrivate: false, dns: { resolver, lookup: countingLookup } });

  const first = await Promise.all(Array.from({ length: 50 }, () => hosts.resolve('gone.invalid')));
  t.true(first.every((r) => !r.ok && r.reason === 'dns'));
  const later = await Promise.all(Array.from({ length: 50 }, () => hosts.resolve('gone.invalid')));
  t.true(later.every((r) => !r.ok && r.reason === 'dns'));
  await Promise.all(Array.from({ length: 10 }, () => hosts.resolve('also-gone.invalid')));

  // One A and one AAAA question per host name, whatever the number of URLs.
  t.is(dns.queries.get('gone.invalid'), 2);
  t.is(dns.queries.get('also-gone.invalid'), 2);
  // getaddrinfo's fallback: at most once per family per host, never per URL.
  t.true((fallbacks.get('gone.invalid') ?? 0) <= 2, `fallbacks ${fallbacks.get('gone.invalid')}`);
});
